"""`python -m assistant convert`: answer every record of a file, in bounded memory.

    python -m assistant convert faults.txt -o replies.txt --beam 5
    python -m assistant convert tickets.csv -o answered.csv --column message
    cat faults.jsonl | python -m assistant convert --format jsonl > answered.jsonl

Records are read in windows of `WINDOW_BATCHES` x `--batch-size`; each window goes to
`Assistant.reply_batch` (which sorts it by length for padding-efficient batches and returns
input order) and is written before the next is read, so memory does not grow with the file.
The output has exactly one record per input record, in input order (formats and their rules:
`assistant.batch_formats`).

Formats: the input format is `--format`, else INPUT's extension (.txt .csv .tsv .tab .jsonl
.ndjson), else txt (stdin, or any other extension). The output format is `--output-format`,
else OUTPUT's extension, else the input format.

Bad records are flagged, never dropped: empty or whitespace-only input, input over the
model's limit (`MAX_SOURCE_PIECES` = 256 SentencePiece pieces, about 768 characters; anything
over `MAX_INPUT_CHARS` characters is refused without tokenizing), invalid UTF-8 (answered with
U+FFFD replacements, and flagged), a missing column or field, JSON that is not an object, and
the model's faithfulness warnings (`Reply.flags`). csv/tsv/jsonl carry the flags in the output;
txt output cannot, so a flagged txt record's flags go to stderr as `INPUT:LINE: flag; flag` (its
output line is the reply, or empty when there is none). A summary line always goes to stderr.

A file output is written to a temporary file beside it and renamed at the end: after Ctrl-C,
a kill (SIGTERM) or a crash the target is absent or still holds its previous content. (After
SIGKILL a `.NAME.*.tmp` file may be left beside it.) Stdout streams, window by window.

Exit codes: 0 done; 1 `--strict` and a record was flagged (the output is still written) or
an unexpected error; 2 usage errors (one line), e.g. a missing input or an unknown column.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from assistant import cli
from assistant.batch_formats import (
    FLAG_SEPARATOR,
    FORMATS,
    FormatError,
    Reader,
    Record,
    Result,
    Writer,
    format_from_path,
    open_reader,
    open_writer,
)

WINDOW_BATCHES = 16  # records read (and sorted by length) at a time = this x --batch-size
DEFAULT_BATCH_SIZE = 64  # rows decoded together (the largest compiled batch bucket)
MAX_INPUT_CHARS = 4096  # 256 pieces x at most 16 characters per piece: surely too long
STDIO = "-"


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a conversion did."""

    records: int
    flagged: int
    seconds: float

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (f"{self.records:,} records, {self.flagged:,} flagged, {self.seconds:.2f} s, "
                f"{self.rate:,.1f} records/s")


def convert(
    records: Iterable[Record],
    reply_batch: Callable[[list[str]], Sequence[Any]],
    writer: Writer,
    window: int = WINDOW_BATCHES * DEFAULT_BATCH_SIZE,
    on_flagged: Callable[[Record, Result], None] | None = None,
    on_window: Callable[[int], None] | None = None,
) -> Summary:
    """Answers and writes every record, `window` records at a time, in input order.

    Args:
        records: the input records (read lazily).
        reply_batch: `texts -> replies` in the same order, e.g. a partial of
            `Assistant.reply_batch`; a reply has `text`, `score`, `flags`, `error` and
            `alternatives` (`assistant.inference.Reply`).
        writer: where each record's `Result` goes.
        window: records per `reply_batch` call.
        on_flagged: called with each flagged record and its result.
        on_window: called with the number of records written so far after each window.

    Returns:
        The counts and the seconds it took.
    """
    started = time.perf_counter()
    count = flagged = 0
    for chunk in _windows(records, window):
        asked = [record for record in chunk
                 if record.text is not None and _input_problem(record.text) is None]
        replies = reply_batch([record.text for record in asked]) if asked else []
        if len(replies) != len(asked):
            raise RuntimeError(f"reply_batch returned {len(replies)} replies for "
                               f"{len(asked)} texts")
        by_record = {id(record): reply for record, reply in zip(asked, replies, strict=True)}
        for record in chunk:
            result = _result(record, by_record.get(id(record)))
            writer.write(record, result)
            if result.flags:
                flagged += 1
                if on_flagged is not None:
                    on_flagged(record, result)
        count += len(chunk)
        writer.flush()
        if on_window is not None:
            on_window(count)
    return Summary(count, flagged, time.perf_counter() - started)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="answer every line or record of a txt, CSV, TSV or JSON Lines file",
        description="Answer every record of a file in input order: txt (one record per "
                    "line), CSV/TSV (the input columns plus reply, score, flags) or JSON Lines "
                    "(the input object plus the same keys). Bad records are flagged, never "
                    "dropped; a file output is replaced atomically when done.",
        epilog="Details (format rules, flags, exit codes): `pydoc assistant.batch`.",
    )
    parser.add_argument("input", nargs="?", metavar="INPUT",
                        help="input file; '-' or none with piped input reads stdin")
    parser.add_argument("-o", "--output", metavar="OUTPUT",
                        help="output file, replaced atomically when done (default: stdout)")
    parser.add_argument("--format", choices=FORMATS,
                        help="input format (default: from INPUT's extension, else txt); also "
                             "the output's unless OUTPUT's extension or --output-format says")
    parser.add_argument("--output-format", choices=FORMATS,
                        help="output format (default: from OUTPUT's extension, else --format)")
    column = parser.add_mutually_exclusive_group()
    help_column = ("the column (csv, tsv) or field (jsonl) to answer; default: the first of "
                   "source, text, input")
    column.add_argument("--column", metavar="NAME", dest="column", help=help_column)
    column.add_argument("--field", metavar="NAME", dest="column", help="same as --column")
    parser.add_argument("--batch-size", type=cli.positive_int, default=DEFAULT_BATCH_SIZE,
                        metavar="N", help=f"inputs decoded together (default "
                                          f"{DEFAULT_BATCH_SIZE})")
    parser.add_argument("--strict", action="store_true",
                        help="exit with 1 if any record was flagged (the output is written)")
    cli.add_model_argument(parser)
    cli.add_decoding_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The `convert` command; returns the exit code (see the module docstring)."""
    options = cli.decoding_options(args)
    source = _input_path(args.input)
    target = None if args.output in (None, STDIO) else Path(args.output)
    name = str(source) if source is not None else "<stdin>"
    try:
        in_format = args.format or (format_from_path(source) if source else None) or "txt"
        out_format = (args.output_format or (format_from_path(target) if target else None)
                      or in_format)
    except FormatError as error:
        raise cli.UsageError(str(error)) from None
    _check_paths(source, target)
    with _open_input(source) as stream:
        try:
            reader = open_reader(in_format, stream, args.column)
        except FormatError as error:
            raise cli.UsageError(f"{name}: {error}") from None
        if out_format == "jsonl" and reader.header and len(set(reader.header)) < len(
                reader.header):
            raise cli.UsageError(f"{name}: duplicate column names; JSON objects need "
                                 "distinct keys")
        assistant = cli.load_assistant(args.model)
        _check_options(assistant, options, out_format)
        reply_batch = functools.partial(assistant.reply_batch, batch_size=args.batch_size,
                                        **options)
        bom = reader.had_bom and in_format in ("csv", "tsv") and out_format in ("csv", "tsv")
        with _terminate_as_exit(), _open_output(target) as handle, \
                _progress(stream, reader) as progress:
            writer = open_writer(out_format, handle, reader, bom=bom)
            report = None
            if out_format == "txt":
                def report(record: Record, result: Result) -> None:
                    progress.print(f"{name}:{record.line}: "
                                   f"{FLAG_SEPARATOR.join(result.flags)}")
            summary = convert(reader, reply_batch, writer,
                              window=WINDOW_BATCHES * args.batch_size, on_flagged=report,
                              on_window=progress.update)
    print(f"convert: {summary}", file=sys.stderr, flush=True)
    return cli.EXIT_ERROR if args.strict and summary.flagged else cli.EXIT_OK


def _windows(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _input_problem(text: str) -> str | None:
    if not text.strip():
        return "empty input"
    if len(text) > MAX_INPUT_CHARS:
        return f"input too long: {len(text):,} characters, the limit is {MAX_INPUT_CHARS:,}"
    return None


def _result(record: Record, reply: Any | None) -> Result:
    flags = list(record.problems)
    if reply is None:
        if record.text is not None:
            flags.append(_input_problem(record.text) or "not answered")
        return Result("", None, tuple(flags))
    if reply.error is not None:
        return Result("", None, (*flags, reply.error))
    alternatives = tuple((a.text, a.score) for a in getattr(reply, "alternatives", ()))
    return Result(reply.text, reply.score, (*flags, *reply.flags), alternatives)


def _input_path(value: str | None) -> Path | None:
    """The input file, or None for stdin."""
    if value == STDIO:
        return None
    if value is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise cli.UsageError("no input: give INPUT, or pipe records to stdin")
        return None
    return Path(value)


def _check_paths(source: Path | None, target: Path | None) -> None:
    if source is not None:
        if source.is_dir():
            raise cli.UsageError(f"{source}: is a directory")
        if not source.exists():
            raise cli.UsageError(f"{source}: no such file")
    if target is not None:
        if target.is_dir():
            raise cli.UsageError(f"{target}: is a directory; give a file name with -o")
        if source is not None and target.exists() and os.path.samefile(source, target):
            raise cli.UsageError(f"{target}: the output would replace the input it is "
                                 "reading; choose another -o")


def _check_options(assistant, options: dict[str, Any], out_format: str) -> None:
    try:
        assistant.reply_batch([], **options)  # validates the options, decodes nothing
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    settings = {**assistant.defaults, **options}
    n_best = settings.get("n_best", 1) if settings.get("strategy") == "beam" else 1
    if n_best > 1 and out_format != "jsonl":
        raise cli.UsageError(f"--nbest {n_best} needs jsonl output (its 'alternatives' key); "
                             f"{out_format} holds one reply per record")


@contextlib.contextmanager
def _open_input(source: Path | None) -> Iterator[IO[bytes]]:
    if source is None:
        yield sys.stdin.buffer
        return
    try:
        stream = source.open("rb")
    except OSError as error:
        raise cli.UsageError(f"{source}: cannot read ({error.strerror})") from None
    with stream:
        yield stream


@contextlib.contextmanager
def _open_output(target: Path | None) -> Iterator[IO[str]]:
    """An atomic file, or stdout as UTF-8 text whatever the locale."""
    if target is not None:
        from assistant.io_utils import atomic_open

        with atomic_open(target, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    sys.stdout.flush()
    handle = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        yield handle
        handle.flush()
    finally:
        handle.detach()  # leave sys.stdout's buffer open


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turns SIGTERM into SystemExit(143), so the atomic output is cleaned up."""

    def terminate(signum, frame):
        raise SystemExit(128 + signal.SIGTERM)

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _NoProgress:
    def update(self, records: int) -> None:
        pass

    def print(self, message: str) -> None:
        print(message, file=sys.stderr)


class _RichProgress:
    def __init__(self, progress, task, reader: Reader) -> None:
        self._progress, self._task, self._reader = progress, task, reader

    def update(self, records: int) -> None:
        self._progress.update(self._task, completed=self._reader.bytes_read, records=records)

    def print(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False)


@contextlib.contextmanager
def _progress(stream: IO[bytes], reader: Reader) -> Iterator[_NoProgress | _RichProgress]:
    """A progress bar (by bytes read) on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        size = os.fstat(stream.fileno()).st_size or None
    except (OSError, ValueError, io.UnsupportedOperation):
        size = None
    columns = [TextColumn("converting"), BarColumn(),
               TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("convert", total=size, records=0)
        yield _RichProgress(progress, task, reader)
