"""Beam search against the fakes of `tests.decoding.fakes`, and tiling to the beam."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.constants import BOS_ID, EOS_ID, PAD_ID
from assistant.decoding import beam_search, greedy_search, tile_to_beam
from tests.decoding.fakes import MODES, A, B, PrefixLM, gnmt, row_tokens, run


@pytest.mark.parametrize("mode", MODES)
def test_beam_search_finds_what_greedy_misses(mode):
    lm = PrefixLM(vocab=5, steps=3)
    lm.set_probs((), {A: 0.5, B: 0.4, EOS_ID: 0.02})
    lm.set_probs((A,), {EOS_ID: 0.35, A: 0.3, B: 0.25})
    lm.set_probs((B,), {EOS_ID: 0.9})
    inputs = (lm.step, *lm.inputs([0]), EOS_ID, 3)

    greedy = run(mode, greedy_search, *inputs)
    beam = run(mode, beam_search, *inputs, beam_width=2, n_best=2)

    assert row_tokens(greedy, 0) == (A, EOS_ID)
    np.testing.assert_array_equal(beam.tokens[0], [[B, EOS_ID, PAD_ID], [A, EOS_ID, PAD_ID]])
    np.testing.assert_array_equal(beam.lengths, [[2, 2]])
    np.testing.assert_allclose(beam.scores[0], np.log([0.4 * 0.9, 0.5 * 0.35]), rtol=1e-5)
    np.testing.assert_allclose(beam.log_probs, beam.scores, rtol=1e-6)
    np.testing.assert_allclose(beam.token_log_probs[0, 0], np.log([0.4, 0.9, 1.0]), atol=1e-5)


def test_length_penalty_reorders_as_gnmt_says():
    lm = PrefixLM(vocab=5, steps=2)
    lm.set_probs((), {EOS_ID: 0.4, A: 0.55})
    lm.set_probs((A,), {EOS_ID: 0.7})
    inputs = (lm.step, *lm.inputs([0]), EOS_ID, 2)
    short, long = (EOS_ID,), (A, EOS_ID)

    for alpha, best in ((0.0, short), (1.0, long)):
        result = beam_search(*inputs, beam_width=2, length_penalty=alpha, n_best=2)
        ranked = [row_tokens(result, 0, rank) for rank in range(2)]
        assert ranked == [best, long if best == short else short]
        expected = [lm.sequence_log_prob(y) / gnmt(len(y), alpha) for y in ranked]
        np.testing.assert_allclose(result.scores[0], expected, rtol=1e-5)
        np.testing.assert_allclose(
            result.log_probs[0], [lm.sequence_log_prob(y) for y in ranked], rtol=1e-5
        )


def test_early_stopping_ends_a_settled_row_and_returns_what_the_full_search_does():
    # The end token (0.9) beats A (0.05): even if A's continuations had probability 1, A
    # could never score above log(0.05) / lp(3) < log(0.9), so the row is settled at once.
    lm = PrefixLM(vocab=5, steps=3)
    lm.set_probs((), {EOS_ID: 0.9, A: 0.05})
    steps = []

    def counted(tokens, state, constants):
        steps.append(1)  # eager: the loop runs the Python body at every step
        return lm.step(tokens, state, constants)

    results = {}
    for early in (True, False):
        steps.clear()
        results[early] = beam_search(counted, *lm.inputs([0]), EOS_ID, 3, beam_width=2,
                                     length_penalty=1.0, early_stopping=early)
        results[early, "steps"] = len(steps)
    for field in ("tokens", "lengths", "scores", "token_log_probs"):
        np.testing.assert_array_equal(getattr(results[True], field),
                                      getattr(results[False], field))
    assert row_tokens(results[True], 0) == (EOS_ID,)
    assert (results[True, "steps"], results[False, "steps"]) == (1, 3)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), beam_width=st.integers(1, 4), n_best=st.integers(1, 4),
       alpha=st.sampled_from([0.0, 1.0]))
def test_early_stopping_never_changes_the_n_best(seed, beam_width, n_best, alpha):
    lm = PrefixLM(vocab=6, steps=5, seed=seed)
    n_best = min(n_best, beam_width)
    inputs = (lm.step, *lm.inputs([0, 3, 7]), EOS_ID, 5)
    limits = tf.constant([5, 2, 4])
    early, full = (beam_search(*inputs, beam_width, alpha, n_best=n_best, max_lengths=limits,
                               early_stopping=flag) for flag in (True, False))
    for field in ("tokens", "lengths", "scores", "log_probs", "token_log_probs"):
        np.testing.assert_allclose(getattr(early, field), getattr(full, field), rtol=1e-6)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    alpha=st.sampled_from([0.0, 0.6, 2.0]),
    limit=st.integers(1, 3),
    min_length=st.integers(0, 2),
)
def test_exhaustive_beam_search_equals_brute_force(seed, alpha, limit, min_length):
    # vocab 5, 3 steps: at most 1 + 4 + 16 = 21 hypotheses, so a beam of 21 prunes nothing.
    lm = PrefixLM(vocab=5, steps=3, seed=seed)
    salts = [0, 17]
    result = beam_search(
        lm.step,
        *lm.inputs(salts),
        EOS_ID,
        3,
        beam_width=21,
        length_penalty=alpha,
        n_best=5,
        max_lengths=tf.constant([limit, 3]),
        min_length=min_length,
        early_stopping=False,  # the exhaustive search: every hypothesis runs to its end
    )
    for row, (salt, row_limit) in enumerate(zip(salts, [limit, 3], strict=True)):
        expected = lm.brute_force(salt, row_limit, min_length, alpha)
        n = min(5, len(expected))
        np.testing.assert_allclose(
            result.scores[row, :n], [score for _, _, score in expected[:n]], rtol=1e-4
        )
        assert (result.scores[row, n:] == -np.inf).numpy().all()
        by_tokens = {tokens: score for tokens, _, score in expected}
        for rank in range(n):
            tokens = row_tokens(result, row, rank)
            np.testing.assert_allclose(by_tokens[tokens], result.scores[row, rank], rtol=1e-4)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    beam_width=st.integers(1, 4),
    alpha=st.sampled_from([0.0, 1.0]),
    early_stopping=st.booleans(),
)
def test_beam_hypotheses_are_sorted_distinct_and_scored_right(seed, beam_width, alpha,
                                                             early_stopping):
    lm = PrefixLM(vocab=6, steps=4, seed=seed)
    salts = [0, 3]
    result = beam_search(lm.step, *lm.inputs(salts), EOS_ID, 4, beam_width, alpha,
                         n_best=beam_width, early_stopping=early_stopping)
    for row, salt in enumerate(salts):
        scores = result.scores[row].numpy()
        assert np.isfinite(scores).all() and (np.diff(scores) <= 0).all()
        hypotheses = [row_tokens(result, row, rank) for rank in range(beam_width)]
        assert len(set(hypotheses)) == beam_width
        for rank, tokens in enumerate(hypotheses):
            assert tokens[-1] == EOS_ID and EOS_ID not in tokens[:-1]
            log_prob = lm.sequence_log_prob(tokens, salt)
            np.testing.assert_allclose(result.log_probs[row, rank], log_prob, rtol=1e-5)
            np.testing.assert_allclose(
                result.scores[row, rank], log_prob / gnmt(len(tokens), alpha), rtol=1e-5
            )
            np.testing.assert_allclose(
                result.token_log_probs[row, rank].numpy().sum(), log_prob, rtol=1e-5
            )


def test_beam_width_one_equals_greedy():
    lm = PrefixLM(vocab=6, steps=5, seed=4)
    inputs = (lm.step, *lm.inputs([0, 9, 30]), EOS_ID, 5)
    limits = tf.constant([5, 2, 4])
    greedy = greedy_search(*inputs, max_lengths=limits)
    beam = beam_search(*inputs, beam_width=1, max_lengths=limits)
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)
    np.testing.assert_array_equal(beam.lengths, greedy.lengths)
    np.testing.assert_allclose(beam.log_probs, greedy.log_probs, rtol=1e-5)
    np.testing.assert_allclose(beam.attention, greedy.attention)


def test_beam_batch_equals_one_row_at_a_time():
    lm = PrefixLM(vocab=6, steps=4, seed=5)
    salts, limits = [0, 8, 21], [4, 2, 3]
    batch = beam_search(
        lm.step, *lm.inputs(salts), EOS_ID, 4, 3, 0.6, n_best=2, max_lengths=tf.constant(limits)
    )
    for row, (salt, limit) in enumerate(zip(salts, limits, strict=True)):
        alone = beam_search(
            lm.step,
            *lm.inputs([salt]),
            EOS_ID,
            4,
            3,
            0.6,
            n_best=2,
            max_lengths=tf.constant([limit]),
        )
        np.testing.assert_array_equal(batch.tokens[row], alone.tokens[0])
        np.testing.assert_allclose(batch.scores[row], alone.scores[0], rtol=1e-6)
        np.testing.assert_allclose(batch.attention[row], alone.attention[0])
        assert (batch.lengths[row] <= limit).numpy().all()


@pytest.mark.parametrize("mode", MODES)
def test_beam_attention_follows_the_backpointers(mode):
    lm = PrefixLM(vocab=5, steps=4, seed=6)
    result = run(mode, beam_search, lm.step, *lm.inputs([0, 2]), EOS_ID, 4, 3, n_best=3)
    assert result.attention.shape == (2, 3, 4, 3)
    for row, rank in itertools.product(range(2), range(3)):
        tokens = row_tokens(result, row, rank)
        expected = np.zeros((4, 3), np.float32)
        for t in range(len(tokens)):
            previous = tokens[t - 1] if t else BOS_ID
            expected[t] = [lm.code(tokens[:t]), t, previous]
        np.testing.assert_array_equal(result.attention[row, rank], expected)


def test_tile_to_beam_repeats_each_row_beam_width_times():
    nest = {"h": tf.constant([[1, 2], [3, 4]]), "mask": (tf.constant([True, False]), None)}
    tiled = tile_to_beam(nest, 3)
    np.testing.assert_array_equal(tiled["h"], [[1, 2]] * 3 + [[3, 4]] * 3)
    np.testing.assert_array_equal(tiled["mask"][0], [True] * 3 + [False] * 3)
    assert tiled["mask"][1] is None
    assert tile_to_beam(None, 3) is None
