"""Greedy search, and the one-token-per-row loop it shares with sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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
    search = _Search(step_fn, constants, choose, end_id, is_end, limits, max_steps, min_length)
    (carry,) = tf.while_loop(
        lambda carry: _keep_going(search, carry),
        lambda carry: (_step(search, carry),),
        (_first_carry(search, start_ids, logits, state, attention),),
        maximum_iterations=max_steps - 1,
    )
    return _finalize(carry)


class _Search(NamedTuple):
    """What every step of one `decode_token_by_token` call reads, fixed before the loop."""

    step_fn: StepFn
    constants: Any  # nest of (batch, ...) tensors, or None
    choose: ChooseFn
    end_id: tf.Tensor  # int32 ()
    is_end: tf.Tensor  # bool (vocab,)
    limits: tf.Tensor  # int32 () or (batch,), the length limits
    max_steps: int
    min_length: int | tf.Tensor


class _Carry(NamedTuple):
    """The `tf.while_loop` variables after a step."""

    t: tf.Tensor  # int32 (), steps done
    tokens: tf.Tensor  # int32 (batch,), the token chosen at the last step
    state: Any  # nest of (batch, ...) tensors
    finished: tf.Tensor  # bool (batch,)
    lengths: tf.Tensor  # int32 (batch,)
    log_probs: tf.Tensor  # float32 (batch,)
    records: dict  # TensorArrays: tokens, token_log_probs and maybe attention


def _first_carry(search: _Search, start_ids: tf.Tensor, logits, state, attention) -> _Carry:
    """Creates the records and chooses the first tokens from the first step's outputs."""
    batch_shape = start_ids.shape
    before = _Carry(
        t=tf.constant(0),
        tokens=None,
        state=None,
        finished=tf.zeros_like(start_ids, tf.bool),
        lengths=tf.zeros_like(start_ids),
        log_probs=tf.zeros_like(start_ids, tf.float32),
        records=common.new_records(
            search.max_steps, batch_shape, None if attention is None else attention.shape
        ),
    )
    return _advance(search, before, logits, state, attention)


def _keep_going(search: _Search, carry: _Carry) -> tf.Tensor:
    """Whether some row has not ended and the buffers have room: bool ()."""
    return (carry.t < search.max_steps) & tf.reduce_any(tf.logical_not(carry.finished))


def _step(search: _Search, carry: _Carry) -> _Carry:
    """One loop iteration: runs the model on every row's last token and chooses the next."""
    logits, state, attention = common.call_step(
        search.step_fn, carry.tokens, carry.state, search.constants
    )
    return _advance(search, carry, logits, state, attention)


def _advance(search: _Search, carry: _Carry, logits, state, attention) -> _Carry:
    """Chooses every row's next token from the step's outputs and records it.

    Args:
        carry: the rows before the step (its tokens and state are not read).
        logits, state, attention: the step's outputs: (batch, vocab) logits, the new state
            nest, (batch, src_len) or None.

    Returns:
        The `_Carry` after the step.
    """
    t, finished = carry.t, carry.finished
    candidates = common.block_early_end(logits, t, search.is_end, search.min_length)
    tokens = search.choose(t, candidates)  # (batch,)
    tokens = tf.where(t + 1 >= search.limits, search.end_id, tokens)
    token_log_probs = tf.gather(logits, tokens, batch_dims=1) - tf.reduce_logsumexp(logits, axis=-1)
    alive = tf.logical_not(finished)
    lengths = carry.lengths + tf.cast(alive, tf.int32)
    log_probs = carry.log_probs + tf.where(alive, token_log_probs, 0.0)
    finished = finished | tf.equal(tokens, search.end_id)
    records = common.write_records(
        carry.records, t, tokens=tokens, token_log_probs=token_log_probs, attention=attention
    )
    return _Carry(t + 1, tokens, state, finished, lengths, log_probs, records)


def _finalize(carry: _Carry) -> DecodingResult:
    """Packs the recorded steps as a `DecodingResult` with n = 1."""
    records = carry.records
    attention = None
    if "attention" in records:
        attention = tf.transpose(records["attention"].stack(), (1, 0, 2))[:, None]
    return common.finish(
        tf.transpose(records["tokens"].stack())[:, None],  # (batch, 1, T)
        carry.lengths[:, None],
        carry.log_probs[:, None],
        carry.log_probs[:, None],
        tf.transpose(records["token_log_probs"].stack())[:, None],  # (batch, 1, T)
        attention,  # (batch, 1, T, src_len)
    )
