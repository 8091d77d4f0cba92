"""A seeded warehouse log: what the panels and operators of one site send, line by line.

The benchmark of the real workload (`training.benchmarks.product`) converts this log. It
models one site, seeded:

- a fixed fleet: `FLEET` units per equipment type, their unit numbers drawn once;
- faults: every (unit, code) pair whose code the catalog lists for the unit's equipment,
  ranked once at random and drawn with Zipf weights `1 / rank ** zipf_exponent`, so a few
  chronic faults make most of the traffic and most pairs fire rarely or never;
- values: every fault remembers `recent_values` tuples of parameter values (drawn in the
  catalog's ranges at its first firing); a firing reads one of them, or with probability
  `drift` new values that replace one, so values vary between bursts and slowly drift;
- bursts: a PLC re-sends what it reports: a fault line is written 1 to `max_burst` times in
  a row, identical (P(n + 1) / P(n) = `burst_decay`);
- kinds of lines, as shares of lines: one record (the rest), 2-4 records joined with "; "
  (`multi_share`), questions in the canonical phrasings about the faults being seen
  (`question_share`), small talk (`chatter_share`), and malformed lines (`malformed_share`):
  empty, garbage, a truncated record, a very long paste, a control character in a record.

Well-formed fault lines are canonical (`faultcodes.format_line`), as a PLC writes them;
operators' own spellings are the realistic set's business (`realistic`). No line holds a
line break. `generate_log(n, seed)` is the first n lines of one endless log: a shorter log
is a prefix of a longer one with the same seed.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import itertools
import random
import string
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from assistant.core import atomic_files
from assistant.domains.warehouse.catalog import Catalog, load_catalog
from assistant.domains.warehouse.faultcodes import (
    FaultLineError,
    FaultRecord,
    format_line,
    parse_line,
)
from assistant.domains.warehouse.phrasings import CANONICAL_EQ, CANONICAL_QUESTIONS
from assistant.domains.warehouse.smalltalk import load_smalltalk

DEFAULT_LINES = 100_000
DEFAULT_SEED = 0
# Units per equipment type of the modelled site (a mid-size distribution centre).
FLEET = {"CV": 40, "SN": 4, "SH": 30, "AG": 20, "LF": 8, "SC": 6, "BS": 24, "PL": 4, "DD": 16,
         "CH": 10, "LP": 8, "WS": 6}  # fmt: skip
RECORD, MULTI, QUESTION, CHATTER = "record", "multi", "question", "chatter"
MALFORMED = ("empty", "garbage", "truncated", "long", "control")  # kinds of malformed lines
KINDS = (RECORD, MULTI, QUESTION, CHATTER, *MALFORMED)
MULTI_COUNTS = ((2, 0.6), (3, 0.3), (4, 0.1))  # records of a multi-record line, weights
QUESTION_TYPES = (("action_unit", 0.35), ("meaning", 0.2), ("action", 0.2), ("severity", 0.1),
                  ("codes", 0.1), ("equipment", 0.05))  # of CANONICAL_QUESTIONS, weights
CONTROL_CHARACTERS = ("\x07", "\x08", "\x1b", "\x7f")  # none of them ends a line
LONG_RECORDS = (60, 120)  # records pasted into a very long line


@dataclasses.dataclass(frozen=True)
class LogModel:
    """How the seeded site behaves; shares are shares of lines, bursts included."""

    multi_share: float = 0.20  # lines of 2-4 records
    question_share: float = 0.06  # questions about the codes and units being seen
    chatter_share: float = 0.04  # small talk typed at a panel
    malformed_share: float = 0.01  # empty, garbage, truncated, very long, control character
    zipf_exponent: float = 1.0  # weight of the k-th most frequent fault: 1 / k ** exponent
    max_burst: int = 8  # identical lines a PLC sends for one firing, at most
    burst_decay: float = 0.5  # P(burst of n + 1) / P(burst of n)
    recent_values: int = 3  # value tuples a fault remembers (values vary between bursts)
    drift: float = 0.05  # chance a firing reads new values, replacing a remembered tuple


class LogLine(NamedTuple):
    """One line of the log and what it is."""

    text: str
    kind: str  # one of KINDS
    records: tuple[FaultRecord, ...] = ()  # the records of a RECORD or MULTI line


@dataclasses.dataclass(frozen=True)
class LogSummary:
    """Counts of a log: lines, distinct lines and lines per kind."""

    lines: int
    distinct: int
    kinds: dict[str, int]  # kind -> lines, every kind of KINDS

    @property
    def repeat_share(self) -> float:
        """The share of lines that repeat an earlier line."""
        return 1.0 - self.distinct / self.lines if self.lines else 0.0

    @property
    def malformed(self) -> int:
        return sum(self.kinds[kind] for kind in MALFORMED)


def generate_entries(lines: int, seed: int = DEFAULT_SEED, catalog: Catalog | None = None,
                     model: LogModel | None = None) -> Iterator[LogLine]:
    """The first `lines` lines of the seeded log, with their kinds and records.

    Args:
        lines: how many lines.
        seed: the site and its log; the same seed gives the same lines.
        catalog: the fault catalog (default: the built-in one).
        model: how the site behaves (default: `LogModel()`).

    Raises:
        ValueError: `lines` is negative.
    """
    if lines < 0:
        raise ValueError(f"lines must be >= 0, not {lines}")
    site = _Site(catalog or load_catalog(), model or LogModel(), random.Random(f"log:{seed}"))
    events = itertools.chain.from_iterable(iter(site.event, None))
    yield from itertools.islice(events, lines)


def generate_log(lines: int, seed: int = DEFAULT_SEED) -> Iterator[str]:
    """The first `lines` lines of the seeded log, e.g. "CV07:E217 T=85"."""
    return (entry.text for entry in generate_entries(lines, seed))


def summarize(entries: Iterable[LogLine]) -> LogSummary:
    """Counts lines, distinct lines and kinds of `entries`."""
    kinds: Counter[str] = Counter()
    seen: set[str] = set()
    for entry in entries:
        kinds[entry.kind] += 1
        seen.add(entry.text)
    return LogSummary(sum(kinds.values()), len(seen), {kind: kinds[kind] for kind in KINDS})


def write_log(path: str | Path, lines: int = DEFAULT_LINES,
              seed: int = DEFAULT_SEED) -> LogSummary:
    """Writes the first `lines` lines of the log to `path` (atomically), one per line.

    Raises:
        ValueError: `lines` is negative.
        OSError: the file cannot be written.
    """
    def written(handle):
        for entry in generate_entries(lines, seed):
            handle.write(entry.text + "\n")
            yield entry

    with atomic_files.atomic_open(path, "w", encoding="utf-8", newline="\n") as handle:
        return summarize(written(handle))


def register(subparsers) -> argparse.ArgumentParser:
    """Adds `build-log` to the `python -m training` subcommands."""
    parser = subparsers.add_parser(
        "build-log",
        help="write a seeded warehouse log (the benchmark workload)",
        description="Write the lines a warehouse produces: fault lines with skewed codes and "
        "units, PLC bursts of repeated lines, multi-record lines, questions, small talk and "
        "malformed lines. The same seed gives an identical file; a shorter log is a prefix "
        "of a longer one.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="text file")
    parser.add_argument("--lines", type=int, default=DEFAULT_LINES, metavar="N",
                        help=f"lines to write (default: {DEFAULT_LINES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: 0)")
    parser.set_defaults(handler=_build_command, needs_tensorflow=False)
    return parser


# ---------------------------------------------------------------------------------------
# Private helpers.

_Fault = tuple[str, int, str]  # (prefix, unit, code)
_GARBAGE = string.ascii_letters + string.digits + string.punctuation + " "


class _Site:
    """The modelled site; `event()` is the next firing or input: a list of lines."""

    def __init__(self, catalog: Catalog, model: LogModel, rng: random.Random) -> None:
        self.catalog, self.model, self.rng = catalog, model, rng
        faults = [(prefix, unit, code) for prefix, count in FLEET.items()
                  for unit in sorted(rng.sample(range(1, 100), count))
                  for code in catalog.codes_for(prefix)]
        rng.shuffle(faults)  # the rank of each fault in the Zipf skew
        self.faults = faults
        self.fault_weights = _cumulative(faults, model.zipf_exponent)
        prompts = [prompt for prompt, _ in load_smalltalk()]
        rng.shuffle(prompts)
        self.prompts, self.prompt_weights = prompts, _cumulative(prompts, 1.0)
        self.recent: dict[_Fault, list[tuple[tuple[str, str], ...]]] = {}
        bursts = [model.burst_decay ** n for n in range(model.max_burst)]
        self.bursts = list(itertools.accumulate(bursts))
        mean_burst = sum((n + 1) * p for n, p in enumerate(bursts)) / sum(bursts)
        others = (model.multi_share + model.question_share + model.chatter_share
                  + model.malformed_share)
        shares = {RECORD: (1.0 - others) / mean_burst, MULTI: model.multi_share / mean_burst,
                  QUESTION: model.question_share, CHATTER: model.chatter_share,
                  "malformed": model.malformed_share}  # per event: a burst counts once
        self.kinds, self.kind_weights = list(shares), list(itertools.accumulate(shares.values()))

    def event(self) -> list[LogLine]:
        rng = self.rng
        kind = rng.choices(self.kinds, cum_weights=self.kind_weights)[0]
        if kind in (RECORD, MULTI):
            count = 1 if kind == RECORD else rng.choices(*zip(*MULTI_COUNTS, strict=True))[0]
            records = self.records(count)
            burst = rng.choices(range(1, self.model.max_burst + 1), cum_weights=self.bursts)[0]
            return [LogLine(format_line(records), kind, records)] * burst
        if kind == QUESTION:
            return [LogLine(self.question(), QUESTION)]
        if kind == CHATTER:
            return [LogLine(rng.choices(self.prompts, cum_weights=self.prompt_weights)[0],
                            CHATTER)]
        malformed = rng.choice(MALFORMED)
        return [LogLine(getattr(self, f"_{malformed}")(), malformed)]

    def fault(self) -> _Fault:
        return self.faults[_draw(self.rng, self.fault_weights)]

    def records(self, count: int) -> tuple[FaultRecord, ...]:
        """`count` firing faults, no two alike, each with its values of this firing."""
        faults: list[_Fault] = []
        while len(faults) < count:
            fault = self.fault()
            if fault not in faults:
                faults.append(fault)
        return tuple(FaultRecord(*fault, self.values(fault)) for fault in faults)

    def values(self, fault: _Fault) -> tuple[tuple[str, str], ...]:
        """The parameter values of one firing: a remembered tuple, or new drifted ones."""
        rng, model = self.rng, self.model
        specs = self.catalog.entries[fault[2]].params
        recent = self.recent.get(fault)
        if recent is None:
            recent = self.recent[fault] = [_values(specs, rng) for _ in range(model.recent_values)]
        if rng.random() >= model.drift:
            return rng.choice(recent)
        values = recent[rng.randrange(len(recent))] = _values(specs, rng)
        return values

    def question(self) -> str:
        rng = self.rng
        qtype = rng.choices(*zip(*QUESTION_TYPES, strict=True))[0]
        prefix, unit, code = self.fault()
        return CANONICAL_QUESTIONS[qtype].format(
            code=code, eq=CANONICAL_EQ.format(prefix=prefix, unit=unit),
            name=self.catalog.equipment[prefix])

    def _empty(self) -> str:
        return self.rng.choice(("", " ", "   ", "\t"))

    def _garbage(self) -> str:
        rng = self.rng
        return _unparsable(lambda: "".join(rng.choices(_GARBAGE, k=rng.randint(3, 40))))

    def _truncated(self) -> str:
        rng = self.rng
        text = self.records(1)[0].format()
        return _unparsable(lambda: text[: rng.randrange(1, len(text))])

    def _long(self) -> str:
        return format_line(self.records(self.rng.randint(*LONG_RECORDS)))

    def _control(self) -> str:
        rng = self.rng
        text = format_line(self.records(rng.choice((1, 1, 2))))

        def insert() -> str:
            at = rng.randint(0, len(text))
            return text[:at] + rng.choice(CONTROL_CHARACTERS) + text[at:]

        return _unparsable(insert)


def _cumulative(items: list, exponent: float) -> list[float]:
    """Cumulative Zipf weights of `items` in rank order: 1 / rank ** exponent."""
    return list(itertools.accumulate(1.0 / rank**exponent for rank in range(1, len(items) + 1)))


def _draw(rng: random.Random, cumulative: list[float]) -> int:
    return bisect.bisect(cumulative, rng.random() * cumulative[-1])


def _values(specs, rng: random.Random) -> tuple[tuple[str, str], ...]:
    values = []
    for spec in specs:
        if spec.decimals == 0:
            value = str(rng.randint(int(spec.low), int(spec.high)))
        else:
            value = f"{rng.uniform(spec.low, spec.high):.{spec.decimals}f}"
        values.append((spec.name, value))
    return tuple(values)


def _unparsable(make) -> str:
    """The first text `make()` gives that `parse_line` rejects (of 1,000 tries)."""
    for _ in range(1000):
        text = make()
        try:
            parse_line(text)
        except FaultLineError:
            return text
    raise RuntimeError("could not make a malformed line")


def _build_command(args: argparse.Namespace) -> int:
    if args.lines < 1:
        raise ValueError("--lines must be at least 1")
    summary = write_log(args.out, args.lines, args.seed)
    kinds = summary.kinds
    print(f"wrote {summary.lines:,} lines to {args.out} (seed {args.seed})")
    print(f"distinct lines   {summary.distinct:>9,}  (repeat share {summary.repeat_share:.1%})")
    for label, count in (("one record", kinds[RECORD]), ("2-4 records", kinds[MULTI]),
                         ("questions", kinds[QUESTION]), ("small talk", kinds[CHATTER]),
                         ("malformed", summary.malformed)):
        print(f"{label:<16} {count:>9,}  ({count / summary.lines:.1%})")
    print("  " + ", ".join(f"{kind} {kinds[kind]:,}" for kind in MALFORMED))
    return 0
