"""Sampling: temperature, top-k and top-p draws, reproducible by seed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assistant.core.constants import EOS_ID
from assistant.decoding import greedy_search, sample
from assistant.decoding.sampling import _draw_filtered
from tests.decoding.fakes import PrefixLM, row_tokens, run


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
