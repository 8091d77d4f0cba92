"""The export's XLA-compiled decoding functions, batched the way the runtime batches."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from assistant import decoding
from assistant.core import constants
from assistant.core.binding import bind_model
from assistant.decoding.buckets import BATCH_BUCKETS, SOURCE_BUCKETS, step_budget

NO_REPLY_SCORE = float("-inf")  # the score of a row that could not be answered
CHUNK_ROWS = BATCH_BUCKETS[-1]  # rows decoded together, as `Assistant.reply_batch` does


class Decoders:
    """The XLA-compiled decoding functions of one model, one per (strategy, beam width).

    A plain object, so the module does not track the Keras model (its variables are tracked
    once, as `model_variables`).
    """

    def __init__(self, model, options: decoding.DecodingOptions, jit_compile: bool) -> None:
        self.model = model
        self.options = options
        self.jit_compile = jit_compile
        self.max_steps = step_budget(options)  # the runtime's: one size for every bucket
        self._functions: dict[tuple[str, int], Any] = {}

    def default(self, source):
        """Decodes one chunk with the export's default options (see `call`)."""
        options = self.options
        width = options.beam_width if options.strategy == "beam" else 1
        return self.call(self.function(options.strategy, width), source,
                         tf.constant(options.length_penalty, tf.float32),
                         tf.constant(0, tf.int32))

    def call(self, function, source, length_penalty, max_length):
        """Runs a decoding function on a (rows, src_len) chunk; returns (tokens, scores)."""
        options = self.options
        return function(source, length_penalty, tf.constant(options.min_length, tf.int32),
                        tf.constant(options.max_length_a, tf.float32),
                        tf.constant(options.max_length_b, tf.float32), max_length)

    def function(self, strategy: str, beam_width: int):
        """The (cached) `tf.function` decoding with this strategy and beam width."""
        key = (strategy, beam_width)
        if key not in self._functions:
            self._functions[key] = self._build(strategy, beam_width)
        return self._functions[key]

    def decode_rows(self, ids, lengths, valid, decode_chunk):
        """Decodes the valid rows of a batch the way `Assistant.reply_batch` does.

        Valid rows are sorted by length (stable) and decoded CHUNK_ROWS at a time; each chunk
        is padded to the smallest source bucket holding its longest row and to a batch
        bucket, exactly as the runtime pads it, so the two compute the same numbers.

        Args:
            ids: int32 (batch, width) right-padded source ids.
            lengths: int32 (batch,) pieces per row.
            valid: bool (batch,) rows to decode.
            decode_chunk: `(source (rows, src_len)) -> (tokens (rows, T), scores (rows,))`.

        Returns:
            tokens int32 (batch, max_steps), PAD_ID on invalid rows, and scores float32
            (batch,), NO_REPLY_SCORE on invalid rows.
        """
        batch = tf.shape(ids)[0]
        order = tf.boolean_mask(tf.range(batch), valid)
        order = tf.gather(order, tf.argsort(tf.gather(lengths, order), stable=True))
        count = tf.size(order)
        source_buckets = tf.constant(SOURCE_BUCKETS, tf.int32)
        batch_buckets = tf.constant(BATCH_BUCKETS, tf.int32)
        max_steps = self.max_steps

        def body(start, tokens_array, scores_array):
            rows = order[start : start + CHUNK_ROWS]
            chunk = tf.gather(ids, rows)  # (n, width)
            longest = tf.reduce_max(tf.gather(lengths, rows))
            src_len = source_buckets[tf.reduce_sum(tf.cast(source_buckets < longest, tf.int32))]
            n = tf.size(rows)
            padded_rows = batch_buckets[tf.reduce_sum(tf.cast(batch_buckets < n, tf.int32))]
            chunk = chunk[:, :src_len]
            chunk = tf.pad(chunk, [[0, padded_rows - n], [0, src_len - tf.shape(chunk)[1]]])
            tokens, scores = decode_chunk(chunk)
            index = start // CHUNK_ROWS
            return (start + CHUNK_ROWS, tokens_array.write(index, tokens[:n]),
                    scores_array.write(index, scores[:n]))

        tokens_array = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                                      element_shape=tf.TensorShape([None, max_steps]))
        scores_array = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False,
                                      element_shape=tf.TensorShape([None]))
        _, tokens_array, scores_array = tf.while_loop(
            lambda start, *_: start < count, body, (tf.constant(0), tokens_array, scores_array))
        sorted_tokens = tf.reshape(tokens_array.concat(), [-1, max_steps])  # (count, T)
        sorted_scores = tf.reshape(scores_array.concat(), [-1])
        where = order[:, None]
        tokens = tf.scatter_nd(where, sorted_tokens, tf.stack([batch, max_steps]))
        scores = tf.tensor_scatter_nd_update(
            tf.fill([batch], tf.constant(NO_REPLY_SCORE, tf.float32)), where, sorted_scores)
        return tokens, scores

    def _build(self, strategy: str, beam_width: int):
        model, max_steps = self.model, self.max_steps

        def run(source, length_penalty, min_length, max_length_a, max_length_b, max_length):
            # The runtime's binding (`DecodingGraphs`), so the replies are the runtime's.
            step, state, shared, start_ids, max_lengths = bind_model(
                model, source, max_length_a, max_length_b, max_steps, attention=False)
            max_lengths = tf.where(max_length > 0, tf.minimum(max_lengths, max_length),
                                   max_lengths)
            if strategy == "greedy":
                result = decoding.greedy_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    max_lengths=max_lengths, min_length=min_length)
            else:
                result = decoding.beam_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    beam_width=beam_width, length_penalty=length_penalty, n_best=1,
                    max_lengths=max_lengths, min_length=min_length)
            return result.tokens[:, 0], result.scores[:, 0]  # (rows, T), (rows,)

        scalar = tf.TensorSpec((), tf.float32)
        integer = tf.TensorSpec((), tf.int32)
        return tf.function(
            run, jit_compile=self.jit_compile,
            input_signature=[tf.TensorSpec((None, None), tf.int32), scalar, integer, scalar,
                             scalar, integer])
