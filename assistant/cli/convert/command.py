"""`python -m assistant convert`: answer every record of a file, in bounded memory.

    python -m assistant convert faults.txt -o replies.txt --beam 5
    python -m assistant convert tickets.csv -o answered.csv --column message
    cat faults.jsonl | python -m assistant convert --format jsonl > answered.jsonl

Records are read in windows of `--window` (default `WINDOW_BATCHES` x `--batch-size`) and
answered by `pipeline.convert`, so memory does not grow with the file. The output has exactly
one record per input record, in input order (formats and their rules:
`assistant.cli.convert.formats`).

Formats: the input format is `--format`, else INPUT's extension (.txt .csv .tsv .tab .jsonl
.ndjson), else txt (stdin, or any other extension). The output format is `--output-format`,
else OUTPUT's extension, else the input format.

Bad records are flagged, never dropped: empty or whitespace-only input, input over the
model's limit (`MAX_SOURCE_PIECES` = 256 SentencePiece pieces, about 768 characters; anything
over `MAX_INPUT_CHARS` characters is refused without tokenizing), invalid UTF-8 (answered with
U+FFFD replacements, and flagged; UTF-16 and UTF-32 are read when a byte-order mark says so),
a missing column or field, JSON that is not an object, and
the flags of the bundle domain's check (`Reply.flags`). csv/tsv/jsonl carry the flags in the output;
txt output cannot, so a flagged txt record's flags go to stderr as `INPUT:LINE: flag; flag` (its
output line is the reply, or empty when there is none). A summary line always goes to stderr.

A record seen before (outer spaces aside, with the same options) is answered from the
assistant's reply cache (`assistant.runtime.cache`) instead of being decoded again;
`--cache-size N` bounds it, `--no-cache` turns it off, and the summary counts its hits.

A file output is written to a temporary file beside it and renamed at the end: after Ctrl-C,
a kill (SIGTERM) or a crash the target is absent or still holds its previous content. After
SIGKILL a `.NAME.XXXXXXXX.tmp` file is left beside it; the next run on the same target removes
it (`assistant.core.atomic_files`). `-o` never replaces what it names: a symlink's target is
written, a device (/dev/null) or FIFO is written to as a stream, like stdout (window by
window); what cannot be written is refused before the model loads (`outputs`).

With `--runner NAME` the conversion runs as an Apache Beam pipeline instead, on that runner
(globs of txt or jsonl files in, JSON Lines out, the arguments after a lone `--` going to
Beam): `assistant.beam.launch`, which needs the [beam] extra and is imported only then.

Exit codes: 0 done; 1 `--strict` and a record was flagged (the output is still written), a
read or write that failed midway (one line naming the path), or an unexpected error; 2 usage
errors (one line, before the model loads when they can be), e.g. a missing input, an
unwritable -o or an unknown column.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from assistant.cli import args as cli
from assistant.cli.convert import contexts as record_contexts
from assistant.cli.convert.formats import (
    FLAG_SEPARATOR,
    FORMATS,
    FormatError,
    Reader,
    Record,
    Result,
    format_from_path,
    open_reader,
)
from assistant.cli.convert.lines import InputError, read_hint
from assistant.cli.convert.outputs import STDIO, OutputError, check_output, open_output
from assistant.cli.convert.pipeline import (
    CONVERT_CACHE_SIZE,
    CONVERT_MIN_BATCH_ROWS,
    DEFAULT_BATCH_SIZE,
    WINDOW_BATCHES,
    Summary,
    convert,
)
from assistant.cli.convert.progress import progress_bar
from assistant.cli.convert.writers import open_writer
from assistant.runtime.cache import ReplyCache
from assistant.runtime.domain import Domain


def register(subparsers, domain: type[Domain]) -> None:
    """Adds `convert` to the `python -m assistant` subcommands."""
    parser = subparsers.add_parser(
        "convert",
        help="answer every line or record of a txt, CSV, TSV or JSON Lines file",
        description="Answer every record of a file in input order: txt (one record per "
                    "line), CSV/TSV (the input columns plus reply, score, flags) or JSON Lines "
                    "(the input object plus the same keys). Bad records are flagged, never "
                    "dropped; a file output is replaced atomically when done (a device, FIFO "
                    "or symlink's target is written through, never replaced).",
        epilog="Details (format rules, flags, exit codes): `pydoc assistant.cli.convert.command`.",
    )
    parser.add_argument("input", nargs="?", metavar="INPUT",
                        help="input file; '-' or none with piped input reads stdin")
    parser.add_argument("-o", "--output", metavar="OUTPUT",
                        help="output file, replaced atomically when done; a device or FIFO "
                             "is written as a stream (default: stdout)")
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
    parser.add_argument("--window", type=cli.positive_int, metavar="N",
                        help=f"records read, answered and written at a time (default "
                             f"{WINDOW_BATCHES} x --batch-size); larger sorts better by "
                             "length, smaller holds less in memory")
    parser.add_argument("--strict", action="store_true",
                        help="exit with 1 if any record was flagged (the output is written)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-size", type=cli.non_negative_int, default=CONVERT_CACHE_SIZE,
                       metavar="N", help="replies kept so that a repeated record is decoded "
                                         f"once (default {CONVERT_CACHE_SIZE}; 0 is off)")
    cache.add_argument("--no-cache", action="store_const", const=0, dest="cache_size",
                       help="same as --cache-size 0")
    record_contexts.add_arguments(parser)
    cli.add_model_argument(parser)
    cli.add_decoding_arguments(parser, domain.runtime_options)
    _add_beam_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: cli.Context) -> int:
    """The `convert` command; returns the exit code (see the module docstring)."""
    if args.runner is not None:
        from assistant.beam import launch  # imports Apache Beam, the [beam] extra

        if args.context_column is not None or args.context_field is not None:
            raise cli.UsageError("--context-column/--context-field do not run with --runner")
        return launch.run(args)
    if args.num_shards != 1:
        raise cli.UsageError("--num-shards needs --runner")
    options = cli.decoding_options(args)
    source = _input_path(args.input)
    name = str(source) if source is not None else "<stdin>"
    in_format, out_format = _formats(args, source)
    context_name = record_contexts.context_name(args, in_format)
    _check_input(source)
    output = check_output(args.output, source)  # before the model loads
    try:
        with _open_input(source) as stream:
            reader = _open_reader(in_format, out_format, stream, args.column, name)
            assistant = context.load_assistant(args.model)
            _size_cache(assistant, args.cache_size)
            if hasattr(assistant, "min_batch_rows"):  # a test's fake has none
                assistant.min_batch_rows = CONVERT_MIN_BATCH_ROWS
            _check_options(assistant, options, out_format)
            reply_batch = functools.partial(assistant.reply_batch,
                                            batch_size=args.batch_size, **options)
            bom = reader.had_bom and {in_format, out_format} <= {"csv", "tsv"}
            window = args.window or WINDOW_BATCHES * args.batch_size
            with _terminate_as_exit(), open_output(output) as handle, \
                    progress_bar(stream, reader) as progress:
                writer = open_writer(out_format, handle, reader, bom=bom)
                report = _reporter(name, progress) if out_format == "txt" else None
                before = _cache_counts(assistant)
                summary = convert(reader, reply_batch, writer, window=window,
                                  on_flagged=report, on_window=progress.update,
                                  contexts=_contexts(context_name, reader, assistant))
                summary = _with_cache_counts(summary, before, _cache_counts(assistant))
    except InputError as error:
        return _fail(f"{name}: {error}")
    except OutputError as error:
        return _fail(str(error))
    print(f"convert: {summary}", file=sys.stderr, flush=True)
    return cli.EXIT_ERROR if args.strict and summary.flagged else cli.EXIT_OK


def _contexts(name: str | None, reader, assistant):
    """Each record's context for `convert` (`--context-column`/`--context-field`), or None."""
    if name is None:
        return None
    try:
        return record_contexts.RecordContexts(name, reader.header,
                                              assistant.domain.remember).contexts
    except ValueError as error:
        raise cli.UsageError(str(error)) from None


def _add_beam_arguments(parser: argparse.ArgumentParser) -> None:
    """`--runner`, `--num-shards` and `-- BEAM_OPTIONS...` (`assistant.beam.launch`)."""
    group = parser.add_argument_group(
        "Apache Beam (the [beam] extra: pip install -e '.[beam]')",
        "With --runner, INPUT may be a glob of txt or jsonl files (local, gs://, ...) and the "
        "output is JSON Lines, each record with its input_file and line_number; the arguments "
        "after a lone -- are Beam pipeline options. Details: `pydoc assistant.beam.launch`.")
    group.add_argument("--runner", metavar="NAME",
                       help="run as an Apache Beam pipeline on this runner (DirectRunner, "
                            "DataflowRunner, FlinkRunner, SparkRunner, ...)")
    group.add_argument("--num-shards", type=cli.non_negative_int, default=1, metavar="N",
                       help="with --runner: 1 (default) writes OUTPUT in input order; N "
                            "writes N shards, NAME-00000-of-0000N.jsonl for -o NAME.jsonl, in "
                            "no order; 0 lets the runner choose how many")
    parser.set_defaults(beam_options=[])
    parse_known_args = parser.parse_known_args

    def split_at_dashes(args=None, namespace=None):
        # argparse cannot take "-- ..." after INPUT (it has consumed its positionals by
        # then): with --runner before it, what follows the first "--" is Beam's.
        args = list(sys.argv[1:] if args is None else args)
        head = args[: args.index("--")] if "--" in args else args
        if not any(arg == "--runner" or arg.startswith("--runner=") for arg in head):
            return parse_known_args(args, namespace)
        namespace, extras = parse_known_args(head, namespace)
        namespace.beam_options = args[len(head) + 1 :]
        return namespace, extras

    parser.parse_known_args = split_at_dashes


def _formats(args: argparse.Namespace, source: Path | None) -> tuple[str, str]:
    """The input and output formats (see the module docstring)."""
    target = None if args.output in (None, STDIO) else Path(args.output)
    try:
        in_format = args.format or (format_from_path(source) if source else None) or "txt"
        out_format = (args.output_format or (format_from_path(target) if target else None)
                      or in_format)
    except FormatError as error:
        raise cli.UsageError(str(error)) from None
    return in_format, out_format


def _open_reader(in_format: str, out_format: str, stream: IO[bytes], column: str | None,
                 name: str) -> Reader:
    try:
        reader = open_reader(in_format, stream, column)
    except FormatError as error:
        raise cli.UsageError(f"{name}: {error}") from None
    if out_format == "jsonl" and reader.header and len(set(reader.header)) < len(
            reader.header):
        raise cli.UsageError(f"{name}: duplicate column names; JSON objects need "
                             "distinct keys")
    return reader


def _reporter(name: str, progress) -> Callable[[Record, Result], None]:
    """Reports a flagged record of a txt output (which cannot hold flags) on stderr."""

    def report(record: Record, result: Result) -> None:
        progress.print(f"{name}:{record.line}: {FLAG_SEPARATOR.join(result.flags)}")

    return report


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return cli.EXIT_ERROR


def _input_path(value: str | None) -> Path | None:
    """The input file, or None for stdin."""
    if value == STDIO:
        return None
    if value is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise cli.UsageError("no input: give INPUT, or pipe records to stdin")
        return None
    return Path(value)


def _check_input(source: Path | None) -> None:
    if source is not None:
        if source.is_dir():
            raise cli.UsageError(f"{source}: is a directory")
        if not source.exists():
            raise cli.UsageError(f"{source}: no such file")




def _size_cache(assistant, size: int) -> None:
    """Gives the loaded assistant a reply cache of `size` entries (0: none). A loader's
    object without a `cache` attribute (a test's fake) is left as it is."""
    if not hasattr(assistant, "cache"):
        return
    if size == 0:
        assistant.cache = None
    else:  # convert reads a reply's text, score, alternatives and flags only
        assistant.cache = ReplyCache(size, slim=True)


def _cache_counts(assistant) -> tuple[int, int, int] | None:
    """(hits, lookups, units decoded) of the assistant's cache so far, or None without one."""
    cache = getattr(assistant, "cache", None)
    if cache is None:
        return None
    stats = cache.stats
    return stats.hits, stats.lookups, stats.unit_misses - stats.template_hits


def _with_cache_counts(summary: Summary, before: tuple[int, int, int] | None,
                       after: tuple[int, int, int] | None) -> Summary:
    if before is None or after is None:
        return summary
    return dataclasses.replace(summary, cache_hits=after[0] - before[0],
                               cache_lookups=after[1] - before[1],
                               decoded_units=after[2] - before[2])


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
        raise cli.UsageError(f"{source}: cannot read ({error.strerror}); "
                             f"{read_hint(error)}") from None
    with stream:
        yield stream


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
