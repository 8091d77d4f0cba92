"""Choosing a decoding strategy from plain options: the one factory."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from assistant.decoding.beam import beam_search
from assistant.decoding.common import DecodingResult, StepFn
from assistant.decoding.greedy import greedy_search
from assistant.decoding.options import DecodingOptions
from assistant.decoding.sampling import sample


def decode(
    step_fn: StepFn,
    state: Any,
    constants: Any,
    start_ids: tf.Tensor,
    end_id: int | tf.Tensor,
    max_steps: int,
    options: DecodingOptions,
    max_lengths: tf.Tensor | None = None,
    seed: int | tf.Tensor | None = None,
) -> DecodingResult:
    """Validates `options` and decodes with the strategy they name.

    Args:
        step_fn, state, constants, start_ids, end_id, max_steps, max_lengths: as in
            `greedy_search`.
        options: the strategy and its parameters.
        seed: overrides `options.seed` (e.g. with a tensor, so one traced graph serves every
            seed).

    Returns:
        The strategy's `DecodingResult`.

    Raises:
        ValueError: if the options are invalid.
    """
    options.validate()
    common = {"max_lengths": max_lengths, "min_length": options.min_length}
    args = (step_fn, state, constants, start_ids, end_id, max_steps)
    if options.strategy == "greedy":
        return greedy_search(*args, **common)
    if options.strategy == "beam":
        return beam_search(
            *args,
            beam_width=options.beam_width,
            length_penalty=options.length_penalty,
            n_best=options.n_best,
            **common,
        )
    return sample(
        *args,
        temperature=options.temperature,
        top_k=options.top_k,
        top_p=options.top_p,
        seed=options.seed if seed is None else seed,
        **common,
    )
