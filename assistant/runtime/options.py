"""Every option of a reply in one place: how to decode, and what the runtime does around it.

`DecodingOptions` (`assistant.decoding.options`) holds the decoding defaults and
`RuntimeOptions` below the runtime's; nothing else writes a default. A bundle's config.json
("decoding") overrides them (the trainer writes the values it chose from the data there), the
caller's keyword arguments override the bundle, and `ReplyOptions.resolve` checks the result.
Surfaces (chat, convert, export), evaluation and the trainer all read the defaults from here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from assistant.decoding.options import BEAM_WIDTH_LIMIT, DecodingOptions


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """What the runtime does around decoding; each needs the bundle's domain to act.

    rerank: under beam search the reply is the best-scoring hypothesis of the whole beam
    that the domain's check does not flag (the best one when every one is flagged).
    segment: a line the domain splits into units (e.g. a fault line of several records) is
    answered one unit at a time and the answers put in the domain's order.
    retry_beam: with rerank, an input whose every hypothesis is flagged is searched again
    with this beam width and answered by that search when it finds an unflagged reply; it
    costs time only for the few flagged inputs.
    greedy_first: with rerank and one reply asked for (n_best 1), every input is decoded
    greedily first, and only those whose greedy reply the domain's check flags are searched
    with the beam (then retried): an answer the check passes costs one greedy decode.
    draft_below: a reply whose score is below this is answered with the domain's draft
    instead (`Domain.drafts`: a neighbours bundle's nearest train pair's reply), flagged
    with the model's reply; never when sampling; None: off. Training chooses it on the
    validation split for a neighbours bundle (`training.drafts`); it is a score of the
    bundle's default decoding, so another strategy or length penalty moves what it means.
    """

    rerank: bool = True  # answer with the best hypothesis the domain's check passes
    segment: bool = True  # answer the domain's units of a line one at a time
    # With rerank: width of a second search for all-flagged inputs; 0 off. At most
    # BEAM_WIDTH_LIMIT, the bound of beam_width: memory and time grow with the width.
    retry_beam: int = 16
    greedy_first: bool = True  # with rerank: the beam only for inputs whose greedy reply is flagged
    draft_below: float | None = None  # the domain's draft for a reply scored below this

    def validate(self) -> None:
        """Raises a one-line `ValueError` naming the first invalid option."""
        for name in ("rerank", "segment", "greedy_first"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        retry_beam = self.retry_beam
        if (not isinstance(retry_beam, int) or isinstance(retry_beam, bool)
                or not 0 <= retry_beam <= BEAM_WIDTH_LIMIT):
            raise ValueError(f"retry_beam must be an int >= 0 and <= {BEAM_WIDTH_LIMIT} (0 is off; "
                             f"memory and time grow with the width), got {retry_beam!r}")
        below = self.draft_below
        if below is not None and (not isinstance(below, int | float) or isinstance(below, bool)
                                  or not math.isfinite(below)):
            raise ValueError(f"draft_below must be a finite number or null (off), got {below!r}")


DECODING_OPTIONS = tuple(field.name for field in dataclasses.fields(DecodingOptions))
RUNTIME_OPTIONS = tuple(field.name for field in dataclasses.fields(RuntimeOptions))
OPTION_NAMES = DECODING_OPTIONS + RUNTIME_OPTIONS


@dataclasses.dataclass(frozen=True)
class ReplyOptions:
    """The decoding and runtime options of one request, both validated."""

    decoding: DecodingOptions
    runtime: RuntimeOptions

    @classmethod
    def resolve(cls, *layers: Mapping[str, Any]) -> ReplyOptions:
        """The defaults overridden by each mapping of `layers` in turn (later ones win).

        Raises:
            ValueError: one line: an unknown option name, or the first invalid value.
        """
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        unknown = sorted(set(merged) - set(OPTION_NAMES))
        if unknown:
            raise ValueError(f"unknown decoding option(s) {', '.join(unknown)} "
                             f"(known: {', '.join(OPTION_NAMES)})")
        decoding = DecodingOptions(**{k: v for k, v in merged.items() if k in DECODING_OPTIONS})
        runtime = RuntimeOptions(**{k: v for k, v in merged.items() if k in RUNTIME_OPTIONS})
        runtime.validate()
        decoding.validate()
        return cls(decoding, runtime)

    def to_dict(self) -> dict[str, Any]:
        """Every option by name, as config.json's "decoding" section holds them."""
        return {**dataclasses.asdict(self.decoding), **dataclasses.asdict(self.runtime)}


def default_options() -> dict[str, Any]:
    """Every option with its default value, by name."""
    return ReplyOptions(DecodingOptions(), RuntimeOptions()).to_dict()


def decoding_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` without the runtime options: the keyword arguments of `DecodingOptions`."""
    return {name: value for name, value in options.items() if name not in RUNTIME_OPTIONS}


def check_options(options: Mapping[str, Any]) -> None:
    """Validates a complete or partial set of options (unset ones take the defaults).

    Raises:
        ValueError: one line naming the first unknown or invalid option.
    """
    ReplyOptions.resolve(options)
