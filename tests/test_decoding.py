"""Decoding strategies against deterministic fake step functions.

Two fakes: `spelling_inputs` gives one-hot logits that spell known sequences (the step count
lives in the state), and `PrefixLM` gives every prefix its own seeded distribution, so its
sequence probabilities can be enumerated by brute force and its state must follow the beam.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assistant.core.constants import BOS_ID, EOS_ID, PAD_ID
from assistant.decoding import (
    DecodingOptions,
    beam_search,
    decode,
    greedy_search,
    sample,
    tile_to_beam,
)
from assistant.decoding.sampling import _draw_filtered

MODES = ("eager", "function", "xla")
A, B = 4, 1  # two ordinary tokens of the fakes' vocabularies


def run(mode: str, fn, *args, **kwargs):
    """Calls `fn` eagerly, in a `tf.function`, or in an XLA-compiled `tf.function`."""
    if mode == "eager":
        return fn(*args, **kwargs)
    return tf.function(lambda: fn(*args, **kwargs), jit_compile=mode == "xla")()


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def gnmt(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def spelling_inputs(sequences: list[list[int]], vocab: int, steps: int, scale: float = 3.0):
    """One-hot logits spelling `sequences` (one per row); no attention."""
    script = np.zeros((len(sequences), steps, vocab), np.float32)
    for row, sequence in enumerate(sequences):
        script[row, np.arange(len(sequence)), sequence] = scale

    def step(tokens, state, constants):
        logits = tf.gather(constants["script"], state["t"], batch_dims=1)  # (rows, vocab)
        return logits, {"t": state["t"] + 1}, None

    batch = len(sequences)
    state = {"t": tf.zeros((batch,), tf.int32)}
    return step, state, {"script": tf.constant(script)}, tf.fill((batch,), BOS_ID)


class PrefixLM:
    """logits = table[code(prefix) + salt]: every prefix has its own seeded distribution.

    The state carries the prefix code (BOS, y_1, ... in base `vocab`), so a beam search that
    reordered it wrongly would score the wrong prefixes. The attention of a step is
    [prefix code, step, previous token].
    """

    def __init__(self, vocab: int, steps: int, seed: int = 0, end_bias: float = 0.0) -> None:
        self.vocab = vocab
        self.size = vocab**steps
        rng = np.random.default_rng(seed)
        self.table = (2.0 * rng.normal(size=(self.size, vocab))).astype(np.float32)
        self.table[:, EOS_ID] += end_bias

    def code(self, prefix) -> int:
        code = BOS_ID
        for token in prefix:
            code = code * self.vocab + int(token)
        return code

    def set_probs(self, prefix, probs: dict[int, float]) -> None:
        """Gives `prefix` these next-token probabilities, the rest spread evenly."""
        rest = (1.0 - sum(probs.values())) / (self.vocab - len(probs))
        row = np.full(self.vocab, rest)
        for token, p in probs.items():
            row[token] = p
        self.table[self.code(prefix)] = np.log(row)

    def log_probs(self, prefix, salt: int = 0) -> np.ndarray:
        return log_softmax(self.table[(self.code(prefix) + salt) % self.size])

    def sequence_log_prob(self, tokens, salt: int = 0) -> float:
        return sum(self.log_probs(tokens[:i], salt)[t] for i, t in enumerate(tokens))

    def step(self, tokens, state, constants):
        code = state["code"] * self.vocab + tokens
        logits = tf.gather(tf.constant(self.table), (code + constants["salt"]) % self.size)
        attention = tf.cast(tf.stack([code, state["t"], tokens], axis=-1), tf.float32)
        return logits, {"code": code, "t": state["t"] + 1}, attention

    def inputs(self, salts):
        batch = len(salts)
        state = {"code": tf.zeros((batch,), tf.int32), "t": tf.zeros((batch,), tf.int32)}
        return state, {"salt": tf.constant(salts, tf.int32)}, tf.fill((batch,), BOS_ID)

    def brute_force(self, salt=0, limit=3, min_length=0, alpha=0.0):
        """Every sequence the length rules allow, as (tokens, log_prob, score), best first."""
        found = []

        def extend(prefix, log_prob):
            forced = len(prefix) + 1 >= limit
            for token, lp in enumerate(self.log_probs(prefix, salt)):
                if (forced and token != EOS_ID) or (
                    token == EOS_ID and len(prefix) < min_length and not forced
                ):
                    continue
                if token == EOS_ID:
                    n = len(prefix) + 1
                    found.append(
                        ((*prefix, token), log_prob + lp, (log_prob + lp) / gnmt(n, alpha))
                    )
                else:
                    extend((*prefix, token), log_prob + lp)

        extend((), 0.0)
        return sorted(found, key=lambda item: -item[2])


def row_tokens(result, row: int, rank: int = 0) -> tuple[int, ...]:
    length = int(result.lengths[row, rank])
    return tuple(int(t) for t in result.tokens[row, rank, :length])


# Greedy search


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


# Beam search


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
)
def test_beam_hypotheses_are_sorted_distinct_and_scored_right(seed, beam_width, alpha):
    lm = PrefixLM(vocab=6, steps=4, seed=seed)
    salts = [0, 3]
    result = beam_search(
        lm.step, *lm.inputs(salts), EOS_ID, 4, beam_width, alpha, n_best=beam_width
    )
    for row, salt in enumerate(salts):
        scores = result.scores[row].numpy()
        assert (np.diff(scores) <= 0).all()
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


# Sampling


def test_near_zero_temperature_top_k_one_and_tiny_top_p_equal_greedy():
    lm = PrefixLM(vocab=8, steps=5, seed=7)
    inputs = (lm.step, *lm.inputs([0, 4, 12, 40]), EOS_ID, 5)
    limits = tf.constant([5, 3, 4, 5])
    greedy = greedy_search(*inputs, max_lengths=limits)
    for options in ({"temperature": 1e-6}, {"temperature": 0.0}, {"top_k": 1}, {"top_p": 1e-6}):
        sampled = sample(*inputs, seed=11, max_lengths=limits, **options)
        np.testing.assert_array_equal(sampled.tokens, greedy.tokens, err_msg=str(options))
        np.testing.assert_allclose(sampled.log_probs, greedy.log_probs, rtol=1e-6)


def test_sampling_is_reproducible_by_seed_and_varies_across_seeds():
    lm = PrefixLM(vocab=8, steps=6, seed=8, end_bias=-2.0)
    inputs = (lm.step, *lm.inputs([0, 1, 2, 3]), EOS_ID, 6)
    first = sample(*inputs, seed=5).tokens.numpy()
    np.testing.assert_array_equal(sample(*inputs, seed=5).tokens, first)
    assert any(not np.array_equal(sample(*inputs, seed=s).tokens, first) for s in (6, 7, 8))


def test_sampled_tokens_stay_in_the_top_k_and_carry_model_log_probs():
    lm = PrefixLM(vocab=8, steps=6, seed=9, end_bias=-3.0)
    salts = list(range(8))
    result = sample(lm.step, *lm.inputs(salts), EOS_ID, 6, temperature=2.0, top_k=2, seed=1)
    for row, salt in enumerate(salts):
        tokens = row_tokens(result, row)
        for i, token in enumerate(tokens[:-1]):  # the last one may be a forced end token
            assert token in np.argsort(-lm.log_probs(tokens[:i], salt))[:2]
        np.testing.assert_allclose(
            result.log_probs[row, 0], lm.sequence_log_prob(tokens, salt), rtol=1e-5
        )


def test_sampling_is_the_same_in_every_mode_and_with_tensor_options():
    lm = PrefixLM(vocab=8, steps=6, seed=10, end_bias=-2.0)
    inputs = (lm.step, *lm.inputs([0, 1, 2]), EOS_ID, 6)
    options = {"temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 3, "min_length": 1}
    eager = sample(*inputs, **options)
    for mode in ("function", "xla"):
        np.testing.assert_array_equal(run(mode, sample, *inputs, **options).tokens, eager.tokens)
    as_tensors = {name: tf.constant(value) for name, value in options.items()}
    np.testing.assert_array_equal(run("xla", sample, *inputs, **as_tensors).tokens, eager.tokens)


def reference_draws(logits: np.ndarray, top_k: int, top_p: float, uniforms: np.ndarray):
    """Top-k, top-p and an inverse-CDF draw by a full sort in float64.

    Returns:
        The drawn token of every row, and the smallest distance of any cumulative mass to
        the nucleus boundary or to u (where float32 rounding could decide differently).
    """
    tokens, margin = [], np.inf
    for values, u in zip(logits.astype(np.float64), uniforms, strict=True):
        order = np.argsort(-values, kind="stable")[: top_k or len(values)]
        probs = np.exp(values[order] - values[order].max())
        probs /= probs.sum()
        mass_before = np.cumsum(probs) - probs
        n = int(np.sum(mass_before < top_p)) if top_p < 1 else len(order)
        if top_p < 1:
            margin = min(margin, np.abs(mass_before - top_p).min())
        cdf = np.cumsum(probs[:n]) / probs[:n].sum()
        margin = min(margin, np.abs(cdf - u).min())
        tokens.append(order[min(int(np.sum(cdf < u)), n - 1)])
    return np.array(tokens), margin


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    vocab=st.sampled_from([8, 100, 300]),
    scale=st.sampled_from([0.1, 1.0, 5.0]),
    top_k=st.sampled_from([0, 1, 5, 70, 1000]),
    top_p=st.sampled_from([1.0, 0.5, 0.9, 0.999]),
)
def test_top_k_top_p_draws_match_a_sorting_reference(seed, vocab, scale, top_k, top_p):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.normal(size=(4, vocab))).astype(np.float32)
    uniforms = rng.uniform(0.01, 1.0, size=4).astype(np.float32)
    expected, margin = reference_draws(logits, top_k, top_p, uniforms)
    assume(margin > 1e-4)  # nothing sits on a boundary up to float32 rounding
    for k, p in ((top_k, top_p), (tf.constant(top_k), tf.constant(top_p))):
        drawn = _draw_filtered(tf.constant(logits), k, p, tf.constant(uniforms))
        np.testing.assert_array_equal(drawn, expected)


def test_a_nucleus_wider_than_the_candidates_ranks_everything_under_xla():
    rng = np.random.default_rng(0)
    flat, peaked = 0.05 * rng.normal(size=(2, 300)), 8.0 * rng.normal(size=(2, 300))
    logits = np.concatenate([peaked, flat]).astype(np.float32)
    uniforms = np.array([0.3, 0.97, 0.5, 0.999], np.float32)
    expected, margin = reference_draws(logits, 0, 0.95, uniforms)
    assert margin > 1e-4
    drawn = tf.function(_draw_filtered, jit_compile=True)(
        tf.constant(logits), tf.constant(0), tf.constant(0.95), tf.constant(uniforms)
    )
    np.testing.assert_array_equal(drawn, expected)
    assert expected[3] not in np.argsort(-logits[3])[:64]  # only the full ranking holds it


# Tracing, the factory, validation


def test_one_xla_trace_serves_repeated_calls_of_the_same_shape():
    lm = PrefixLM(vocab=6, steps=4, seed=11)
    traces = []

    @tf.function(jit_compile=True)
    def decode_all(salt, limits, seed):
        traces.append(1)
        state = {"code": tf.zeros((2,), tf.int32), "t": tf.zeros((2,), tf.int32)}
        inputs = (lm.step, state, {"salt": salt}, tf.fill((2,), BOS_ID), EOS_ID, 4)
        greedy = greedy_search(*inputs, max_lengths=limits)
        beam = beam_search(*inputs, beam_width=3, length_penalty=0.6, max_lengths=limits)
        sampled = sample(*inputs, seed=seed, top_p=0.9, max_lengths=limits)
        return greedy.tokens, beam.tokens, sampled.tokens

    for salt in ([0, 1], [5, 9], [2, 2]):
        compiled = decode_all(tf.constant(salt), tf.constant([4, 3]), tf.constant(salt[0]))
        state, constants, start = lm.inputs(salt)
        limits = tf.constant([4, 3])
        np.testing.assert_array_equal(
            compiled[1],
            beam_search(
                lm.step, state, constants, start, EOS_ID, 4, 3, 0.6, max_lengths=limits
            ).tokens,
        )
    assert len(traces) == 1


@pytest.mark.parametrize("jit_compile", [False, True])
def test_an_unknown_batch_size_and_tensor_options_trace_once(jit_compile):
    # As an exported graph sees them: (None,) batch, every option a scalar tensor input.
    lm = PrefixLM(vocab=6, steps=4, seed=13)
    scalar, integer = tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32)

    @tf.function(
        jit_compile=jit_compile,
        input_signature=[tf.TensorSpec((None,), tf.int32), scalar, integer, scalar, integer],
    )
    def decode_all(salt, alpha, top_k, top_p, min_length):
        state = {"code": tf.zeros_like(salt), "t": tf.zeros_like(salt)}
        inputs = (lm.step, state, {"salt": salt}, tf.fill(tf.shape(salt), BOS_ID), EOS_ID, 4)
        limits = {"max_lengths": tf.fill(tf.shape(salt), 3), "min_length": min_length}
        return (
            greedy_search(*inputs, **limits),
            beam_search(*inputs, 3, alpha, n_best=2, **limits),
            sample(*inputs, tf.constant(0.7), top_k, top_p, tf.constant(2), **limits),
        )

    for salts in ([0, 5], [1, 2, 3]):
        inputs = (lm.step, *lm.inputs(salts), EOS_ID, 4)
        limits = {"max_lengths": tf.fill((len(salts),), 3), "min_length": 1}
        compiled = decode_all(tf.constant(salts), 0.6, 3, 0.9, 1)
        expected = (
            greedy_search(*inputs, **limits),
            beam_search(*inputs, 3, 0.6, n_best=2, **limits),
            sample(*inputs, 0.7, 3, 0.9, 2, **limits),
        )
        for got, want in zip(compiled, expected, strict=True):
            np.testing.assert_array_equal(got.tokens, want.tokens)
            np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5)
            np.testing.assert_allclose(got.attention, want.attention)
    assert decode_all.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sample"])
def test_decode_dispatches_to_the_named_strategy(strategy):
    lm = PrefixLM(vocab=6, steps=4, seed=12)
    inputs = (lm.step, *lm.inputs([0, 7]), EOS_ID, 4)
    options = DecodingOptions(strategy=strategy, beam_width=3, n_best=2, top_k=3, seed=4)
    result = decode(*inputs, options)
    expected = {
        "greedy": lambda: greedy_search(*inputs),
        "beam": lambda: beam_search(*inputs, beam_width=3, length_penalty=0.6, n_best=2),
        "sample": lambda: sample(*inputs, top_k=3, seed=4),
    }[strategy]()
    np.testing.assert_array_equal(result.tokens, expected.tokens)
    assert result.tokens.shape[1] == (2 if strategy == "beam" else 1)


def test_options_max_lengths_follow_a_plus_b_source_length():
    options = DecodingOptions(max_length_a=3, max_length_b=1.5)
    assert options.max_lengths(tf.constant([0, 1, 4])).numpy().tolist() == [3, 4, 9]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"strategy": "nucleus"},
            "strategy must be one of 'greedy', 'beam', 'sample', got 'nucleus'",
        ),
        ({"beam_width": 0}, "beam_width must be an int >= 1, got 0"),
        ({"n_best": 6, "beam_width": 5}, "n_best (6) must not exceed beam_width (5)"),
        ({"length_penalty": -0.1}, "length_penalty must be a number >= 0, got -0.1"),
        ({"temperature": -1.0}, "temperature must be a number >= 0 (0 is greedy), got -1.0"),
        ({"top_k": -1}, "top_k must be an int >= 0 (0 turns top-k off), got -1"),
        ({"top_p": 0.0}, "top_p must be in (0, 1] (1 turns top-p off), got 0.0"),
        ({"top_p": 1.5}, "top_p must be in (0, 1] (1 turns top-p off), got 1.5"),
        ({"min_length": -2}, "min_length must be an int >= 0, got -2"),
        ({"max_length_b": -1.0}, "max_length_b must be a number >= 0, got -1.0"),
    ],
)
def test_invalid_options_fail_with_one_clear_line(fields, message):
    with pytest.raises(ValueError) as error:
        DecodingOptions(**fields).validate()
    assert str(error.value) == message


def test_decoding_functions_validate_their_static_arguments():
    step, state, constants, start = spelling_inputs([[A, EOS_ID]], vocab=5, steps=2)
    inputs = (step, state, constants, start, EOS_ID)
    cases = [
        (lambda: greedy_search(*inputs, 0), "max_steps must be a Python int >= 1, got 0"),
        (lambda: beam_search(*inputs, 2, beam_width=0), "beam_width must be a Python int >= 1"),
        (lambda: beam_search(*inputs, 2, 2, n_best=3), "n_best must be in [1, beam_width=2]"),
        (lambda: sample(*inputs, 2, top_p=0.0), "top_p must be in (0, 1]"),
        (lambda: sample(*inputs, 2, temperature=-1.0), "temperature must be >= 0"),
        (lambda: greedy_search(*inputs, 2, min_length=-1), "min_length must be >= 0"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
            call()


def test_tile_to_beam_repeats_each_row_beam_width_times():
    nest = {"h": tf.constant([[1, 2], [3, 4]]), "mask": (tf.constant([True, False]), None)}
    tiled = tile_to_beam(nest, 3)
    np.testing.assert_array_equal(tiled["h"], [[1, 2]] * 3 + [[3, 4]] * 3)
    np.testing.assert_array_equal(tiled["mask"][0], [True] * 3 + [False] * 3)
    assert tiled["mask"][1] is None
    assert tile_to_beam(None, 3) is None
