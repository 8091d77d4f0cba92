"""`python -m assistant convert INPUT -o OUTPUT --runner NAME [-- BEAM_OPTIONS...]`: the
conversion as an Apache Beam pipeline (`transforms.ConvertFiles`) on any runner.

    python -m assistant convert 'logs/*.txt' -o replies.jsonl --runner DirectRunner
    python -m assistant convert 'gs://b/logs/*.txt' -o gs://b/out/replies.jsonl \\
        --model gs://b/bundles/warehouse --num-shards 0 --runner DataflowRunner -- \\
        --project P --region R --temp_location gs://b/tmp --sdk_container_image IMAGE

INPUT is a file or a glob of txt or JSON Lines files (any Beam file system); the output is
JSON Lines, `convert`'s objects plus `input_file` and `line_number`: one file in input order
(`--num-shards 1`, the default) or shards. The decoding options, `--batch-size` (rows decoded
together), `--window` (the largest batch Beam forms, default 16 x --batch-size),
`--cache-size`, `--column`/`--field` and `--strict` mean what they mean for `convert`. What
follows `--` goes to Beam as pipeline options. The command waits for the pipeline, then
prints `convert`'s summary line from the pipeline's counters, its seconds being the
pipeline's whole run (workers' start-up and model loads included).

Checked before the pipeline starts, one line each (exit code 2): Beam not installed, stdin or
stdout, a format other than txt/jsonl in or jsonl out, an INPUT that matches no file, an
output `convert` would refuse, and decoding options the bundle's config.json (read where it
is, any Beam file system) does not accept. This module imports Beam only when it runs.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

from assistant.cli import args as cli
from assistant.cli.convert.formats import FormatError, format_from_path
from assistant.cli.convert.outputs import STDIO, check_output
from assistant.cli.convert.pipeline import CONVERT_MIN_BATCH_ROWS, WINDOW_BATCHES, Summary

INSTALL_HINT = (
    "--runner needs Apache Beam, which is not installed: pip install -e '.[beam]' "
    "(or pip install -r requirements-beam.txt)"
)
INPUT_FORMATS = ("txt", "jsonl")
OUTPUT_FORMAT = "jsonl"
LOCAL_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner", "PrismRunner", "FnApiRunner")
# argparse's `type=Path` makes "gs://b/x" "gs:/b/x"; this puts the second slash back.
_COLLAPSED_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)")


def run(args: argparse.Namespace) -> int:
    """The `convert --runner` command; returns the exit code (see the module docstring)."""
    _require_beam(args.runner, args.debug)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.runner import PipelineState

    from assistant.beam.handler import AssistantModelHandler
    from assistant.beam.transforms import ConvertFiles

    pattern, output, fmt = _check_files(args)
    model = model_uri(args.model)
    handler = AssistantModelHandler(
        model,
        options=_check_options(model, cli.decoding_options(args)),
        batch_size=args.batch_size,
        cache_size=args.cache_size,
        slim_cache=True,
        min_batch_rows=CONVERT_MIN_BATCH_ROWS,
        max_batch_size=args.window or WINDOW_BATCHES * args.batch_size,
    )
    convert = ConvertFiles(pattern, output, handler, fmt, args.column, args.num_shards)
    started = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner", args.runner, *args.beam_options]))
    _ = pipeline | "ConvertFiles" >> convert
    result = pipeline.run()
    state = result.wait_until_finish()
    if state != PipelineState.DONE:
        print(f"error: the pipeline ended {state}", file=sys.stderr, flush=True)
        return cli.EXIT_ERROR
    summary = Summary(*_counts(result), seconds=time.perf_counter() - started)
    print(f"convert: {summary}", file=sys.stderr, flush=True)
    return cli.EXIT_ERROR if args.strict and summary.flagged else cli.EXIT_OK


def model_uri(model: Path | str | None) -> str:
    """The bundle `--model` names as a string: a local path, or a URI whose "//" argparse's
    `Path` collapsed; the default bundle when None."""
    if model is None:
        return str(cli.default_model_dir())
    return _COLLAPSED_URI.sub(r"\1://", str(model))


def _require_beam(runner: str, debug: bool) -> None:
    """Raises a one-line `UsageError` without Apache Beam. Sets what Beam logs on stderr:
    not the notes its import writes to the root logger; its own warnings (e.g. an unknown
    pipeline option), and for a remote runner its progress (the job's console URL, states);
    not the traceback an in-process runner logs for an error that `main` shows in one line.
    With --debug, all of it."""
    if not debug:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().setLevel(logging.ERROR)
        local = runner in LOCAL_RUNNERS
        logging.getLogger("apache_beam").setLevel(logging.WARNING if local else logging.INFO)
        logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise cli.UsageError(INSTALL_HINT) from None


def _check_files(args: argparse.Namespace) -> tuple[str, str, str]:
    """(input pattern, output, input format), checked before the pipeline is built."""
    from apache_beam.io.filesystems import FileSystems

    if args.input in (None, STDIO):
        raise cli.UsageError(
            "--runner reads files: give INPUT, a file or a glob ('logs/*.txt'); stdin is not read"
        )
    if args.output in (None, STDIO):
        raise cli.UsageError(
            "--runner writes files: give -o OUTPUT.jsonl (or the shards' name with --num-shards)"
        )
    pattern, output = args.input, args.output
    try:
        fmt = args.format or format_from_path(pattern) or "txt"
        out_format = args.output_format or format_from_path(output) or OUTPUT_FORMAT
    except FormatError as error:
        raise cli.UsageError(str(error)) from None
    if fmt not in INPUT_FORMATS:
        raise cli.UsageError(f"--runner reads {' and '.join(INPUT_FORMATS)} input, not {fmt}")
    if out_format != OUTPUT_FORMAT:
        raise cli.UsageError(
            f"--runner writes JSON Lines (each record with its file, line "
            f"number and flags), not {out_format}: name the output .jsonl "
            "or give --output-format jsonl"
        )
    local = FileSystems.get_scheme(pattern) is None
    if local and Path(pattern).is_dir():
        raise cli.UsageError(
            f"{pattern}: is a directory; give a file or a glob ('{Path(pattern) / '*.txt'}')"
        )
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except (OSError, ValueError) as error:  # no file system for it, no credentials, ...
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise cli.UsageError(f"{pattern}: cannot list it ({reason})") from None
    if not matched:
        raise cli.UsageError(f"{pattern}: no such file" if local else f"{pattern}: no file matches")
    if FileSystems.get_scheme(output) is None:
        source = Path(matched[0].path) if len(matched) == 1 and local else None
        if check_output(output, source).streamed:
            raise cli.UsageError(
                f"{output}: --runner writes files, not a device or FIFO; give a file name with -o"
            )
    return pattern, output, fmt


def _check_options(model: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options`, checked against the bundle's defaults (its config.json, read where it is)."""
    from assistant.beam.handler import bundle_defaults
    from assistant.runtime.options import ReplyOptions, default_options

    try:
        defaults = bundle_defaults(model)
    except ValueError as error:
        raise cli.UsageError(f"cannot load model: {error}") from None
    try:
        ReplyOptions.resolve(default_options(), defaults, options)
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    return options


def _counts(result) -> tuple[int, int]:
    """(records, flagged) from the pipeline's counters (committed where the runner has them)."""
    from apache_beam.metrics.metric import MetricsFilter

    from assistant.beam.handler import METRICS_NAMESPACE
    from assistant.beam.transforms import FLAGGED_COUNTER, RECORDS_COUNTER

    query = MetricsFilter().with_namespace(METRICS_NAMESPACE)
    totals = {RECORDS_COUNTER: 0, FLAGGED_COUNTER: 0}
    for counter in result.metrics().query(query)["counters"]:
        name = counter.key.metric.name
        if name in totals:
            value = counter.committed if counter.committed is not None else counter.attempted
            totals[name] += value or 0
    return totals[RECORDS_COUNTER], totals[FLAGGED_COUNTER]
