"""The chat REPL's slash commands: their table, parsing, and the decoding settings they change.

Nothing here touches a model: `Settings` is the bundle's decoding defaults plus the user's
overrides, and `apply_setting` turns one settings command into new overrides and a one-line
note (or a one-line `CommandError`). Value rules mirror `DecodingOptions.validate`, whose
messages the REPL shows for anything this parser lets through.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from assistant.runtime.options import default_options

# name -> (usage, what it does); the order is the order of /help.
COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("/help", "show this help"),
    "beam": ("/beam [N]", "beam search (with N hypotheses)"),
    "greedy": ("/greedy", "greedy decoding (fastest)"),
    "sample": ("/sample [KEY=VALUE ...]", "sampling; KEY: temperature, top_k, top_p, seed"),
    "nbest": ("/nbest N", "show the N best replies of beam search"),
    "lenpen": ("/lenpen A", "beam search length penalty (0 favours short replies)"),
    "reset": ("/reset", "forget the conversation's context; back to the default settings"),
    "show": ("/show", "the model, the current settings and the context (what \"it\" is)"),
    "attn": ("/attn", "attention of the last reply: input pieces against reply pieces"),
    "save": ("/save FILE", "save the transcript of this chat"),
    "model": ("/model DIR", "switch to another model bundle"),
    "clear": ("/clear", "clear the screen (also Ctrl-L)"),
    "exit": ("/exit", "leave (also /quit, Ctrl-D)"),
}
ALIASES = {"quit": "exit", "q": "exit", "h": "help", "?": "help", "nbests": "nbest"}
SETTING_COMMANDS = ("beam", "greedy", "sample", "nbest", "lenpen", "reset")
SAMPLE_KEYS = ("temperature", "top_k", "top_p", "seed")
_SAMPLE_ALIASES = {"temp": "temperature", "t": "temperature", "k": "top_k", "p": "top_p"}


class CommandError(ValueError):
    """A command the user mistyped; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Command:
    """One parsed slash command.

    Attributes:
        name: the canonical name (a key of `COMMANDS`; aliases resolved).
        argument: the rest of the line, stripped.
    """

    name: str
    argument: str = ""


def is_command(text: str) -> bool:
    """True if a (single-line) input is a slash command rather than text for the model."""
    return text.lstrip().startswith("/")


def parse_command(text: str) -> Command:
    """Splits "/name argument" and resolves aliases.

    Raises:
        CommandError: the command is unknown.
    """
    head, _, argument = text.strip()[1:].partition(" ")
    name = ALIASES.get(head.lower(), head.lower())
    if name not in COMMANDS:
        shown = head if len(head) <= 20 else head[:20] + "…"
        raise CommandError(f"unknown command /{shown}; /help lists the commands")
    return Command(name, argument.strip())


class Settings:
    """The decoding settings of a chat: the model's defaults plus the user's overrides.

    Args:
        defaults: the bundle's decoding defaults (`Assistant.defaults`).
        overrides: options set on the command line or by commands; these are what the REPL
            passes to `reply(text, **overrides)`.
    """

    def __init__(self, defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None = None):
        self.defaults = dict(defaults)
        self.overrides = dict(overrides or {})

    def effective(self) -> dict[str, Any]:
        """The options in force (`assistant.runtime.options` defaults fill anything missing)."""
        return {**default_options(), **self.defaults, **self.overrides}

    def describe(self) -> str:
        """One line, e.g. "beam search, width 5, n-best 1, length penalty 0.6"."""
        options = self.effective()
        strategy = options["strategy"]
        below = options.get("draft_below")
        drafts = "" if below is None else f"; a reply scored below {below:.4f} is the draft"
        if strategy == "greedy":
            return "greedy" + drafts
        if strategy == "sample":
            top_k = options["top_k"] or "off"
            top_p = "off" if options["top_p"] >= 1 else f"{options['top_p']:g}"
            return (f"sampling, temperature {options['temperature']:g}, top-k {top_k}, "
                    f"top-p {top_p}, seed {options['seed']}")
        return (f"beam search, width {options['beam_width']}, n-best {options['n_best']}, "
                f"length penalty {options['length_penalty']:g}{drafts}")

    def brief(self) -> str:
        """A few words for the toolbar, e.g. "beam 5 · lenpen 0.6"."""
        options = self.effective()
        strategy = options["strategy"]
        if strategy == "greedy":
            return "greedy"
        if strategy == "sample":
            return f"sample · T {options['temperature']:g}"
        text = f"beam {options['beam_width']} · lenpen {options['length_penalty']:g}"
        return text + (f" · n-best {options['n_best']}" if options["n_best"] > 1 else "")


def apply_setting(settings: Settings, command: Command) -> tuple[dict[str, Any], str]:
    """Computes the overrides after a settings command (one of `SETTING_COMMANDS`).

    Args:
        settings: the current settings (not changed).
        command: a parsed settings command.

    Returns:
        (new overrides, a one-line note saying what changed).

    Raises:
        CommandError: a missing or invalid argument (one line).
    """
    current = settings.effective()
    overrides = dict(settings.overrides)
    name, argument = command.name, command.argument
    notes: list[str] = []
    if name == "reset":
        _no_argument(command)
        return {}, "settings reset to the model's defaults"
    if name == "greedy":
        _no_argument(command)
        overrides["strategy"] = "greedy"
    elif name == "beam":
        overrides["strategy"] = "beam"
        if argument:
            width = _parse_int(argument, "/beam", minimum=1)
            overrides["beam_width"] = width
            if current["n_best"] > width:
                overrides["n_best"] = width
                notes.append(f"n-best lowered to {width}")
    elif name == "nbest":
        count = _parse_int(_required(command, "/nbest N"), "/nbest", minimum=1)
        overrides["n_best"] = count
        overrides["strategy"] = "beam"  # n-best lists come from beam search
        if current["beam_width"] < count:
            overrides["beam_width"] = count
            notes.append(f"beam width raised to {count}")
    elif name == "lenpen":
        alpha = _parse_float(_required(command, "/lenpen A"), "/lenpen", minimum=0.0)
        overrides["length_penalty"] = alpha
        if current["strategy"] != "beam":
            notes.append("used by beam search only: /beam switches to it")
    elif name == "sample":
        overrides["strategy"] = "sample"
        overrides.update(_parse_sample(argument))
    else:
        raise CommandError(f"/{name} is not a settings command")
    described = Settings(settings.defaults, overrides).describe()
    return overrides, described + (f" ({'; '.join(notes)})" if notes else "")


def command_completer():
    """Completes command names (with their help) and the arguments of /sample, /save, /model."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    class CommandCompleter(Completer):
        def __init__(self) -> None:
            self.directories = PathCompleter(only_directories=True, expanduser=True)
            self.files = PathCompleter(expanduser=True)

        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            if not text.startswith("/") or "\n" in text:
                return
            name, space, argument = text[1:].partition(" ")
            if not space:
                for command, (usage, meaning) in COMMANDS.items():
                    if command.startswith(name.lower()):
                        yield Completion("/" + command, -len(text), display=usage,
                                         display_meta=meaning)
                return
            if name == "sample":
                word = argument.rpartition(" ")[2]
                for key in ("temperature=", "top_k=", "top_p=", "seed="):
                    if key.startswith(word) and "=" not in word:
                        yield Completion(key, -len(word))
            elif name in ("model", "save"):
                paths = self.directories if name == "model" else self.files
                yield from paths.get_completions(Document(argument.lstrip()), complete_event)

    return CommandCompleter()


def _no_argument(command: Command) -> None:
    if command.argument:
        raise CommandError(f"/{command.name} takes no argument (got {_short(command.argument)})")


def _required(command: Command, usage: str) -> str:
    if not command.argument:
        raise CommandError(f"usage: {usage}")
    return command.argument


def _parse_sample(argument: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for word in argument.split():
        key, equals, value = word.partition("=")
        key = key.lower().replace("-", "_")
        key = _SAMPLE_ALIASES.get(key, key)
        if not equals or not value:
            raise CommandError(f"expected KEY=VALUE, got {_short(word)} (e.g. /sample "
                               "temperature=0.7 top_k=20)")
        if key not in SAMPLE_KEYS:
            raise CommandError(f"unknown /sample setting {_short(key)} "
                               f"(known: {', '.join(SAMPLE_KEYS)})")
        if key == "temperature":
            values[key] = _parse_float(value, "temperature", minimum=0.0,
                                       rule="temperature must be a number >= 0 (0 is greedy)")
        elif key == "top_k":
            values[key] = _parse_int(value, "top_k", minimum=0,
                                     rule="top_k must be a whole number >= 0 (0 is off)")
        elif key == "top_p":
            top_p = _parse_float(value, "top_p", minimum=0.0,
                                 rule="top_p must be a number in (0, 1] (1 is off)")
            if not 0.0 < top_p <= 1.0:
                raise CommandError("top_p must be a number in (0, 1] (1 is off)")
            values[key] = top_p
        else:
            values[key] = _parse_int(value, "seed", rule="seed must be a whole number")
    return values


def _parse_int(text: str, name: str, minimum: int | None = None, rule: str = "") -> int:
    rule = rule or f"{name} needs a whole number >= {minimum}"
    try:
        value = int(text.strip())
    except ValueError:
        raise CommandError(f"{rule}, got {_short(text)}") from None
    if minimum is not None and value < minimum:
        raise CommandError(f"{rule}, got {value}")
    return value


def _parse_float(text: str, name: str, minimum: float, rule: str = "") -> float:
    rule = rule or f"{name} needs a number >= {minimum:g}"
    try:
        value = float(text.strip())
    except ValueError:
        raise CommandError(f"{rule}, got {_short(text)}") from None
    if not math.isfinite(value) or value < minimum:
        raise CommandError(f"{rule}, got {_short(text)}")
    return value


def _short(text: str, limit: int = 24) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "…")


