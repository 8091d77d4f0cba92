"""The `chat` subcommand without a terminal: one output line per input line.

`python -m assistant chat < inputs.txt > replies.txt` answers line N of the input on line N of
the output. Every line is text for the model (slash commands are not interpreted), lines are
answered in batches as they arrive, and nothing a line contains ends the run.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, BinaryIO, TextIO

from assistant.cli.args import EXIT_OK
from assistant.cli.chat.keys import INVALID_UTF8

PIPE_BATCH = 64  # lines decoded together


def run_pipe(reply_batch: Callable[..., Sequence[Any]], stdin: BinaryIO, stdout: TextIO,
             stderr: TextIO, options: Mapping[str, Any] | None = None,
             batch_size: int = PIPE_BATCH) -> int:
    """Answers each line of `stdin` with exactly one line on `stdout`.

    Lines are decoded as UTF-8 and answered in chunks of up to `batch_size` as they arrive,
    flushing after each chunk. A line that cannot be answered (empty, too long, a failure)
    gives an empty output line and `line N: why` on `stderr`. A line with bytes that are not
    UTF-8 is answered with U+FFFD in their place and flagged the same way, as `convert` does;
    faithfulness flags go to `stderr` too. Each line has at most one `stderr` line, its
    problems joined by "; ". Every line is text for the model.

    Args:
        reply_batch: `reply_batch(texts, **options) -> list[Reply]` (`Assistant.reply_batch`).
        stdin: binary input stream.
        stdout: text output, one reply per line.
        stderr: text output for messages.
        options: decoding options.
        batch_size: the most lines answered together.

    Returns:
        The exit code (0).
    """
    options = dict(options or {})
    number = 0
    for chunk in _line_chunks(stdin, batch_size):
        lines = [text for text, _ in chunk]
        for (_, valid), reply in zip(chunk, _batch_replies(reply_batch, lines, options),
                                     strict=True):
            number += 1
            error = getattr(reply, "error", None)
            stdout.write(("" if error else _one_line(reply.text)) + "\n")
            problems = [] if valid else [INVALID_UTF8]
            if error:
                problems.append(_one_line(error))
            elif reply.flags:
                problems.append(f"check: {_one_line('; '.join(reply.flags))}")
            if problems:
                stderr.write(f"line {number}: {'; '.join(problems)}\n")
        stdout.flush()
        stderr.flush()
    return EXIT_OK


def _line_chunks(stream: BinaryIO, most: int) -> Iterator[list[tuple[str, bool]]]:
    """Lists of up to `most` (decoded line, valid UTF-8), as soon as they are available (not
    at EOF only); a UTF-8 byte-order mark before the first line is dropped."""
    read = getattr(stream, "read1", stream.read)
    pending = bytearray()
    first = True
    while True:
        data = read(1 << 16)
        if not data:
            break
        pending += data
        *complete, rest = bytes(pending).split(b"\n")
        pending = bytearray(rest)
        if complete and first:
            complete[0], first = complete[0].removeprefix(codecs.BOM_UTF8), False
        for start in range(0, len(complete), most):
            yield [_decode(line) for line in complete[start : start + most]]
    if pending:
        yield [_decode(bytes(pending).removeprefix(codecs.BOM_UTF8) if first
                       else bytes(pending))]


def _decode(line: bytes) -> tuple[str, bool]:
    """(text, True), or (text with U+FFFD for the bad bytes, False) if `line` is not UTF-8."""
    line = line.removesuffix(b"\r")
    try:
        return line.decode("utf-8"), True
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace"), False


def _batch_replies(reply_batch, lines: list[str], options: dict[str, Any]) -> list[Any]:
    """`reply_batch(lines)`; if it fails, line by line, a failing line getting an error reply."""
    try:
        replies = list(reply_batch(lines, **options))
        if len(replies) == len(lines):
            return replies
    except Exception as error:
        if len(lines) == 1:
            first = _one_line(str(error)) or type(error).__name__
            return [SimpleNamespace(text="", flags=(), error=f"{type(error).__name__}: {first}")]
    return [reply for line in lines for reply in _batch_replies(reply_batch, [line], options)]


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines())
