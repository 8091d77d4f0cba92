"""`make bench-beam`: `convert --runner DirectRunner` (Apache Beam) next to `convert`.

Both run on the seeded warehouse log of the throughput issue (`assistant.domains.warehouse.logs`,
the workload of `training.benchmarks.product`) with the bundle's defaults, one after the other,
each in a subprocess started as `convert.run_convert` starts it (its own peak RSS). Figures:

- wall lines/s: lines / the subprocess's wall time (start-up, model load, compiles included);
- summary lines/s: from each command's summary line. `convert` counts from the first record
  read to the last written (model load not included); the Beam command counts the whole
  pipeline run (its worker loads the model inside it), so its summary includes the load;
- peak RSS of each run;
- equal rows: the Beam output against convert's, row by row, without the Beam-only keys
  (`input_file`, `line_number`) and with scores within 2e-4 (other batches, other float
  rounding): replies, flags and order must all match.

Beam pipeline options go to the Beam run with `--beam-option=--direct_num_workers=2` (repeat
it for several). Numbers are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from assistant.domains.warehouse import logs
from training.benchmarks import convert

BEAM_KEYS = ("input_file", "line_number")  # what the Beam output adds to convert's rows


def main() -> None:
    args = _parse_args()
    from assistant.cli.args import default_model_dir

    model = (args.model or default_model_dir()).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-beam-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"log_{args.lines}.txt"
        summary = logs.write_log(source, args.lines, args.seed)
        print(
            f"model {model}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; log "
            f"{args.lines:,} lines ({summary.distinct:,} distinct), batch {args.batch_size}",
            flush=True,
        )
        common = ["--model", str(model), "--batch-size", str(args.batch_size)]
        runs = {
            "convert": _run("convert", source, folder / "convert.jsonl", common),
            "beam DirectRunner": _run(
                "beam DirectRunner",
                source,
                folder / "beam.jsonl",
                [*common, "--runner", "DirectRunner", "--", *args.beam_option],
            ),
        }
        equal = _equal_rows(folder / "convert.jsonl", folder / "beam.jsonl")
    print()
    print(f"{'command':<18}  {'wall lines/s':>12}  {'summary lines/s':>15}  {'peak RSS':>9}")
    for name, (wall, seconds, peak_mb) in runs.items():
        print(
            f"{name:<18}  {args.lines / wall:12,.1f}  {args.lines / seconds:15,.1f}  "
            f"{peak_mb:6,.0f} MB"
        )
    print(
        f"beam / convert (wall): {runs['convert'][0] / runs['beam DirectRunner'][0]:.2f}; "
        f"rows equal to convert's: {equal:,} of {args.lines:,}"
    )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000, help="log lines (default 2000)")
    parser.add_argument("--model", type=Path, default=None, help="bundle (default: shipped)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="the log's seed")
    parser.add_argument(
        "--beam-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a Beam pipeline option for the Beam run (repeatable)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="write the log and outputs here instead of a temporary dir",
    )
    return parser.parse_args()


def _run(name: str, source: Path, output: Path, extra: list[str]) -> tuple[float, float, float]:
    """Converts `source` to `output`; (wall seconds, summary seconds, peak RSS MB)."""
    command = [sys.executable, "-m", "assistant", "convert", str(source), "-o", str(output), *extra]
    wall, code, text, peak_mb = convert.run_convert(command, output.with_suffix(".stderr"))
    match = convert.SUMMARY.search(text)
    if code != 0 or match is None:
        raise SystemExit(f"{name} failed ({code}): {text.strip()[-500:]}")
    counts = match.group(0).removeprefix("convert: ")
    print(f"{name}: {counts} (wall {wall:.1f} s), peak RSS {peak_mb:,.0f} MB", flush=True)
    return wall, float(match.group(3)), peak_mb


def _equal_rows(expected_path: Path, got_path: Path) -> int:
    """Rows of the Beam output equal to convert's at the same place, with that place as their
    line number (see the module docstring)."""
    equal = 0
    with expected_path.open(encoding="utf-8") as want, got_path.open(encoding="utf-8") as got:
        for number, (expected_line, got_line) in enumerate(zip(want, got, strict=False), 1):
            expected, row = json.loads(expected_line), json.loads(got_line)
            placed = row.pop(BEAM_KEYS[1], None) == number
            row.pop(BEAM_KEYS[0], None)
            scores = expected.pop("score"), row.pop("score")
            close = (
                scores[0] == scores[1] if None in scores else math.isclose(*scores, abs_tol=2e-4)
            )
            equal += placed and close and row == expected
    return equal


if __name__ == "__main__":
    main()
