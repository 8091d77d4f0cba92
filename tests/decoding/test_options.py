"""Tracing the strategies once, the `decode` factory and the validation of options."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from assistant.core.constants import BOS_ID, EOS_ID
from assistant.decoding import DecodingOptions, beam_search, decode, greedy_search, sample
from assistant.decoding.options import BEAM_WIDTH_LIMIT
from tests.decoding.fakes import A, PrefixLM, spelling_inputs

WIDER = "(memory and time grow with the width)"


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
        ({"beam_width": 0}, f"beam_width must be an int from 1 to 64 {WIDER}, got 0"),
        ({"beam_width": 65}, f"beam_width must be an int from 1 to 64 {WIDER}, got 65"),
        ({"beam_width": 1000, "n_best": 1000},
         f"beam_width must be an int from 1 to 64 {WIDER}, got 1000"),
        ({"beam_width": 8.0}, f"beam_width must be an int from 1 to 64 {WIDER}, got 8.0"),
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


def test_the_beam_width_bound_is_inclusive():
    assert BEAM_WIDTH_LIMIT == 64
    DecodingOptions(beam_width=BEAM_WIDTH_LIMIT, n_best=BEAM_WIDTH_LIMIT).validate()


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
