"""`python -m training evaluate-variants`: is the reply to a respelled input the same reply?

The data is JSONL, one line per variant: {"source": the input as typed, "canonical": the
same input in its canonical spelling, "family": the kind of respelling}, optionally
"held_out" (true for a family training never saw) and "target" (the reference reply to the
canonical spelling). Every source and every canonical spelling is decoded with the bundle's
defaults (or the decoding options given), and each variant is counted in its family as

- **equal**: its reply is the canonical spelling's reply, character for character;
- **flagged**: another reply that carries flags (the domain's check found something wrong,
  or the input could not be answered), so the user is warned;
- **silent**: another reply without a flag, which a user cannot tell from a right one.

With targets, "canonical right" counts the canonical replies equal to their target (an
equal reply is only as good as the canonical one). Nothing here knows a domain: any bundle,
any data with those fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.cli.args import add_decoding_arguments, decoding_options
from assistant.core.atomic_files import atomic_write_text
from assistant.runtime.options import RUNTIME_OPTIONS

ALL = "all"
HELD_OUT = "held out"
OUTCOMES = ("equal", "flagged", "silent")
MAX_EXAMPLES = 5  # differing replies kept per family in the JSON report


@dataclasses.dataclass(frozen=True)
class Variant:
    """One line of the data: an input as typed and its canonical spelling."""

    source: str
    canonical: str
    family: str
    held_out: bool = False  # a family training never saw
    target: str | None = None  # the reference reply to the canonical spelling


@dataclasses.dataclass
class FamilyCounts:
    """How the variants of one family (or of all) fared."""

    count: int = 0
    equal: int = 0
    flagged: int = 0
    silent: int = 0
    targets: int = 0  # variants that carry a target
    canonical_right: int = 0  # ... whose canonical spelling got exactly that target
    held_out: bool = False

    def add(self, outcome: str, canonical_right: bool | None) -> None:
        """Counts one variant with `outcome` (one of `OUTCOMES`)."""
        self.count += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        if canonical_right is not None:
            self.targets += 1
            self.canonical_right += int(canonical_right)


def read_variants(path: str | Path) -> list[Variant]:
    """Reads the variants JSONL (blank lines skipped).

    Raises:
        ValueError: `FILE:LINE: what is wrong` for the first malformed line.
    """
    path = Path(path)
    variants = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            variants.append(_parse_line(line))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
    if not variants:
        raise ValueError(f"{path}: no variants found")
    return variants


def outcome(reply, canonical_reply) -> str:
    """"equal", "flagged" or "silent" for a variant's reply against the canonical one's.

    A reply is anything with `text`, `flags` and optionally `error` (a runtime `Reply`).
    """
    if reply.text == canonical_reply.text:
        return "equal"
    return "flagged" if reply.flags or getattr(reply, "error", None) else "silent"


def count_variants(variants: Sequence[Variant], reply_batch: Callable[[list[str]], Sequence],
                   max_examples: int = MAX_EXAMPLES) -> dict[str, Any]:
    """Decodes each distinct source and canonical spelling once and counts the outcomes.

    Args:
        variants: the lines to score.
        reply_batch: texts -> one reply per text (`Assistant.reply_batch` with its options).
        max_examples: differing replies kept per family.

    Returns:
        {"families": {family: FamilyCounts}, in order of first appearance, plus `HELD_OUT`
        (when a line is held out) and `ALL`; "examples": {family: [differing replies]}}.
    """
    texts = list(dict.fromkeys(t for v in variants for t in (v.source, v.canonical)))
    replies = dict(zip(texts, reply_batch(texts), strict=True))
    families: dict[str, FamilyCounts] = {}
    examples: dict[str, list[dict]] = {}
    totals = {ALL: FamilyCounts(), HELD_OUT: FamilyCounts(held_out=True)}
    for variant in variants:
        reply, canonical = replies[variant.source], replies[variant.canonical]
        result = outcome(reply, canonical)
        right = None if variant.target is None else canonical.text == variant.target
        counts = families.setdefault(variant.family, FamilyCounts(held_out=variant.held_out))
        counts.held_out = counts.held_out or variant.held_out
        for bucket in (counts, totals[ALL], *([totals[HELD_OUT]] if variant.held_out else [])):
            bucket.add(result, right)
        kept = examples.setdefault(variant.family, [])
        if result != "equal" and len(kept) < max_examples:
            kept.append({"source": variant.source, "canonical": variant.canonical,
                         "outcome": result, "reply": reply.text,
                         "canonical_reply": canonical.text, "flags": list(reply.flags)})
    if totals[HELD_OUT].count:
        families[HELD_OUT] = totals[HELD_OUT]
    families[ALL] = totals[ALL]
    return {"families": families, "examples": examples}


def evaluate_variants(model_dir: str | Path, data: str | Path, options: dict[str, Any],
                      limit: int | None = None, batch_size: int = 64) -> dict[str, Any]:
    """Loads a bundle, scores the variants of `data` and returns a JSON-ready report."""
    from assistant.runtime.assistant import Assistant

    assistant = Assistant.load(model_dir)
    variants = read_variants(data)[:limit] if limit else read_variants(data)
    result = count_variants(
        variants, lambda texts: assistant.reply_batch(texts, batch_size=batch_size, **options))
    return {
        "model": str(model_dir),
        "data": str(data),
        "options": options or "bundle defaults",
        "lines": len(variants),
        "families": {name: dataclasses.asdict(c) for name, c in result["families"].items()},
        "examples": result["examples"],
    }


def render_table(report: dict[str, Any], console) -> None:
    """Prints the per-family counts as one rich table."""
    from rich.table import Table

    table = Table(title=f"{report['model']} on {report['data']} ({report['lines']} variants)")
    columns = ("family", "held out", "n", *OUTCOMES, "equal %", "silent %", "canonical right")
    for column in columns:
        table.add_column(column, justify="left" if column == "family" else "right",
                         no_wrap=column == "family")
    for name, counts in report["families"].items():
        if name in (HELD_OUT, ALL):
            table.add_section()
        held_out = "yes" if counts["held_out"] and name != HELD_OUT else ""
        right = f"{counts['canonical_right']}/{counts['targets']}" if counts["targets"] else "-"
        table.add_row(name, held_out, str(counts["count"]), *(str(counts[o]) for o in OUTCOMES),
                      _percent(counts["equal"], counts["count"]),
                      _percent(counts["silent"], counts["count"]), right)
    console.print(table)


def register(subparsers) -> argparse.ArgumentParser:
    """Adds `evaluate-variants` to the `python -m training` subcommands."""
    parser = subparsers.add_parser(
        "evaluate-variants",
        help="compare the replies to respelled inputs with the replies to their canonical "
        "spelling",
        description="Decode every variant and its canonical spelling (JSONL lines {source, "
        "canonical, family}, optional held_out and target) and print per family how many "
        "replies equal the canonical reply, differ with a flag, or differ silently.",
    )
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--data", required=True, help="variants file (.jsonl)")
    parser.add_argument("--json", dest="json_out", help="also write the report here")
    parser.add_argument("--limit", type=int, help="only the first N variants")
    parser.add_argument("--batch-size", type=int, default=64)
    add_decoding_arguments(parser, RUNTIME_OPTIONS)
    parser.set_defaults(handler=_run)
    return parser


# ---------------------------------------------------------------------------------------
# Private helpers.


def _parse_line(text: str) -> Variant:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON at column {error.colno}") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for key in ("source", "canonical", "family"):
        if not isinstance(record.get(key), str):
            raise ValueError(f'"{key}" must be a string')
    target = record.get("target")
    if target is not None and not isinstance(target, str):
        raise ValueError('"target" must be a string')
    return Variant(record["source"], record["canonical"], record["family"],
                   bool(record.get("held_out", False)), target)


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    report = evaluate_variants(args.model, args.data, decoding_options(args),
                               limit=args.limit, batch_size=args.batch_size)
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
    render_table(report, console)
    if args.json_out:
        atomic_write_text(Path(args.json_out),
                          json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        console.print(f"report written to {args.json_out}")
    return 0
