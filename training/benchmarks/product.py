"""`make bench-product`: the real workload on the shipped bundle, against the targets of issue 16.

The workload is the seeded warehouse log (`assistant.domains.warehouse.logs`: skewed faults,
PLC bursts, 20 % multi-record lines, 10 % questions and small talk, 1 % malformed lines).
Everything is measured in one run, so the ratios share the machine's load:

- product path lines/s: `Assistant.reply_batch` with the bundle's defaults (beam search,
  rerank and retry by the domain's check, records segmented) on the log's first `--lines`
  lines, 64 lines per call in log order (a mixed batch); greedy lines/s: the same calls
  with `strategy="greedy"` (the other defaults kept). Target: product >= 1/4 of greedy.
- batch-1 latency of `reply()` (p50, p95 over `--repeats` calls) for the log's first
  single record, multi-record line and question. Target: single record p50 <= 15 ms.
- model alone (rerank off) against the export's `serving_default` (a SavedModel of the
  bundle, loaded in this process) on the same batches of 64. Target: the export's lines/s
  within 1.3x of the runtime's.
- utilisation: the model FLOPs the product path executed per second over the float32
  matmul peak measured in this run. Target: >= 30 %.
- `python -m assistant convert` in subprocesses (peak RSS from `os.wait4`, lines/s from
  convert's own summary: compiles included, start-up and model load not) on logs of 10k
  and 100k lines (`--million` adds 1M; each is a prefix of the largest), with the reply
  cache, and with `--no-cache` on `--no-cache-lines` lines. Targets: the 100k log >= 10x
  the lines/s without cache; peak RSS flat (largest within `FLAT_MEMORY` of smallest).

Every in-process figure runs with the reply cache off (`Assistant.load(..., cache_size=0)`)
and times a second pass over its inputs: the first compiles every bucket they touch.

FLOP counting (multiply-adds x 2 of the matrix products; softmax, top-k, gathers and the
copy mixture are elementwise and not counted), per call of the compiled decoding graph,
from what that call ran:

- encoder: every row of the padded batch x every position of the source bucket: both
  directions of each layer (input and recurrent products), the attention keys, the bridge;
- decoder: `decode._step_flops(config, source bucket)` per row and step (embedding, query
  and recurrence, context, attention scores and context, output projection); step 0 runs
  once per row, every later step on rows x beam width. Padding rows and finished
  hypotheses count: the graph computes them;
- steps: the loop runs until every hypothesis has ended, so the call's longest returned
  hypothesis is its step count. Greedy returns every row: exact. The product path returns
  the whole beam (rerank asks for n-best = width): exact unless a beam ended holding only
  hypotheses that had finished earlier, so a lower bound. Model alone (n-best 1): a lower
  bound.

Utilisation = the product pass's FLOPs / its seconds / the matmul peak: the seconds include
the Python around the model (tokenization, checks, rerank), which is part of the product.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.domains.warehouse import logs
from training.benchmarks import convert, decode

REPO = Path(__file__).resolve().parents[2]
BATCH = 64  # lines per call of the in-process figures
MILLION = 1_000_000
FLAT_MEMORY = 1.10  # peak RSS of the largest log at most this times the smallest's
CACHE_HITS = re.compile(r"cache ([\d,]+) hits of ([\d,]+)")  # in convert's summary line
TARGETS = {"product_over_greedy": 0.25, "single_p50_ms": 15.0, "cache_speedup": 10.0,
           "utilisation": 0.30, "export_slowdown": 1.3}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Row:
    """One figure of the final table; `met` is None for a figure without a target."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclasses.dataclass(frozen=True)
class ConvertRun:
    """One `python -m assistant convert` run."""

    lines: int
    wall: float  # seconds, start-up and model load included
    seconds: float  # convert's own summary: from the first record read to the last written
    peak_mb: float  # the subprocess's peak RSS
    hits: str = ""  # the reply cache's hits, as convert's summary says them
    error: str = ""  # why the run failed ("" when it did not)

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds


def main() -> None:
    args = _parse_args()
    from assistant.cli.args import default_model_dir
    from assistant.core.quiet_tf import import_tensorflow
    from assistant.runtime.assistant import Assistant

    tf = import_tensorflow()
    model = (args.model or default_model_dir()).resolve()
    assistant = Assistant.load(model, cache_size=0)
    entries = list(logs.generate_entries(args.lines, args.seed))
    batches = [[e.text for e in entries[i : i + BATCH]] for i in range(0, len(entries), BATCH)]
    peak = decode._matmul_peak(tf)
    sample = logs.summarize(entries)
    print(f"model {model} ({assistant.model.count_params():,} parameters); defaults "
          f"{assistant.defaults}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"float32 matmul peak {peak:.1f} GFLOP/s", flush=True)
    print(f"in-process sample: {sample.lines:,} log lines ({sample.distinct:,} distinct; "
          + ", ".join(f"{kind} {count}" for kind, count in sample.kinds.items())
          + f") in batches of {BATCH}", flush=True)
    rows = _throughput_rows(assistant, batches, peak)
    rows += _latency_rows(assistant, entries, args.repeats)
    rows += _export_rows(assistant, batches)
    if not args.no_convert:
        rows += _convert_rows(model, args)
    _print_table(rows)


def executed_flops(config, source_shape: Sequence[int], options, lengths: np.ndarray) -> float:
    """The model FLOPs one call of the decoding graph executed (see the module docstring).

    Args:
        config: the bundle's `ModelConfig`.
        source_shape: (rows, source bucket) of the padded source batch.
        options: the call's `DecodingOptions`.
        lengths: int (rows, n) lengths of the returned hypotheses.
    """
    rows, source_len = source_shape
    width = options.beam_width if options.strategy == "beam" else 1
    steps = int(np.max(lengths)) if np.size(lengths) else 0
    step = decode._step_flops(config, source_len)
    decoder = rows * step + rows * width * max(steps - 1, 0) * step
    return rows * encoder_flops(config, source_len) + decoder


def encoder_flops(config, source_len: int) -> float:
    """Multiply-adds x 2 of encoding one padded source row of `source_len` positions."""
    gates = 3 if config.rnn_type == "gru" else 4
    per_position, input_dim = 0, config.embedding_dim
    for _ in range(config.encoder_layers):  # two directions, input and recurrent products
        per_position += 2 * gates * config.encoder_units * (input_dim + config.encoder_units)
        input_dim = 2 * config.encoder_units
    per_position += input_dim * config.attention_units  # the attention keys
    bridge = input_dim * config.decoder_units * (1 if config.rnn_type == "gru" else 2)
    return 2.0 * (source_len * per_position + bridge)


class FlopCounter:
    """Adds up `executed_flops` of every decoding call an `Assistant` makes.

    It wraps the runtime's compiled graphs (`Assistant._graphs.run`, observed, not changed):
    the only place that sees the padded shapes and the returned lengths.
    """

    def __init__(self, assistant) -> None:
        self.flops = 0.0
        graphs, config = assistant._graphs, assistant.config
        run = graphs.run

        def counted(source, options, max_steps, row_limits=None):
            result = run(source, options, max_steps, row_limits)
            self.flops += executed_flops(config, source.shape, options, result.lengths)
            return result

        graphs.run = counted


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="bundle (default: shipped)")
    parser.add_argument("--lines", type=int, default=1024,
                        help="log lines decoded in-process per figure (default 1024)")
    parser.add_argument("--repeats", type=int, default=30, help="batch-1 calls per latency")
    parser.add_argument("--convert-lines", type=int, nargs="+", default=[10_000, 100_000],
                        metavar="N", help="log sizes converted (default: 10000 100000)")
    parser.add_argument("--million", action="store_true", help="also convert 1,000,000 lines")
    parser.add_argument("--no-cache-lines", type=int, default=10_000, metavar="N",
                        help="log size converted with --no-cache (default 10000; the no-cache "
                             "speed does not depend on the size)")
    parser.add_argument("--cache-size", type=int, default=None, metavar="N",
                        help="convert's --cache-size for the cached runs (default: convert's)")
    parser.add_argument("--no-convert", action="store_true", help="skip the convert runs")
    parser.add_argument("--seed", type=int, default=0, help="the log's seed")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the logs and replies here instead of a temporary dir")
    return parser.parse_args()


def _timed(reply_batch: Callable, batches: list[list[str]],
           counter: FlopCounter | None = None) -> tuple[float, float]:
    """(lines/s, FLOP/s counted by `counter`) of a second pass over `batches`; the first
    pass compiles every bucket they touch."""
    for batch in batches:
        reply_batch(batch)
    if counter is not None:
        counter.flops = 0.0
    started = time.perf_counter()
    for batch in batches:
        reply_batch(batch)
    seconds = time.perf_counter() - started
    lines = sum(len(batch) for batch in batches)
    return lines / seconds, (counter.flops / seconds if counter else 0.0)


def _throughput_rows(assistant, batches: list[list[str]], peak: float) -> list[Row]:
    counter = FlopCounter(assistant)
    product, product_rate = _timed(lambda b: assistant.reply_batch(b, batch_size=BATCH),
                                    batches, counter)
    print(f"product path: {product:,.1f} lines/s", flush=True)
    beam_all, _ = _timed(lambda b: assistant.reply_batch(b, batch_size=BATCH,
                                                         greedy_first=False), batches)
    print(f"product path, beam for every line: {beam_all:,.1f} lines/s", flush=True)
    greedy, greedy_rate = _timed(
        lambda b: assistant.reply_batch(b, batch_size=BATCH, strategy="greedy"),
        batches, counter)
    print(f"greedy: {greedy:,.1f} lines/s", flush=True)
    ratio = product / greedy
    utilisation = product_rate / 1e9 / peak
    return [
        Row("product path lines/s (bundle defaults)", f"{product:,.1f}"),
        Row("product path lines/s, beam for every line (greedy_first off)", f"{beam_all:,.1f}"),
        Row("greedy lines/s", f"{greedy:,.1f}"),
        Row("product / greedy", f"{ratio:.3f}", f">= {TARGETS['product_over_greedy']}",
            ratio >= TARGETS["product_over_greedy"]),
        Row("matmul peak (float32, XLA) GFLOP/s", f"{peak:.1f}"),
        Row("greedy utilisation", f"{greedy_rate / 1e9:.2f} GFLOP/s = "
            f"{greedy_rate / 1e9 / peak:.1%}"),
        Row("product path utilisation", f"{product_rate / 1e9:.2f} GFLOP/s = "
            f"{utilisation:.1%}", f">= {TARGETS['utilisation']:.0%}",
            utilisation >= TARGETS["utilisation"]),
    ]


def _latency_rows(assistant, entries: list, repeats: int) -> list[Row]:
    rows = []
    for kind, label in ((logs.RECORD, "single record"), (logs.MULTI, "multi-record line"),
                        (logs.QUESTION, "question")):
        text = next((entry.text for entry in entries if entry.kind == kind), None)
        if text is None:
            rows.append(Row(f"batch-1 latency, {label}", "no such line in --lines"))
            continue
        p50, p95 = _latency(assistant, text, repeats)
        print(f"latency {label} {text!r}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
        target, met = "", None
        if kind == logs.RECORD:
            target = f"p50 <= {TARGETS['single_p50_ms']:.0f} ms"
            met = p50 <= TARGETS["single_p50_ms"]
            beam = _latency(assistant, text, repeats, greedy_first=False)
            rows.append(Row(f"batch-1 latency, {label}, beam (greedy_first off) (ms)",
                            f"p50 {beam[0]:.1f}, p95 {beam[1]:.1f}"))
        rows.append(Row(f"batch-1 latency, {label} (ms)", f"p50 {p50:.1f}, p95 {p95:.1f}",
                        target, met))
    return rows


def _latency(assistant, text: str, repeats: int, **options) -> tuple[float, float]:
    """(p50, p95) milliseconds of `repeats` batch-1 replies, after one that compiles."""
    assistant.reply(text, **options)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        assistant.reply(text, **options)
        samples.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(samples, [50, 95])
    return float(p50), float(p95)


def _export_rows(assistant, batches: list[list[str]]) -> list[Row]:
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops of the export)

    from assistant.serving.export import export_saved_model, export_splitter

    alone, _ = _timed(lambda b: assistant.reply_batch(b, batch_size=BATCH, rerank=False),
                      batches)
    print(f"model alone (rerank off): {alone:,.1f} lines/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-product-") as scratch:
        export = export_saved_model(assistant, Path(scratch) / "export",
                                    splitter=export_splitter(assistant))
        serve = tf.saved_model.load(str(export.path)).signatures["serving_default"]
        exported, _ = _timed(lambda b: serve(text=tf.constant(b))["reply"].numpy(), batches)
    print(f"export serving_default: {exported:,.1f} lines/s", flush=True)
    slowdown = alone / exported
    return [
        Row("model alone lines/s (rerank off)", f"{alone:,.1f}"),
        Row("export serving_default lines/s", f"{exported:,.1f}"),
        Row("model alone / export", f"{slowdown:.2f}",
            f"<= {TARGETS['export_slowdown']}", slowdown <= TARGETS["export_slowdown"]),
    ]


def _convert_rows(model: Path, args) -> list[Row]:
    sizes = sorted(set(args.convert_lines) | ({MILLION} if args.million else set()))
    with tempfile.TemporaryDirectory(prefix="bench-product-") as scratch:
        folder = args.keep or Path(scratch)
        for size in sorted({*sizes, args.no_cache_lines}):
            summary = logs.write_log(folder / f"log_{size}.txt", size, args.seed)
            print(f"log {size:,} lines: {summary.distinct:,} distinct (repeat share "
                  f"{summary.repeat_share:.1%})", flush=True)
        flags = () if args.cache_size is None else ("--cache-size", str(args.cache_size))
        cached = {size: _convert(folder, size, model, *flags) for size in sizes}
        uncached = _convert(folder, args.no_cache_lines, model, "--no-cache")
    rows = [Row(f"convert {run.lines:,} lines: lines/s, peak RSS",
                run.error or f"{run.lines_per_second:,.1f}, {run.peak_mb:,.0f} MB, {run.hits}")
            for run in cached.values()]
    rows.append(Row(f"convert --no-cache {uncached.lines:,} lines: lines/s, peak RSS",
                    uncached.error or f"{uncached.lines_per_second:,.1f}, "
                                      f"{uncached.peak_mb:,.0f} MB"))
    main_run = cached.get(100_000, cached[sizes[-1]])
    if not (main_run.error or uncached.error):
        speedup = main_run.lines_per_second / uncached.lines_per_second
        rows.append(Row(f"convert {main_run.lines:,} / --no-cache lines/s", f"{speedup:.1f}x",
                        f">= {TARGETS['cache_speedup']:.0f}x",
                        speedup >= TARGETS["cache_speedup"]))
    small, large = cached[sizes[0]], cached[sizes[-1]]
    if len(sizes) > 1 and not (small.error or large.error):
        growth = large.peak_mb / small.peak_mb
        rows.append(Row(f"peak RSS {large.lines:,} / {small.lines:,} lines", f"{growth:.2f}",
                        f"<= {FLAT_MEMORY} (flat)", growth <= FLAT_MEMORY))
    return rows


def _convert(folder: Path, size: int, model: Path, *extra: str) -> ConvertRun:
    """Converts `folder/log_<size>.txt` in a subprocess with the bundle's defaults.

    The command runs as `convert.run_convert` runs it (the child's own peak RSS); the
    summary line is parsed with `convert.SUMMARY`.
    """
    source = folder / f"log_{size}.txt"
    label = " ".join(["convert", f"{size:,} lines", *extra])
    output = folder / "_".join([f"replies_{size}", *(flag.strip("-") for flag in extra)])
    output = output.with_suffix(".txt")
    command = [sys.executable, "-m", "assistant", "convert", str(source), "-o", str(output),
               "--model", str(model), "--batch-size", str(BATCH), *extra]
    wall, code, text, peak_mb = convert.run_convert(command, output.with_suffix(".stderr"))
    match = convert.SUMMARY.search(text)
    if code != 0 or match is None:
        error = text.strip().splitlines()[-1] if text.strip() else "no output"
        print(f"{label} failed: {error}", flush=True)
        return ConvertRun(size, wall, float("nan"), float("nan"), f"failed: {error[:60]}")
    records = int(match.group(1).replace(",", ""))
    if records != size:
        print(f"warning: convert read {records:,} records of {size:,} lines", flush=True)
    hits = CACHE_HITS.search(text)
    hits = f"cache hits {hits.group(1)} of {hits.group(2)}" if hits else "no cache hits"
    run = ConvertRun(size, wall, float(match.group(3)), peak_mb, hits)
    print(f"{label}: {run.lines_per_second:,.1f} lines/s (wall {wall:.1f} s), peak RSS "
          f"{run.peak_mb:,.0f} MB, {hits}", flush=True)
    return run


def _print_table(rows: list[Row]) -> None:
    width = max(len("figure"), *(len(row.name) for row in rows))
    value_width = max(len("measured"), *(len(row.value) for row in rows))
    print()
    print(f"{'figure':<{width}}  {'measured':<{value_width}}  {'target':<16}  result")
    for row in rows:
        result = "" if row.met is None else ("met" if row.met else "MISSED")
        print(f"{row.name:<{width}}  {row.value:<{value_width}}  {row.target:<16}  {result}")


if __name__ == "__main__":
    main()
