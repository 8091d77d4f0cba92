"""Greedy search, and the one-token-per-row loop it shares with sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from assistant.decoding import common
from assistant.decoding.common import DecodingResult, StepFn

# choose(t, logits (rows, vocab) with the end token blocked before min_length) -> int32 (rows,)
ChooseFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def greedy_search(
    step_fn: StepFn,
    state: Any,
    constants: Any,
    start_ids: tf.Tensor,
    end_id: int | tf.Tensor,
    max_steps: int,
    max_lengths: tf.Tensor | None = None,
    min_length: int | tf.Tensor = 0,
) -> DecodingResult:
    """Decodes by taking the most likely token at every step.

    Args:
        step_fn: `step_fn(tokens, state, constants) -> (logits, new_state, attention)`.
        state: nest of (batch, ...) tensors, the decoder's initial state.
        constants: nest of (batch, ...) tensors passed unchanged to every step, or None.
        start_ids: int32 (batch,) the first input token of every row.
        end_id: the end token id.
        max_steps: static Python int, the buffer size and the longest possible output.
        max_lengths: optional int32 (batch,) per-row limits, counting the end token.
        min_length: the end token is masked until this many tokens were generated.

    Returns:
        A `DecodingResult` with n = 1; scores equal log_probs. See `common` for the exact
        length rules.

    Raises:
        ValueError: if `max_steps < 1` or `min_length < 0`.
    """
    common.check_arguments(max_steps, min_length=min_length)
    return decode_token_by_token(
        step_fn,
        state,
        constants,
        start_ids,
        end_id,
        max_steps,
        choose=lambda t, logits: common.argmax(logits),
        max_lengths=max_lengths,
        min_length=min_length,
    )


def decode_token_by_token(
    step_fn: StepFn,
    state: Any,
    constants: Any,
    start_ids: tf.Tensor,
    end_id: int | tf.Tensor,
    max_steps: int,
    choose: ChooseFn,
    max_lengths: tf.Tensor | None = None,
    min_length: int | tf.Tensor = 0,
) -> DecodingResult:
    """Runs `step_fn` until every row has ended, choosing each row's next token with `choose`.

    The first step runs before the `tf.while_loop`, which tells whether attention is recorded
    and gives the shapes of the buffers. The loop stops as soon as every row has ended.

    Args:
        choose: `choose(t, logits) -> tokens`, int32 (rows,), from (rows, vocab) float32
            logits in which the end token is already masked before `min_length`.
        Others: as in `greedy_search`.

    Returns:
        A `DecodingResult` with n = 1.
    """
    start_ids = tf.convert_to_tensor(start_ids, tf.int32)
    end_id = tf.convert_to_tensor(end_id, tf.int32)
    limits = common.length_limits(max_lengths, max_steps)  # () or (batch,)
    logits, state, attention = common.call_step(step_fn, start_ids, state, constants)
    is_end = common.end_mask(logits, end_id)  # (vocab,)

    def advance(t, finished, lengths, log_probs, records, logits, state, attention):
        candidates = common.block_early_end(logits, t, is_end, min_length)
        tokens = choose(t, candidates)  # (batch,)
        tokens = tf.where(t + 1 >= limits, end_id, tokens)
        token_log_probs = tf.gather(logits, tokens, batch_dims=1) - tf.reduce_logsumexp(
            logits, axis=-1
        )
        alive = tf.logical_not(finished)
        lengths += tf.cast(alive, tf.int32)
        log_probs += tf.where(alive, token_log_probs, 0.0)
        finished = finished | tf.equal(tokens, end_id)
        records = common.write_records(
            records, t, tokens=tokens, token_log_probs=token_log_probs, attention=attention
        )
        return t + 1, tokens, state, finished, lengths, log_probs, records

    batch_shape = start_ids.shape
    carry = advance(
        tf.constant(0),
        tf.zeros_like(start_ids, tf.bool),
        tf.zeros_like(start_ids),
        tf.zeros_like(start_ids, tf.float32),
        common.new_records(max_steps, batch_shape, None if attention is None else attention.shape),
        logits,
        state,
        attention,
    )

    def keep_going(t, tokens, state, finished, lengths, log_probs, records):
        return (t < max_steps) & tf.reduce_any(tf.logical_not(finished))

    def body(t, tokens, state, finished, lengths, log_probs, records):
        logits, state, attention = common.call_step(step_fn, tokens, state, constants)
        return advance(t, finished, lengths, log_probs, records, logits, state, attention)

    _, _, _, _, lengths, log_probs, records = tf.while_loop(
        keep_going, body, carry, maximum_iterations=max_steps - 1
    )
    attention = None
    if "attention" in records:
        attention = tf.transpose(records["attention"].stack(), (1, 0, 2))[:, None]
    return common.finish(
        tf.transpose(records["tokens"].stack())[:, None],  # (batch, 1, T)
        lengths[:, None],
        log_probs[:, None],
        log_probs[:, None],
        tf.transpose(records["token_log_probs"].stack())[:, None],  # (batch, 1, T)
        attention,  # (batch, 1, T, src_len)
    )
