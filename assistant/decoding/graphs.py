"""Compiled decoding graphs: one XLA-compiled `tf.function` per strategy shape.

The graphs never import the model: they take a `bind` function (for a Keras `Seq2Seq`,
`assistant.core.binding.bind_model`) that encodes a padded source batch and returns the
step contract's arguments. One `tf.function`
(XLA-compiled) is traced per strategy shape (strategy, beam width, n-best, step budget);
source lengths are padded to buckets by the caller, so XLA compiles once per bucket and a
new input length within a bucket neither retraces nor recompiles.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from assistant import decoding
from assistant.core import constants


class DecodedBatch(NamedTuple):
    """A `decoding.DecodingResult` as NumPy arrays."""

    tokens: np.ndarray  # (batch, n, T) int32
    lengths: np.ndarray  # (batch, n) int32
    scores: np.ndarray  # (batch, n) float32
    token_log_probs: np.ndarray  # (batch, n, T) float32
    attention: np.ndarray | None  # (batch, n, T, S) float32


class DecodingGraphs:
    """Caches one compiled decoding function per static decoding shape.

    Args:
        bind: `bind(source, max_length_a, max_length_b, max_steps) -> (step_fn, state,
            constants, start_ids, max_lengths)`, e.g. `functools.partial(bind_model, model)`.
        jit_compile: compile with XLA (faster on CPU after a one-off compile per bucket).
    """

    def __init__(self, bind, jit_compile: bool = True) -> None:
        self.bind = bind
        self.jit_compile = jit_compile
        self._functions: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self.traces = 0  # how many times any graph was traced (tests check this)

    def run(self, source: np.ndarray, options: decoding.DecodingOptions,
            max_steps: int, row_limits: np.ndarray | None = None) -> DecodedBatch:
        """Decodes a padded (batch, src_len) int32 source batch; `row_limits`, int32
        (batch,), lowers the length limit of each row (counting the end token), else none."""
        key = (options.strategy, options.beam_width if options.strategy == "beam" else 1,
               options.n_best if options.strategy == "beam" else 1, max_steps)
        function = self._functions.get(key)
        if function is None:
            function = self._build(*key)
            self._functions[key] = function
        if row_limits is None:
            row_limits = np.full(source.shape[0], max_steps, np.int32)
        result = function(
            tf.constant(source, tf.int32),
            tf.constant(row_limits, tf.int32),
            tf.constant(options.length_penalty, tf.float32),
            tf.constant(options.temperature, tf.float32),
            tf.constant(options.top_k, tf.int32),
            tf.constant(options.top_p, tf.float32),
            tf.constant(options.seed, tf.int32),
            tf.constant(options.min_length, tf.int32),
            tf.constant(options.max_length_a, tf.float32),
            tf.constant(options.max_length_b, tf.float32),
        )
        return DecodedBatch(*(None if x is None else x.numpy() for x in result))

    def _build(self, strategy: str, beam_width: int, n_best: int, max_steps: int):
        bind = self.bind

        def run(source, row_limits, length_penalty, temperature, top_k, top_p, seed,
                min_length, max_length_a, max_length_b):
            self.traces += 1
            step, state, shared, start_ids, max_lengths = bind(
                source, max_length_a, max_length_b, max_steps)
            max_lengths = tf.minimum(max_lengths, tf.maximum(row_limits, 1))
            if strategy == "greedy":
                result = decoding.greedy_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    max_lengths=max_lengths, min_length=min_length)
            elif strategy == "beam":
                result = decoding.beam_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    beam_width=beam_width, length_penalty=length_penalty, n_best=n_best,
                    max_lengths=max_lengths, min_length=min_length)
            else:
                result = decoding.sample(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                    max_lengths=max_lengths, min_length=min_length)
            return (result.tokens, result.lengths, result.scores, result.token_log_probs,
                    result.attention)

        scalar = tf.TensorSpec((), tf.float32)
        integer = tf.TensorSpec((), tf.int32)
        return tf.function(
            run, jit_compile=self.jit_compile, reduce_retracing=True, autograph=False,
            input_signature=[tf.TensorSpec((None, None), tf.int32),
                             tf.TensorSpec((None,), tf.int32), scalar, scalar, integer,
                             scalar, integer, integer, scalar, scalar])
