"""Beam search with the GNMT length penalty, frozen finished hypotheses and n-best output.

A row is done when every hypothesis of its beam has finished, or (early stopping, on by
default) as soon as its n-best can no longer change: they have finished and no alive
hypothesis can reach their scores even if every later token had probability 1 (`_settled`).
The search returns the same n-best either way; without early stopping a padded batch runs
until the longest hypothesis of any row ends, however poor. The search stops when every row
is done.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from assistant.decoding import common
from assistant.decoding.common import NEG_INF, DecodingResult, StepFn, tile_to_beam


def beam_search(
    step_fn: StepFn,
    state: Any,
    constants: Any,
    start_ids: tf.Tensor,
    end_id: int | tf.Tensor,
    max_steps: int,
    beam_width: int,
    length_penalty: float | tf.Tensor = 0.0,
    n_best: int = 1,
    max_lengths: tf.Tensor | None = None,
    min_length: int | tf.Tensor = 0,
    early_stopping: bool = True,
) -> DecodingResult:
    """Keeps the `beam_width` best-scoring hypotheses of every row at every step.

    A hypothesis Y is ranked by `log P(Y) / lp(Y)` with the GNMT length penalty
    `lp(Y) = ((5 + |Y|) / 6) ** length_penalty`, |Y| counting the end token. As in
    OpenNMT-tf, a finished hypothesis stays in the beam, frozen: its only continuation adds
    nothing to its log-prob or length, so it keeps its score and competes with every alive
    candidate in the same top-k over the (batch, beam x vocab) candidate scores.

    The first step runs once per row (not per beam) and only beam 0 starts alive, so the beam
    is not filled with copies. `state` is reordered along the backpointers at every step;
    `constants` are tiled to batch x beam once and never reordered. Tokens and attention are
    recovered by following the backpointers once, after the search.

    Args:
        step_fn: `step_fn(tokens, state, constants) -> (logits, new_state, attention)`.
        state: nest of (batch, ...) tensors, the decoder's initial state.
        constants: nest of (batch, ...) tensors, or None.
        start_ids: int32 (batch,).
        end_id: the end token id.
        max_steps: static Python int, the buffer size and the longest possible output.
        beam_width: static Python int >= 1.
        length_penalty: the GNMT alpha >= 0 (float or scalar tensor); 0 ranks by log-prob.
        n_best: static Python int in [1, beam_width], how many hypotheses to return.
        max_lengths: optional int32 (batch,) per-row limits, counting the end token.
        min_length: the end token is masked until this many tokens were generated.
        early_stopping: static bool, end a row once its n-best are settled (same result).

    Returns:
        A `DecodingResult` with n = n_best, sorted by score descending. If a row has fewer
        than n_best possible hypotheses, the missing ones score -inf.

    Raises:
        ValueError: on an invalid beam width, n-best, max_steps or option.
    """
    options = _Options(beam_width, n_best, max_steps, max_lengths, min_length, length_penalty,
                       early_stopping)
    _check_options(options)
    search, first_step = _start(step_fn, state, constants, start_ids, end_id, options)
    (carry,) = tf.while_loop(
        lambda carry: _keep_going(search, carry),
        lambda carry: (_step(search, carry),),
        (_first_carry(search, *first_step),),
        maximum_iterations=max_steps - 1,
    )
    return _finalize(search, carry)


class _Options(NamedTuple):
    """The arguments of one `beam_search` call that shape every step."""

    beam_width: int
    n_best: int
    max_steps: int
    max_lengths: tf.Tensor | None
    min_length: int | tf.Tensor
    length_penalty: float | tf.Tensor
    early_stopping: bool


class _Search(NamedTuple):
    """What every step of one search reads, fixed before the loop starts."""

    options: _Options
    step_fn: StepFn
    constants: Any  # nest of (batch x beam, ...) tensors, or None
    batch: int | tf.Tensor  # rows before tiling
    static_batch: int | None  # the static batch size, None when unknown
    vocab: int | tf.Tensor
    end_id: tf.Tensor  # int32 ()
    is_end: tf.Tensor  # bool (vocab,)
    frozen: tf.Tensor  # float32 (vocab,), the only continuation of a finished hypothesis
    limits: tf.Tensor  # int32 () or (batch, 1, 1), the length limits
    offsets: tf.Tensor  # int32 (batch, 1), the row of beam 0 in batch x beam


class _Carry(NamedTuple):
    """The `tf.while_loop` variables of the search after a step."""

    t: tf.Tensor  # int32 (), steps done
    tokens: tf.Tensor  # int32 (batch x beam,), the last token of every hypothesis
    state: Any  # nest of (batch x beam, ...) tensors, reordered along the backpointers
    finished: tf.Tensor  # bool (batch, beam)
    lengths: tf.Tensor  # int32 (batch, beam)
    cum_log_probs: tf.Tensor  # float32 (batch, beam)
    scores: tf.Tensor  # float32 (batch, beam), the ranking scores, descending
    records: dict  # TensorArrays: tokens, token_log_probs, parents and maybe attention


def _check_options(options: _Options) -> None:
    """Raises ValueError on an invalid beam width, n-best, max_steps or option."""
    beam_width, n_best = options.beam_width, options.n_best
    if not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be a Python int >= 1, got {beam_width!r}")
    if not isinstance(n_best, int) or not 1 <= n_best <= beam_width:
        raise ValueError(f"n_best must be in [1, beam_width={beam_width}], got {n_best!r}")
    common.check_arguments(
        options.max_steps, min_length=options.min_length, length_penalty=options.length_penalty
    )


def _start(step_fn: StepFn, state: Any, constants: Any, start_ids, end_id, options: _Options):
    """Runs step 0 on the untiled rows, tiles its outputs to batch x beam and sets the rules.

    Returns:
        (search, (logits, state, attention)): the `_Search`, and step 0's (batch x beam,
        vocab) logits, new state and (batch x beam, src_len) attention or None.
    """
    width = options.beam_width
    start_ids = tf.convert_to_tensor(start_ids, tf.int32)
    end_id = tf.convert_to_tensor(end_id, tf.int32)
    batch = common.dim(start_ids, 0)
    limits = common.length_limits(options.max_lengths, options.max_steps)
    if options.max_lengths is not None:
        limits = limits[:, None, None]  # (batch, 1, 1)
    offsets = tf.range(batch)[:, None] * width  # (batch, 1): row of beam 0 in batch x beam
    logits, state, attention = common.call_step(step_fn, start_ids, state, constants)
    logits, state, attention = tile_to_beam((logits, state, attention), width)
    constants = tile_to_beam(constants, width)
    vocab = common.dim(logits, -1)
    is_end = common.end_mask(logits, end_id)  # (vocab,)
    frozen = tf.where(is_end, 0.0, NEG_INF)  # (vocab,)
    search = _Search(
        options=options,
        step_fn=step_fn,
        constants=constants,
        batch=batch,
        static_batch=start_ids.shape[0],
        vocab=vocab,
        end_id=end_id,
        is_end=is_end,
        frozen=frozen,
        limits=limits,
        offsets=offsets,
    )
    return search, (logits, state, attention)


def _first_carry(search: _Search, logits, state, attention) -> _Carry:
    """Creates the records and advances from step 0's tiled outputs; only beam 0 is alive."""
    batch, width = search.batch, search.options.beam_width
    max_steps = search.options.max_steps
    beam_shape = tf.TensorShape([search.static_batch, width])  # batch possibly unknown
    attention_shape = None if attention is None else beam_shape.concatenate(attention.shape[-1:])
    records = common.new_records(max_steps, beam_shape, attention_shape)
    records["parents"] = tf.TensorArray(tf.int32, size=max_steps, element_shape=beam_shape)
    alive_beam0 = tf.where(tf.range(width) == 0, 0.0, NEG_INF)  # (beam,)
    before = _Carry(
        t=tf.constant(0),
        tokens=None,
        state=None,
        finished=tf.zeros((batch, width), tf.bool),
        lengths=tf.zeros((batch, width), tf.int32),
        cum_log_probs=tf.tile(alive_beam0[None], (batch, 1)),
        scores=None,
        records=records,
    )
    return _advance(search, before, logits, state, attention)


def _keep_going(search: _Search, carry: _Carry) -> tf.Tensor:
    """Whether some row is not done and the buffers have room: bool ()."""
    done = tf.reduce_all(carry.finished, axis=1)  # (batch,)
    if search.options.early_stopping:
        done = done | _settled(search, carry)
    return (carry.t < search.options.max_steps) & tf.reduce_any(tf.logical_not(done))


def _step(search: _Search, carry: _Carry) -> _Carry:
    """One loop iteration: runs the model on every hypothesis's last token and advances."""
    logits, state, attention = common.call_step(
        search.step_fn, carry.tokens, carry.state, search.constants
    )
    return _advance(search, carry, logits, state, attention)


def _advance(search: _Search, carry: _Carry, logits, state, attention) -> _Carry:
    """Extends every hypothesis of `carry` by one token and keeps each row's `beam_width` best.

    Args:
        carry: the hypotheses before the step (its tokens, state and scores are not read).
        logits, state, attention: the step's outputs for every hypothesis: (batch x beam,
            vocab) logits, the new state nest by parent, (batch x beam, src_len) or None.

    Returns:
        The `_Carry` after the step.
    """
    batch, width, vocab = search.batch, search.options.beam_width, search.vocab
    t, finished = carry.t, carry.finished
    log_probs, totals, grown, ranking = _candidates(search, carry, logits)
    scores, flat = tf.math.top_k(tf.reshape(ranking, (batch, -1)), k=width)  # (batch, beam)
    parents = flat // vocab
    tokens = flat % vocab
    cum_log_probs = tf.gather(tf.reshape(totals, (batch, -1)), flat, batch_dims=1)
    token_log_probs = tf.gather(tf.reshape(log_probs, (batch, -1)), flat, batch_dims=1)
    lengths = tf.gather(grown, parents, batch_dims=1)
    # A dead hypothesis (-inf, only when the beam is wider than the search space) counts
    # as finished so that it does not keep the loop running.
    finished = (
        tf.gather(finished, parents, batch_dims=1)
        | tf.equal(tokens, search.end_id)
        | tf.equal(cum_log_probs, NEG_INF)
    )
    if width > 1:
        rows = tf.reshape(parents + search.offsets, (-1,))  # (batch x beam,)
        state = tf.nest.map_structure(lambda x: tf.gather(x, rows), state)
    if attention is not None:
        attention = tf.reshape(attention, (batch, width, -1))  # by parent, not yet reordered
    records = common.write_records(
        carry.records,
        t,
        tokens=tokens,
        token_log_probs=token_log_probs,
        parents=parents,
        attention=attention,
    )
    return _Carry(
        t=t + 1,
        tokens=tf.reshape(tokens, (-1,)),  # (batch x beam,)
        state=state,
        finished=finished,
        lengths=lengths,
        cum_log_probs=cum_log_probs,
        scores=scores,
        records=records,
    )


def _candidates(search: _Search, carry: _Carry, logits: tf.Tensor):
    """Scores every one-token extension of every hypothesis of `carry`.

    Returns:
        (log_probs, totals, grown, ranking): the tokens' log-probs (length rules applied,
        finished hypotheses frozen) and the extensions' total log-probs, (batch, beam,
        vocab); the extensions' lengths, (batch, beam); their ranking scores, (batch, beam,
        vocab).
    """
    t, finished, length_penalty = carry.t, carry.finished, search.options.length_penalty
    log_probs = tf.reshape(tf.nn.log_softmax(logits), (search.batch, search.options.beam_width, -1))
    forced = t + 1 >= search.limits  # () or (batch, 1, 1)
    banned = _banned(t, search.is_end, forced, search.options.min_length)
    log_probs = tf.where(banned, NEG_INF, log_probs)
    log_probs = tf.where(finished[..., None], search.frozen, log_probs)  # (batch, beam, vocab)
    totals = carry.cum_log_probs[..., None] + log_probs  # (batch, beam, vocab)
    grown = carry.lengths + tf.cast(tf.logical_not(finished), tf.int32)  # (batch, beam)
    ranking = totals
    if not (common.is_static(length_penalty) and length_penalty == 0):
        ranking = totals / _gnmt_penalty(grown, length_penalty)[..., None]
    return log_probs, totals, grown, ranking


def _finalize(search: _Search, carry: _Carry) -> DecodingResult:
    """Follows the backpointers of the first `n_best` beams and packs the result.

    top_k sorted every beam by score and a finished hypothesis's score never changes, so
    the first n_best beams are the n best hypotheses.
    """
    n_best = search.options.n_best
    tokens, token_log_probs, attention = _backtrack(
        carry.records,
        carry.t,
        search.batch,
        n_best,
        search.options.max_steps,
        tf.TensorShape([search.static_batch, n_best]),
    )
    return common.finish(
        tokens,
        carry.lengths[:, :n_best],
        carry.scores[:, :n_best],
        carry.cum_log_probs[:, :n_best],
        token_log_probs,
        attention,
    )


def _settled(search: _Search, carry: _Carry) -> tf.Tensor:
    """Rows whose n-best can no longer change: bool (batch,).

    An alive hypothesis with log-prob L can at best keep L (log-probs only fall) and reach
    its row's limit, so it never scores above L / lp(limit) (lp grows with the length, and
    L <= 0). A row is settled when its first n_best beams have finished and the n-th of them
    scores above that bound of every alive hypothesis: the full search would return them,
    and a settled row stays settled (bounds only fall, finished scores never change).
    """
    n_best, alpha = search.options.n_best, search.options.length_penalty
    limits = search.limits if search.limits.shape.rank == 0 else search.limits[:, :, 0]
    bounds = tf.where(carry.finished, NEG_INF,
                      carry.cum_log_probs / _gnmt_penalty(limits, alpha))  # (batch, beam)
    # From its log-prob and length: reading top_k's values here made XLA's loop far slower.
    nth = carry.cum_log_probs[:, n_best - 1] / _gnmt_penalty(carry.lengths[:, n_best - 1], alpha)
    return tf.reduce_all(carry.finished[:, :n_best], axis=1) & (
        nth > tf.reduce_max(bounds, axis=1)
    )


def _banned(t: tf.Tensor, is_end: tf.Tensor, forced: tf.Tensor, min_length) -> tf.Tensor:
    """Where the length rules forbid a token: bool, (vocab,) broadcast with `forced`.

    Everything but the end token at a row's limit; the end token before `min_length`,
    unless the limit forces it.
    """
    banned = forced & tf.logical_not(is_end)
    if common.is_static(min_length) and min_length == 0:
        return banned
    return banned | (is_end & (t < min_length) & tf.logical_not(forced))


def _gnmt_penalty(lengths: tf.Tensor, alpha) -> tf.Tensor:
    """((5 + lengths) / 6) ** alpha, float32 of the shape of `lengths`."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def _backtrack(
    records: dict,
    steps: tf.Tensor,
    batch: tf.Tensor,
    n_best: int,
    max_steps: int,
    best_shape: tf.TensorShape,
):
    """Follows the backpointers from the first `n_best` final beams back to step 0.

    Args:
        records: the search's TensorArrays; per step, tokens, token_log_probs and parents
            are (batch, beam) by new beam, attention (batch, beam, src_len) by parent beam.
        steps: how many steps ran.
        batch: the dynamic batch size.
        best_shape: the static (batch, n_best) shape, batch possibly unknown.

    Returns:
        tokens int32 (batch, n_best, T), token_log_probs float32 (batch, n_best, T) and
        attention float32 (batch, n_best, T, src_len) or None; zeros from `steps` on.
    """
    attention_shape = None
    if "attention" in records:
        attention_shape = best_shape.concatenate(records["attention"].element_shape[-1:])
    outputs = common.new_records(max_steps, best_shape, attention_shape)
    beams = tf.tile(tf.range(n_best)[None], (batch, 1))  # (batch, n_best)

    def body(t, beams, outputs):
        parents = tf.gather(records["parents"].read(t), beams, batch_dims=1)  # (batch, n_best)
        values = {
            "tokens": tf.gather(records["tokens"].read(t), beams, batch_dims=1),
            "token_log_probs": tf.gather(records["token_log_probs"].read(t), beams, batch_dims=1),
        }
        if attention_shape is not None:
            # Step t's attention was computed by the step that extended the parent beam.
            values["attention"] = tf.gather(records["attention"].read(t), parents, batch_dims=1)
        return t - 1, parents, common.write_records(outputs, t, **values)

    _, _, outputs = tf.while_loop(
        lambda t, beams, outputs: t >= 0,
        body,
        (steps - 1, beams, outputs),
        maximum_iterations=max_steps,
    )
    tokens = tf.transpose(outputs["tokens"].stack(), (1, 2, 0))  # (batch, n_best, T)
    token_log_probs = tf.transpose(outputs["token_log_probs"].stack(), (1, 2, 0))
    attention = None
    if attention_shape is not None:
        attention = tf.transpose(outputs["attention"].stack(), (1, 2, 0, 3))  # (b, n, T, S)
    return tokens, token_log_probs, attention
