"""How the chat REPL shows things with rich: replies, n-best tables, attention heatmaps, help.

Model text is never parsed as rich markup: everything it produces is wrapped in `Text`
objects after `printable` has replaced control characters (a byte-fallback model can emit
an escape character, which would otherwise reach the terminal).
"""

from __future__ import annotations

import math
import re
from typing import Any

from rich import box
from rich.color import Color
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from assistant.cli.chat.commands import COMMANDS, Settings

SHADES = " ░▒▓█"  # attention cells, lightest to darkest
SHADE_FLOORS = (0.0, 0.05, 0.2, 0.4, 0.7)  # the weight at which each shade starts
MAX_LABEL = 12  # reply pieces longer than this are cut in the heatmap's row labels
MAX_HEADER = 10  # input pieces longer than this are cut in its column headers
KEYS_HELP = (
    ('"""', 'start a multi-line input; end it with """ (a paste works too)'),
    ("Ctrl-C", "clear the line, or stop waiting for a reply"),
    ("Ctrl-D", "leave (at once, also during a reply)"),
    ("Ctrl-L", "clear the screen"),
    ("Up / Right", "history / accept the grey suggestion"),
)


def printable(text: str) -> str:
    """Replaces control characters (C0, DEL, C1) by visible escapes such as "\\x1b"."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def banner(console: Console, name: str, settings: Settings, hint: str = "") -> None:
    """The greeting: the model, its settings, what to type (the domain's `hint`), how to
    get help and how to leave."""
    console.print(Text.assemble(("keras-assistant", "bold"), " · model ",
                                (printable(name), "bold cyan"), f" ({settings.describe()})"))
    hint = f"{hint.rstrip('.')}. " if hint else ""
    console.print(Text(f"{hint}/help for commands, Ctrl-D or /exit to leave.", style="dim"))


def show_help(console: Console) -> None:
    """The commands and keys."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for usage, meaning in COMMANDS.values():
        table.add_row(usage, meaning)
    for key, meaning in KEYS_HELP:
        table.add_row(key, meaning)
    console.print(table)
    console.print(Text("Anything else is sent to the model; each line of a multi-line input "
                       "is answered on its own.", style="dim"))


def show_settings(console: Console, name: str, location: str, settings: Settings,
                  history: str, context: tuple[str, str] | None = None,
                  reads_context: bool = True) -> None:
    """/show: the model, the decoding settings, the context (when the session keeps one:
    its text and what "it" means, `context`) and where the history goes."""
    options = settings.effective()
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    model = printable(name) + (f" ({printable(location)})" if location else "")
    table.add_row("model", Text(model))
    table.add_row("decoding", settings.describe())
    table.add_row("lengths", f"min {options['min_length']}, max {options['max_length_a']:g} + "
                             f"{options['max_length_b']:g} x input pieces")
    changed = [key for key, value in settings.overrides.items()
               if settings.defaults.get(key) != value]
    table.add_row("changed", ", ".join(sorted(changed)) if changed else "nothing (model defaults)")
    if context is not None:
        text, about = context
        unread = "" if reads_context else " (not read by this model; the check uses it)"
        table.add_row("context", Text(printable(text) + unread if text else "none"))
        if about:
            table.add_row("it", Text(printable(about)))
    table.add_row("history", Text(history))
    console.print(table)


def show_reply(console: Console, reply: Any, elapsed: float | None = None) -> None:
    """A reply: its text (or an n-best table), score and time, then any flags of the check.

    Args:
        console: where to print.
        reply: an `assistant.runtime.assistant.Reply` (or anything with its fields).
        elapsed: seconds the reply took, shown in ms; None hides it.
    """
    alternatives = tuple(getattr(reply, "alternatives", ()) or ())
    if len(alternatives) > 1:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("reply", overflow="fold")
        for rank, alternative in enumerate(alternatives, start=1):
            table.add_row(str(rank), _score(alternative.score), Text(printable(alternative.text)),
                          style="bold" if rank == 1 else None)
        console.print(table)
    else:
        console.print(Text(printable(reply.text)))
    details = [] if len(alternatives) > 1 else [f"score {_score(reply.score)}"]
    if elapsed is not None:
        details.append(f"{elapsed * 1000:.0f} ms")
    if details:
        console.print(Text(" · ".join(details), style="dim"))
    if reply.flags:
        console.print(Text("⚠ check: " + "; ".join(printable(flag) for flag in reply.flags),
                           style="yellow"))


def show_attention(console: Console, reply: Any) -> None:
    """/attn: a heatmap of `reply.attention`, one row per reply piece, one column per input piece.

    The matrix is (len(reply.pieces), len(reply.source_pieces)); each cell is two characters
    shaded by weight (`SHADES`, colour where the terminal has it). Columns that do not fit the
    console's width continue in a further block below.
    """
    weights = reply.attention
    rows, columns = list(reply.pieces), list(reply.source_pieces)
    if weights is None or not rows or not columns:
        console.print(Text("the last reply has no attention weights", style="yellow"))
        return
    labels = [_cut(printable(piece), MAX_LABEL) for piece in rows]
    headers = [_cut(printable(piece), MAX_HEADER) for piece in columns]
    label_width = max(len(label) for label in labels)
    per_block = max(1, (console.width - label_width - 1) // 2)
    legend = "  ".join(f"{shade} ≥{floor:g}" for shade, floor in
                       zip(SHADES[1:], SHADE_FLOORS[1:], strict=True))
    console.print(Text(f"attention (rows: reply pieces, columns: input pieces; {legend})",
                       style="dim"))
    for start in range(0, len(columns), per_block):
        block = range(start, min(start + per_block, len(columns)))
        height = max(len(headers[column]) for column in block)
        for line in range(height):  # the input pieces, written top to bottom
            text = Text(" " * (label_width + 1))
            for column in block:
                header = headers[column]
                text.append((header[line] if line < len(header) else " ") + " ", style="bold")
            console.print(text, no_wrap=True, overflow="crop")
        for row, label in enumerate(labels):
            text = Text(label.ljust(label_width) + " ")
            for column in block:
                weight = float(weights[row][column])
                text.append(_shade(weight) * 2, style=_heat(weight))
            console.print(text, no_wrap=True, overflow="crop")
        if start + per_block < len(columns):
            console.print()
    _show_copy_gate(console, reply, labels, label_width)


def context_header(console: Console, about: str, read: bool = True) -> None:
    """The line above a reply given in a context: what "it" meant ("it: E217 on conveyor
    7"), and whether the model read it (a model trained without context answers the line
    on its own; the domain's check still reads the context)."""
    unread = "" if read else " (not read by this model: it answers the line on its own)"
    console.print(Text(f"it: {printable(about)}{unread}", style="dim"))


def reply_lines(reply: Any) -> list[str]:
    """The plain-text transcript lines of a reply (for /save)."""
    alternatives = tuple(getattr(reply, "alternatives", ()) or ())
    lines = [reply.text, f"  (score {_score(reply.score)})"]
    if len(alternatives) > 1:
        lines += [f"  {rank}. ({_score(alternative.score)}) {alternative.text}"
                  for rank, alternative in enumerate(alternatives, start=1)]
    lines += [f"  warning: {flag}" for flag in reply.flags]
    return lines


def input_echo(console: Console, text: str) -> None:
    """Repeats one line of a multi-line input above its reply."""
    console.print(Text("› " + printable(text), style="bold"))


def note(console: Console, text: str) -> None:
    """A one-line notice (settings changed, file saved)."""
    console.print(Text(printable(text), style="green"))


def warning(console: Console, text: str) -> None:
    """A one-line warning about the input (the reply still follows)."""
    console.print(Text("⚠ " + printable(_first_line(text)), style="yellow"))


def problem(console: Console, text: str) -> None:
    """A one-line error that leaves the session running."""
    console.print(Text(printable(_first_line(text)), style="red"))


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "error"


def _score(score: float) -> str:
    return "n/a" if score is None or math.isnan(score) else f"{score:.2f}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shade(weight: float) -> str:
    level = sum(weight >= floor for floor in SHADE_FLOORS[1:])
    return SHADES[level]


def _heat(weight: float) -> Style:
    """Dark blue (0) to bright yellow (1)."""
    weight = min(max(weight, 0.0), 1.0) ** 0.5
    return Style(color=Color.from_rgb(40 + 215 * weight, 60 + 170 * weight, 120 - 80 * weight))


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _show_copy_gate(console: Console, reply: Any, labels: list[str], width: int) -> None:
    """With copy attention: per reply piece, the share copied from the input (1 - p_gen)."""
    gates = tuple(getattr(reply, "copy_gate", ()) or ())
    if len(gates) != len(labels):
        return
    console.print(Text("copied from the input (1 - copy gate p_gen), per reply piece:",
                       style="dim"))
    for label, gate in zip(labels, gates, strict=True):
        copied = 1.0 - gate
        console.print(Text(f"{label.ljust(width)} ").append(
            f"{_shade(copied) * 2} {copied:.2f}", style=_heat(copied)), no_wrap=True)
