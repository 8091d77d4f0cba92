"""What the chat needs from a model: a few callables around an `Assistant` (or a fake)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any


@dataclasses.dataclass
class Backend:
    """What the REPL needs from a model (an `Assistant`, or a fake in tests).

    Attributes:
        name: shown in the banner.
        reply: `reply(text, **options) -> Reply`; may raise `ValueError` (incl. `InputError`).
        defaults: the model's decoding defaults.
        warm_up: `warm_up(**options)` compiles for these options, or None.
        validate: `validate(options)` raises a one-line `ValueError` for invalid effective
            options, or None.
        location: the bundle directory, shown by /show.
        hint: one line telling the user what to type (the bundle domain's `Domain.hint`).
    """

    name: str
    reply: Callable[..., Any]
    defaults: Mapping[str, Any]
    warm_up: Callable[..., Any] | None = None
    validate: Callable[[Mapping[str, Any]], None] | None = None
    location: str = ""
    hint: str = ""


def backend_from_assistant(assistant, location: str | os.PathLike = "") -> Backend:
    """Wraps a loaded `Assistant`."""
    from assistant.runtime.options import check_options

    return Backend(name=assistant.name, reply=assistant.reply, defaults=dict(assistant.defaults),
                   warm_up=assistant.warm_up, validate=check_options, location=str(location),
                   hint=assistant.domain.hint)
