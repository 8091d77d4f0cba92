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
        remember: `remember(context, text) -> context` (`Domain.remember`): the session's
            context after a turn; None: the session keeps no context (and `reply` is never
            given one).
        describe_context: `describe_context(context) -> str`, what "it" means in it.
        reads_context: the model reads the context (else only the domain's check does).
    """

    name: str
    reply: Callable[..., Any]
    defaults: Mapping[str, Any]
    warm_up: Callable[..., Any] | None = None
    validate: Callable[[Mapping[str, Any]], None] | None = None
    location: str = ""
    hint: str = ""
    remember: Callable[[str, str], str] | None = None
    describe_context: Callable[[str], str] | None = None
    reads_context: bool = False


def backend_from_assistant(assistant, location: str | os.PathLike = "") -> Backend:
    """Wraps a loaded `Assistant`. The session keeps a context when the model reads it or
    the bundle's domain checks replies (with the context); a model trained without context
    with a domain that checks nothing gets none."""
    from assistant.runtime.options import check_options

    domain = assistant.domain
    reads = bool(getattr(assistant, "reads_context", False))  # any object with its fields
    keeps = (reads or getattr(domain, "checks", False)) and hasattr(domain, "remember")
    return Backend(name=assistant.name, reply=assistant.reply, defaults=dict(assistant.defaults),
                   warm_up=assistant.warm_up, validate=check_options, location=str(location),
                   hint=domain.hint, remember=domain.remember if keeps else None,
                   describe_context=domain.describe_context if keeps else None,
                   reads_context=reads)
