"""What every decoding strategy shares: the result type, the step contract and length rules.

Length rules (the same for greedy search, beam search and sampling):

- `tokens` exclude the start token and end with the end token: every returned sequence is
  finished by `end_id`, either chosen by the model or forced at the row's length limit.
- `lengths` count the tokens up to and including that end token; positions at and after
  `lengths` hold `PAD_ID` (log-prob 0, attention 0).
- A row's limit is `max_lengths[row]` clipped to `[1, max_steps]` (`max_steps` when
  `max_lengths` is None) and counts the end token: at position `limit - 1` only `end_id` may
  be chosen, so no sequence is longer than its limit. The forced end token is scored with
  the model's real log-probability of `end_id` there.
- `min_length` masks `end_id` until that many tokens have been generated (so a finished
  sequence has at least `min_length + 1` tokens); a row's limit wins over `min_length`.
- Log-probabilities are the model's (a log-softmax of the raw logits) whatever the strategy
  changed to choose a token: temperature, top-k and top-p shape only the sampling.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any, NamedTuple

import tensorflow as tf

from assistant.core import constants

# step_fn(tokens (rows,) int32, state nest, constants nest | None)
#   -> (logits (rows, vocab) float32, new state nest, attention (rows, src_len) float32 | None)
StepFn = Callable[[tf.Tensor, Any, Any], tuple[tf.Tensor, Any, Any]]

NEG_INF = float("-inf")


class DecodingResult(NamedTuple):
    """The hypotheses of a decoding call, best first; n = 1 except for beam search's n-best.

    Attributes:
        tokens: int32 (batch, n, max_steps), without the start token, ending with the end
            token, `PAD_ID` after it.
        lengths: int32 (batch, n), tokens up to and including the end token.
        scores: float32 (batch, n), the ranking score: `log_probs / ((5 + length) / 6) **
            length_penalty` for beam search, `log_probs` for greedy search and sampling.
        log_probs: float32 (batch, n), the total log-probability of each sequence.
        token_log_probs: float32 (batch, n, max_steps), per-token log-probabilities (0 on
            padding).
        attention: float32 (batch, n, max_steps, src_len), the attention weights of every
            step of each returned hypothesis (0 on padding), or None when the step function
            returns no attention.
    """

    tokens: tf.Tensor
    lengths: tf.Tensor
    scores: tf.Tensor
    log_probs: tf.Tensor
    token_log_probs: tf.Tensor
    attention: tf.Tensor | None


def check_arguments(max_steps: int, **values: Any) -> None:
    """Validates `max_steps` and every Python-number option given by keyword.

    Tensor-valued options (traced graph inputs) cannot be checked here and are passed through.

    Raises:
        ValueError: on a value out of range, with a one-line message.
    """
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a Python int >= 1, got {max_steps!r}")
    rules = {
        "min_length": (lambda v: v >= 0, "must be >= 0"),
        "length_penalty": (lambda v: v >= 0, "must be >= 0"),
        "temperature": (lambda v: v >= 0, "must be >= 0 (0 means greedy)"),
        "top_k": (lambda v: v >= 0, "must be >= 0 (0 turns top-k off)"),
        "top_p": (lambda v: 0 < v <= 1, "must be in (0, 1] (1 turns top-p off)"),
    }
    for name, value in values.items():
        valid, message = rules[name]
        if isinstance(value, Number) and not valid(value):
            raise ValueError(f"{name} {message}, got {value!r}")


def is_static(value: Any) -> bool:
    """Whether `value` is a Python number, so options equal to it can be decided at trace time."""
    return isinstance(value, Number)


def dim(x: tf.Tensor, axis: int) -> int | tf.Tensor:
    """The size of `x` along `axis`: a Python int when static, else a scalar tensor."""
    size = x.shape[axis]
    return size if size is not None else tf.shape(x)[axis]


def length_limits(max_lengths: tf.Tensor | None, max_steps: int) -> tf.Tensor:
    """The per-row length limits (counting the end token).

    Args:
        max_lengths: int (batch,) or None.
        max_steps: the static buffer size.

    Returns:
        int32 (batch,) `max_lengths` clipped to [1, max_steps], or the scalar `max_steps`.
    """
    if max_lengths is None:
        return tf.constant(max_steps, tf.int32)
    return tf.clip_by_value(tf.cast(max_lengths, tf.int32), 1, max_steps)


def call_step(step_fn: StepFn, tokens: tf.Tensor, state: Any, step_constants: Any):
    """Calls `step_fn` and casts its logits and attention to float32.

    Returns:
        (logits (rows, vocab), new_state, attention (rows, src_len) or None).
    """
    logits, state, attention = step_fn(tokens, state, step_constants)
    logits = tf.cast(logits, tf.float32)
    if attention is not None:
        attention = tf.cast(attention, tf.float32)
    return logits, state, attention


def end_mask(logits: tf.Tensor, end_id: tf.Tensor) -> tf.Tensor:
    """bool (vocab,), True at `end_id`, for logits of shape (rows, vocab)."""
    return tf.equal(tf.range(tf.shape(logits)[-1]), end_id)


def argmax(logits: tf.Tensor) -> tf.Tensor:
    """The first index of each row's maximum, int32 (rows,), like `tf.argmax`.

    XLA compiles `tf.argmax` to a variadic reduction that is slower on CPU than a max
    followed by the smallest index equal to it (`make bench-decode` measures decoding).
    """
    vocab = tf.shape(logits)[-1]
    is_max = tf.equal(logits, tf.reduce_max(logits, axis=-1, keepdims=True))  # (rows, vocab)
    return tf.reduce_min(tf.where(is_max, tf.range(vocab), vocab), axis=-1)


def block_early_end(scores: tf.Tensor, t: tf.Tensor, is_end: tf.Tensor, min_length) -> tf.Tensor:
    """Sets the end token's entry of (..., vocab) `scores` to -inf while `t < min_length`."""
    if is_static(min_length) and min_length == 0:
        return scores
    return tf.where(is_end & (t < min_length), NEG_INF, scores)


def new_records(
    max_steps: int, token_shape: tf.TensorShape, attention_shape: tf.TensorShape | None
) -> dict:
    """TensorArrays of `max_steps` steps for what is recorded at every step.

    Args:
        token_shape: the per-step shape of tokens and token log-probs.
        attention_shape: the per-step shape of the attention, or None to record none.

    Returns:
        dict with "tokens" (int32), "token_log_probs" (float32) and, when attention is
        recorded, "attention" (float32) TensorArrays.
    """
    records = {
        "tokens": tf.TensorArray(tf.int32, size=max_steps, element_shape=token_shape),
        "token_log_probs": tf.TensorArray(tf.float32, size=max_steps, element_shape=token_shape),
    }
    if attention_shape is not None:
        records["attention"] = tf.TensorArray(
            tf.float32, size=max_steps, element_shape=attention_shape
        )
    return records


def write_records(records: dict, t: tf.Tensor, **values: tf.Tensor) -> dict:
    """Writes step `t` of every recorded value and returns the new TensorArrays."""
    return {name: array.write(t, values[name]) for name, array in records.items()}


def finish(
    tokens: tf.Tensor,
    lengths: tf.Tensor,
    scores: tf.Tensor,
    log_probs: tf.Tensor,
    token_log_probs: tf.Tensor,
    attention: tf.Tensor | None,
) -> DecodingResult:
    """Pads every position at or after `lengths` and packs a `DecodingResult`.

    Args:
        tokens: int32 (batch, n, T); token_log_probs float32 (batch, n, T); attention
            float32 (batch, n, T, src_len) or None; lengths int32 (batch, n); scores and
            log_probs float32 (batch, n).
    """
    valid = tf.range(tf.shape(tokens)[-1]) < lengths[..., None]  # (batch, n, T)
    tokens = tf.where(valid, tokens, constants.PAD_ID)
    token_log_probs = tf.where(valid, token_log_probs, 0.0)
    if attention is not None:
        attention = tf.where(valid[..., None], attention, 0.0)
    return DecodingResult(tokens, lengths, scores, log_probs, token_log_probs, attention)


def tile_to_beam(nest: Any, beam_width: int) -> Any:
    """Repeats every (batch, ...) tensor of `nest` to (batch x beam_width, ...).

    Row `b * beam_width + k` is beam k of row b. None (as a nest or a leaf) passes through.
    """
    if nest is None or beam_width == 1:
        return nest
    return tf.nest.map_structure(
        lambda x: None if x is None else tf.repeat(x, beam_width, axis=0), nest
    )
