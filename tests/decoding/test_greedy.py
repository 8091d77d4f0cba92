"""Greedy search, and the length rules every strategy shares, against deterministic fakes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from assistant.core.constants import EOS_ID, PAD_ID
from assistant.decoding import beam_search, greedy_search, sample
from tests.decoding.fakes import MODES, A, B, PrefixLM, row_tokens, run, spelling_inputs


@pytest.mark.parametrize("mode", MODES)
def test_greedy_spells_the_script_and_pads_after_the_end(mode):
    sequences = [[A, B, EOS_ID, A, A], [B, EOS_ID, B, B, B], [A, A, A, A, A]]
    step, state, constants, start = spelling_inputs(sequences, vocab=5, steps=5)
    result = run(mode, greedy_search, step, state, constants, start, EOS_ID, 5)

    np.testing.assert_array_equal(
        result.tokens[:, 0],
        [[A, B, EOS_ID, PAD_ID, PAD_ID], [B, EOS_ID, PAD_ID, PAD_ID, PAD_ID], [A, A, A, A, EOS_ID]],
    )
    np.testing.assert_array_equal(result.lengths, [[3], [2], [5]])
    assert result.attention is None
    one = 3.0 - np.log(np.exp(3.0) + 4.0)  # log-prob of the spelled token
    forced = -np.log(np.exp(3.0) + 4.0)  # of the end token forced at the last step
    np.testing.assert_allclose(result.token_log_probs[0, 0], [one, one, one, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(result.token_log_probs[2, 0, 4], forced, rtol=1e-5)
    np.testing.assert_allclose(
        result.log_probs[:, 0], [3 * one, 2 * one, 4 * one + forced], rtol=1e-5
    )
    np.testing.assert_array_equal(result.scores, result.log_probs)


def test_greedy_respects_per_row_max_lengths_like_one_row_at_a_time():
    lm = PrefixLM(vocab=6, steps=5, seed=1, end_bias=-4.0)  # rarely ends by itself
    salts, limits = [0, 11, 23], [2, 5, 3]
    state, constants, start = lm.inputs(salts)
    batch = greedy_search(lm.step, state, constants, start, EOS_ID, 5, tf.constant(limits))

    for row, (salt, limit) in enumerate(zip(salts, limits, strict=True)):
        alone = greedy_search(
            lm.step, *lm.inputs([salt]), EOS_ID, 5, max_lengths=tf.constant([limit])
        )
        np.testing.assert_array_equal(batch.tokens[row], alone.tokens[0])
        np.testing.assert_allclose(batch.log_probs[row], alone.log_probs[0], rtol=1e-6)
        tokens = row_tokens(batch, row)
        assert len(tokens) <= limit and tokens[-1] == EOS_ID
        expected = [int(np.argmax(lm.log_probs(tokens[:i], salt))) for i in range(len(tokens) - 1)]
        assert list(tokens[:-1]) == expected
        np.testing.assert_allclose(
            batch.log_probs[row, 0], lm.sequence_log_prob(tokens, salt), rtol=1e-5
        )
    np.testing.assert_array_equal(batch.lengths[:, 0], limits)  # end_bias: all hit the limit


def test_min_length_masks_the_end_token_in_every_strategy():
    lm = PrefixLM(vocab=6, steps=5, seed=2, end_bias=6.0)  # ends at once unless masked
    inputs = (lm.step, *lm.inputs([0, 5]), EOS_ID, 5)
    assert greedy_search(*inputs).lengths.numpy().tolist() == [[1], [1]]
    results = [
        greedy_search(*inputs, min_length=2),
        beam_search(*inputs, beam_width=3, n_best=3, min_length=2),
        sample(*inputs, seed=3, min_length=2),
    ]
    for result in results:
        for row in range(2):
            for rank in range(result.tokens.shape[1]):
                tokens = row_tokens(result, row, rank)
                assert len(tokens) >= 3 and EOS_ID not in tokens[:2]


def test_the_length_limit_wins_over_min_length():
    lm = PrefixLM(vocab=5, steps=4, seed=3)
    inputs = (lm.step, *lm.inputs([0]), EOS_ID, 4)
    for result in (
        greedy_search(*inputs, max_lengths=tf.constant([2]), min_length=3),
        beam_search(*inputs, beam_width=2, max_lengths=tf.constant([2]), min_length=3),
    ):
        assert result.lengths.numpy().tolist() == [[2]]
        assert row_tokens(result, 0)[-1] == EOS_ID
        assert np.isfinite(result.scores.numpy()).all()
