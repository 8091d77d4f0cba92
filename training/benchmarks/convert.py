"""`make bench-convert`: end-to-end `convert` throughput and peak memory against raw decoding.

Generates seeded fault-code lines (catalog codes with equipment they are valid for, random
units and parameter values in the catalog's ranges, 1-3 records per line) into a temporary
directory, converts each size with `python -m assistant convert` in a subprocess (so peak RSS
is that run's own), and measures the raw batch throughput of `Assistant.reply_batch` on the
same lines in this process, after a warm-up pass that compiles every bucket. Figures:

- wall lines/s: lines / the subprocess's wall time (start-up, model load and XLA compiles
  included);
- convert lines/s: from convert's own summary (from the first record read to the last
  written: compiles included, start-up and model load not);
- peak RSS of each run (memory should stay flat as the file grows).

The goal is convert lines/s >= 80% of raw lines/s. Numbers are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"convert: ([\d,]+) records, ([\d,]+) flagged, ([\d.]+) s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000],
                        help="file sizes to convert (default: 10000 100000)")
    parser.add_argument("--raw-lines", type=int, default=5_000,
                        help="lines decoded in-process for the raw figure (default 5000)")
    parser.add_argument("--model", type=Path, default=None, help="bundle (default: shipped)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the inputs and outputs here instead of a temporary dir")
    args = parser.parse_args()
    from assistant.cli.args import default_model_dir

    model = args.model or default_model_dir()
    sizes = sorted(set(args.lines))
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"faults_{sizes[-1]}.txt"
        _write_lines(source, fault_lines(max(sizes[-1], args.raw_lines), args.seed))
        inputs = {}
        for size in sizes:  # the same seed: every file is a prefix of the largest
            inputs[size] = folder / f"faults_{size}.txt"
            if inputs[size] != source:
                _write_lines(inputs[size], _head(source, size))
        print(f"model {model}; beam {args.beam}, batch {args.batch_size}; "
              f"{os.cpu_count()} CPUs; inputs in {folder}", flush=True)
        raw = _raw_throughput(model, list(_head(source, args.raw_lines)), args)
        print(f"raw reply_batch: {args.raw_lines:,} lines, {raw:,.1f} lines/s (in-process, "
              f"warmed up)", flush=True)
        for size in sizes:
            output = folder / f"replies_{size}.txt"
            wall, summary, peak_mb = _convert(inputs[size], output, model, args)
            records, flagged, seconds = summary
            assert records == size, (records, size)
            with output.open(encoding="utf-8") as handle:
                written = sum(1 for _ in handle)
            assert written == size, (written, size)
            print(f"convert {size:>9,} lines: wall {wall:7.1f} s = {size / wall:7,.1f} lines/s "
                  f"({size / wall / raw:4.0%} of raw); convert {seconds:7.1f} s = "
                  f"{size / seconds:7,.1f} lines/s ({size / seconds / raw:4.0%} of raw); "
                  f"peak RSS {peak_mb:,.0f} MB; {flagged:,} flagged", flush=True)


def fault_lines(count: int, seed: int = 0) -> Iterator[str]:
    """`count` seeded fault lines of 1-3 records, e.g. "CV07:E217 T=85; SN02:W301 N=12"."""
    from assistant.domains.warehouse.corpus import load_catalog

    catalog = load_catalog()
    entries = list(catalog.entries.values())
    rng = random.Random(seed)
    for _ in range(count):
        records = []
        for _ in range(rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]):
            entry = rng.choice(entries)
            unit = rng.randint(1, 99)
            unit_text = f"{unit:02d}" if rng.random() < 0.7 else str(unit)
            text = f"{rng.choice(entry.equipment)}{unit_text}:{entry.code}"
            for spec in entry.params:
                text += f" {spec.name}={_value(spec, rng)}"
            records.append(text)
        yield "; ".join(records)


def _raw_throughput(model: Path, lines: list[str], args) -> float:
    from assistant.runtime.assistant import Assistant

    assistant = Assistant.load(model)
    options = {"strategy": "beam", "beam_width": args.beam}
    assistant.reply_batch(lines, batch_size=args.batch_size, **options)  # compile the buckets
    started = time.perf_counter()
    replies = assistant.reply_batch(lines, batch_size=args.batch_size, **options)
    seconds = time.perf_counter() - started
    assert len(replies) == len(lines)
    return len(lines) / seconds


def _convert(source: Path, output: Path, model: Path, args) -> tuple[float, tuple, float]:
    """Runs one conversion; returns (wall seconds, (records, flagged, seconds), peak RSS MB)."""
    command = [sys.executable, "-m", "assistant", "convert", str(source), "-o", str(output),
               "--model", str(model), "--beam", str(args.beam),
               "--batch-size", str(args.batch_size)]
    wall, code, text, peak_mb = run_convert(command, output.with_suffix(".stderr"))
    match = SUMMARY.search(text)
    if code != 0 or match is None:
        raise SystemExit(f"convert failed ({code}): {text.strip()[-500:]}")
    records, flagged = (int(group.replace(",", "")) for group in match.groups()[:2])
    return wall, (records, flagged, float(match.group(3))), peak_mb


def run_convert(command: list[str], log: Path) -> tuple[float, int, str, float]:
    """Runs a convert command with its stderr in `log`; returns (wall seconds, exit code,
    what it printed to stderr, the child's own peak RSS in MB).

    The peak is the child's `VmHWM` (/proc/PID/status), read every `_POLL` seconds until it
    ends: a fresh address space after exec, so it is the child's alone. Its rusage
    `ru_maxrss` is not: Linux carries the forking process's high-water mark across exec, so
    a child of a benchmark that holds a model in memory reported the benchmark's own RSS
    (1,761 MB for every convert run). `ru_maxrss` is the fallback where /proc is missing.
    """
    with log.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            time.sleep(_POLL)
        wall = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if not peak_kb:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, process.returncode, text, peak_kb / 1024


_POLL = 0.05  # seconds between two readings of a convert child's VmHWM


def _high_water_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM) in kB, or 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _value(spec, rng: random.Random) -> str:
    if spec.decimals == 0 or rng.random() < 0.2:
        return str(rng.randint(math.ceil(spec.low), math.floor(spec.high)))
    scale = 10**spec.decimals
    steps = rng.randint(round(spec.low * scale), round(spec.high * scale))
    return f"{steps / scale:.{spec.decimals}f}"


def _write_lines(path: Path, lines) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def _head(path: Path, count: int) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for _, line in zip(range(count), handle, strict=False):
            yield line.rstrip("\n")


if __name__ == "__main__":
    main()
