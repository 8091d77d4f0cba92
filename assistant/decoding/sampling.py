"""Sampling with temperature, top-k and top-p (nucleus) filtering, reproducible by seed."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import tensorflow as tf

from assistant.decoding import common
from assistant.decoding.common import NEG_INF, DecodingResult, StepFn
from assistant.decoding.greedy import decode_token_by_token

_CANDIDATES = 64  # logits ranked per row for top-p (more only when the nucleus is wider)
_MASK_32 = 0xFFFFFFFF
_HASH_MULTIPLIER = 0x45D9F3B  # < 2**31, so products of 32-bit values fit in int64
_GOLDEN = 0x9E3779B9  # spreads consecutive rows over the hash input


def sample(
    step_fn: StepFn,
    state: Any,
    constants: Any,
    start_ids: tf.Tensor,
    end_id: int | tf.Tensor,
    max_steps: int,
    temperature: float | tf.Tensor = 1.0,
    top_k: int | tf.Tensor = 0,
    top_p: float | tf.Tensor = 1.0,
    seed: int | tf.Tensor = 0,
    max_lengths: tf.Tensor | None = None,
    min_length: int | tf.Tensor = 0,
) -> DecodingResult:
    """Decodes by drawing every token from the model's filtered distribution.

    At each step the logits are divided by `temperature`, cut to the `top_k` most likely
    tokens, then to the smallest set of most likely tokens whose probability reaches `top_p`
    (renormalised after top-k, as in Hugging Face's processors; ties go to the lower id),
    and one token is drawn by inverting the cumulative distribution at a uniform number
    hashed from (seed, step, row).
    The same seed and batch therefore give the same samples eagerly, in `tf.function` and
    under XLA (TensorFlow's stateless random ops do not: XLA draws differently); a row's
    samples depend on its position in the batch.

    The filters work on each row's `_CANDIDATES` largest logits (a cheap `top_k`) and fall
    back to ranking the whole vocabulary, for the whole batch, only when some row's top-k or
    nucleus is wider; a full sort of 2,000 logits for 64 rows costs more than a model step.

    The options may be Python numbers or scalar tensors (inputs of a traced graph); Python
    numbers that turn a filter off remove it from the graph.

    Args:
        temperature: > 0 sharpens (< 1) or flattens (> 1) the distribution; 0 is greedy.
        top_k: keep the k most likely tokens; 0 is off.
        top_p: keep the nucleus of this probability mass, in (0, 1]; 1 is off.
        seed: int, or an int scalar or (2,) tensor; only its low 32 bits (per element)
            count. Pass a tensor to reuse one traced graph across seeds.
        Others: as in `greedy_search`.

    Returns:
        A `DecodingResult` with n = 1; scores equal log_probs, the model's own (temperature
        1, unfiltered) log-probabilities of the sampled tokens.

    Raises:
        ValueError: on a Python-number option out of range.
    """
    common.check_arguments(
        max_steps, min_length=min_length, temperature=temperature, top_k=top_k, top_p=top_p
    )
    choose = functools.partial(_choose, _sampler(temperature, top_k, top_p, seed))
    args = (step_fn, state, constants, start_ids, end_id, max_steps, choose)
    return decode_token_by_token(*args, max_lengths=max_lengths, min_length=min_length)


class _Sampler(NamedTuple):
    """The sampling options of one call, with what can be decided at trace time decided."""

    temperature: float | tf.Tensor
    top_k: int | tf.Tensor
    top_p: float | tf.Tensor
    seed: tf.Tensor  # int64 (2,)
    filters_off: bool  # statically neither top-k nor top-p
    filters_on: bool  # statically top-k or top-p (or both)


def _sampler(temperature, top_k, top_p, seed) -> _Sampler:
    """The `_Sampler` of `sample`'s options."""
    seed = _seed_pair(seed)
    filters_off = _is(top_k, 0) and common.is_static(top_p) and top_p >= 1
    filters_on = not filters_off and common.is_static(top_k) and common.is_static(top_p)
    return _Sampler(temperature, top_k, top_p, seed, filters_off, filters_on)


def _choose(sampler: _Sampler, t: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Draws int32 (rows,) tokens at step t from (rows, vocab) logits (greedy at temperature 0)."""
    temperature, top_k, top_p = sampler.temperature, sampler.top_k, sampler.top_p
    greedy = common.argmax(logits)
    if _is(temperature, 0):
        return greedy
    scaled = logits if _is(temperature, 1) else logits / _positive(temperature)
    uniform = _uniform(sampler.seed, t, logits)
    if sampler.filters_off:
        drawn = _draw(scaled, uniform)
    elif sampler.filters_on:
        drawn = _draw_filtered(scaled, top_k, top_p, uniform)
    else:
        drawn = tf.cond(
            (top_k > 0) | (top_p < 1),
            lambda: _draw_filtered(scaled, top_k, top_p, uniform),
            lambda: _draw(scaled, uniform),
        )
    return drawn if common.is_static(temperature) else tf.where(temperature > 0, drawn, greedy)


def _draw_filtered(logits: tf.Tensor, top_k, top_p, uniform: tf.Tensor) -> tf.Tensor:
    """Draws int32 (rows,) tokens from (rows, vocab) logits after top-k then top-p.

    The survivors are the head of each row's ranking: its `_CANDIDATES` largest logits, or
    the whole sorted vocabulary when some row needs more. The draw happens inside each
    branch of the `tf.cond`, since XLA needs both branches to return the same shapes.
    """
    vocab = common.dim(logits, -1)
    if common.is_static(top_k) and top_k > 0 and common.is_static(top_p) and top_p >= 1:
        k = min(top_k, vocab) if isinstance(vocab, int) else tf.minimum(top_k, vocab)
        values, ids = tf.math.top_k(logits, k=k)  # (rows, k)
        return _draw_ranked(values, ids, tf.fill(tf.shape(ids)[:1], tf.shape(ids)[1]), uniform)

    def from_everything():
        values, ids = tf.math.top_k(logits, k=vocab)  # a full sort, (rows, vocab)
        return _draw_ranked(
            values, ids, _survivors(values, logits, top_k, top_p, vocab)[0], uniform
        )

    if not isinstance(vocab, int) or vocab <= _CANDIDATES:
        return from_everything()
    values, ids = tf.math.top_k(logits, k=_CANDIDATES)  # (rows, candidates)
    kept, complete = _survivors(values, logits, top_k, top_p, vocab)
    return tf.cond(
        tf.reduce_all(complete),
        lambda: _draw_ranked(values, ids, kept, uniform),
        from_everything,
    )


def _survivors(values: tf.Tensor, logits: tf.Tensor, top_k, top_p, vocab):
    """How many of the n largest logits `values` (rows, n), descending, survive the filters.

    Returns:
        kept int32 (rows,), and complete bool (rows,): whether the survivors all fit in the
        n values (always true when n == vocab).
    """
    n = values.shape[-1]
    positions = tf.range(n)  # (n,)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    in_top_k = positions < k
    # Normalise over the top-k when it fits in `values`, else over the whole vocabulary.
    normaliser = tf.where(
        k <= n,
        tf.reduce_logsumexp(tf.where(in_top_k, values, NEG_INF), axis=-1),
        tf.reduce_logsumexp(logits, axis=-1),
    )  # (rows,)
    mass_before = tf.math.cumsum(tf.exp(values - normaliser[:, None]), axis=-1, exclusive=True)
    keep = in_top_k & ((mass_before < top_p) | (top_p >= 1))  # the first is always kept
    kept = tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1)  # (rows,)
    return kept, (k <= n) | ((k == vocab) & (kept < n)) | (n == vocab)


def _draw_ranked(values: tf.Tensor, ids: tf.Tensor, kept: tf.Tensor, uniform: tf.Tensor):
    """Draws int32 (rows,) token ids among the first `kept` of the ranked (rows, n) values."""
    survives = tf.range(tf.shape(values)[-1]) < kept[:, None]  # (rows, n)
    # reduce_max, not values[:, :1]: XLA's fast TopK replaces only a sort sliced from 0.
    weights = tf.where(survives, tf.exp(values - tf.reduce_max(values, -1, keepdims=True)), 0.0)
    index = _invert_cdf(weights, uniform)
    return tf.gather(ids, tf.minimum(index, kept - 1), batch_dims=1)


def _draw(logits: tf.Tensor, uniform: tf.Tensor) -> tf.Tensor:
    """Draws int32 (rows,) tokens from unfiltered (rows, vocab) logits, given (rows,) u."""
    index = _invert_cdf(tf.nn.softmax(logits), uniform)
    return tf.minimum(index, tf.shape(logits)[-1] - 1)


def _invert_cdf(weights: tf.Tensor, uniform: tf.Tensor) -> tf.Tensor:
    """The first index whose cumulative (rows, n) weight reaches u x total, int32 (rows,)."""
    cdf = tf.math.cumsum(weights, axis=-1)  # (rows, n)
    target = uniform * tf.reduce_max(cdf, axis=-1)  # (rows,)
    return tf.reduce_sum(tf.cast(cdf < target[:, None], tf.int32), axis=-1)


def _uniform(seed: tf.Tensor, t: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """float32 (rows,) uniforms in (0, 1], a hash of (seed, step, row).

    Integer hashing gives the same numbers eagerly, in `tf.function` and under XLA, whose
    stateless random kernels draw differently from the CPU ones.
    """
    seed = tf.bitwise.bitwise_and(seed, _MASK_32)  # (2,) int64
    key = _mix(tf.bitwise.bitwise_xor(_mix(seed[0]), seed[1]))
    key = _mix(tf.bitwise.bitwise_xor(key, tf.cast(t, tf.int64)))
    rows = tf.range(tf.shape(logits, out_type=tf.int64)[0])  # (rows,)
    bits = _mix(tf.bitwise.bitwise_and(key + rows * _GOLDEN, _MASK_32))
    return (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 0.5) * 2.0**-24


def _mix(x: tf.Tensor) -> tf.Tensor:
    """A 32-bit integer hash (Thomas Mueller's) of int64 values in [0, 2**32)."""
    for _ in range(2):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16)) * _HASH_MULTIPLIER
        x = tf.bitwise.bitwise_and(x, _MASK_32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def _seed_pair(seed: int | tf.Tensor) -> tf.Tensor:
    """An int or scalar tensor seed, or a (2,) seed, as an int64 (2,) tensor."""
    seed = tf.cast(tf.convert_to_tensor(seed, dtype_hint=tf.int64), tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros_like(seed)])
    return seed


def _positive(temperature) -> tf.Tensor:
    """The temperature, with 0 replaced by 1 so dividing by it is safe (0 takes argmax)."""
    if common.is_static(temperature):
        return tf.constant(float(temperature))
    temperature = tf.cast(temperature, tf.float32)
    return tf.where(temperature > 0, temperature, 1.0)


def _is(value, number) -> bool:
    """Whether `value` is statically the Python number `number`."""
    return common.is_static(value) and value == number
