"""Builds the training corpus: fault lines, questions and small talk paired with replies.

`build_corpus` writes train.jsonl, valid.jsonl and test.jsonl, one JSON object per line:
{"source": ..., "target": ..., "category": ...} with category in `CATEGORIES` (prompts also
carry "qtype"). The same seed gives byte-identical files.

The categories of `CANONICAL_CATEGORIES` write sources in the documented grammar (with case,
leading zeros and spacing varied); their valid and test parts are the lines earlier corpora
had, so the per-category figures stay comparable. The "variant" category writes what
operators type instead (`heldout.FAMILIES`: other record separators, "CV 7" or "conveyor 7",
a missing colon, values with units, more than 4 records, timestamps, the panel's alarm text,
casual questions ...); each variant pair also carries "family" and "canonical" (the
canonical spelling of the same line or question), its target is the canonical one, and no
held-out family (`heldout.HELD_OUT`, kept for the realistic evaluation set) is in any split.
Train holds `CorpusSizes.train_shares[-1]` of variants; valid and test hold
`CorpusSizes.variants` variant pairs per canonical pair, on top of the canonical ones.

Targets are a deterministic function of the source (a small GRU must reach >= 99.5 % exact
match), written by `render_reply` and `answer_question`:

- A fault line gets one sentence per record, most severe first (`SEVERITIES`), then in input
  order: "Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor
  and let the motor cool before restarting." Values are copied exactly as typed; a parameter
  missing from the line drops its clause; a parameter the catalog does not list for that
  code is ignored (the catalog cannot say what it means).
- An unknown code, a known code on equipment it is not listed for, and an unknown prefix
  each get a fixed sentence that repeats the unit and code and says to report it to
  maintenance (parameters ignored); such records sort like faults.
- Questions (`PHRASINGS`): six types, 18-23 phrasings each for train (now and then with an
  opener or closer such as "hi," or "thanks"), one only in valid, two only in test, kept
  exactly as written. Answers are templates over the catalog.
- Small talk: the opening exchanges of chatterbot-corpus conversations in workplace-suitable
  categories, without digits, long replies or prompts unsuitable at work, plus
  `HOUSE_SMALLTALK` (who the assistant is, help, thanks); see `smalltalk`.

Held-out data: numbers (unit numbers and parameter values alike), multi-record combinations
and unknown codes are assigned to a split by a fixed hash (`number_split`,
`combination_split`, `unknown_code_split`). Train lines contain only train-reserved items;
every valid/test line contains at least one item reserved for its own split (or a held-out
phrasing, or a held-out spelling of small talk) and none reserved for the other, so no
source is in two splits; a valid/test line of 2-4 records is always a combination reserved
for its split. Only whole numbers are reserved, never digits, and every code is in
train. Sources vary case, leading zeros and spacing; targets are canonical. A fault line whose
message would exceed `MAX_TARGET_CHARS` is redrawn, so targets fit the trainer's 160 pieces.

Follow-ups (`followups.CATEGORIES`): turns said after a context, the conversation's last
fault line and what a question named ("CV07:E217 T=85 <CTX> how do I fix it?"), that refer
back to it, change the subject, or could mean two records (the reply asks which); every
split gets `CorpusSizes.followups` of them per pair, drawn with a random stream of their own
after the other categories and inserted among them in seeded places, so with
`followups=0` the files are those of a corpus without follow-ups, byte for byte, and with
them the other pairs are the same, in the same order. See `followups`.

Catalog: `catalog`; reply templates: `messages`; question templates: `phrasings`; drawing
lines and questions: `sampler`; small talk: `smalltalk` (all `assistant.domains.warehouse`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
from pathlib import Path

from assistant.core import atomic_files
from assistant.domains.warehouse import faithfulness, followups, heldout, hints, manifest, segment
from assistant.domains.warehouse.catalog import UNKNOWN_RANK, Catalog, load_catalog
from assistant.domains.warehouse.messages import MESSAGE_PHRASES, code_rank
from assistant.domains.warehouse.phrasings import PHRASINGS
from assistant.domains.warehouse.sampler import (
    MAX_TARGET_CHARS,
    SPLITS,
    Sampler,
    combination_split,
    number_split,
    unknown_code_split,
)
from assistant.domains.warehouse.smalltalk import (
    HOUSE_SMALLTALK,
    MAX_SMALLTALK_REPLY_WORDS,
    SMALLTALK_CATEGORIES,
    SMALLTALK_EXCLUDED,
    load_smalltalk,
    smalltalk_pairs,
)
from assistant.runtime.domain import DOMAIN_MANIFEST

__all__ = [
    "CANONICAL_CATEGORIES",
    "CATEGORIES",
    "HOUSE_SMALLTALK",
    "MAX_SMALLTALK_REPLY_WORDS",
    "MAX_TARGET_CHARS",
    "PHRASINGS",
    "SMALLTALK_CATEGORIES",
    "SMALLTALK_EXCLUDED",
    "SPLITS",
    "CorpusSizes",
    "build_corpus",
    "combination_split",
    "faithfulness_settings",
    "load_catalog",
    "load_smalltalk",
    "number_split",
    "record_order",
    "register",
    "unknown_code_split",
    "write_domain_files",
]

CANONICAL_CATEGORIES = ("single", "multi", "unknown", "prompt", "smalltalk")
CATEGORIES = (*CANONICAL_CATEGORIES, "variant")
FOLLOWUP_CATEGORIES = followups.CATEGORIES  # added on top of `CATEGORIES`' pairs


@dataclasses.dataclass(frozen=True)
class CorpusSizes:
    """Pairs per split and the share of each category."""

    train: int = 35_000  # pairs in train.jsonl (small talk repeats included); sized for
    # the training-time budget (configs/warehouse_notes.md)
    valid: int = 2_000  # canonical pairs in valid.jsonl, distinct sources
    test: int = 3_000  # canonical pairs in test.jsonl, distinct sources
    single: float = 0.22  # one-record fault lines
    multi: float = 0.30  # 2-4 record fault lines, all codes known
    unknown: float = 0.21  # 1-4 record lines with at least one unknown code
    prompt: float = 0.21  # questions about codes and equipment
    smalltalk: float = 0.06  # chat; valid/test capped by the distinct spellings available
    variants: float = 0.2  # valid/test: variant pairs added per canonical pair
    # The train split's own shares, in `CATEGORIES` order, variants last (empty: the shares
    # above plus `variants`). The runtime answers a line of several records one record at
    # a time (`segment`), so train holds fewer multi-record lines and more questions; valid
    # and test keep the shares above (their files do not depend on train's).
    train_shares: tuple[float, ...] = (0.26, 0.05, 0.19, 0.27, 0.05, 0.18)
    codes_weight: float = 3.0  # train: "codes" questions (long code lists, the hardest
    # answers) are drawn this many times as often as each other question type
    followups: float = 0.15  # every split: follow-up pairs added per pair above (0: none)
    # train: only lines the model reads whole at run time (`Sampler`'s `one_record`); the
    # "multi" share goes to "single". Valid and test are unchanged.
    one_record_lines: bool = False
    # their shares, in `FOLLOWUP_CATEGORIES` order: refer, switch, ambiguous
    followup_shares: tuple[float, ...] = (0.45, 0.3, 0.25)

    def __post_init__(self):
        if min(self.train, self.valid, self.test, self.variants) < 0:
            raise ValueError("split sizes and variants must be >= 0")
        for shares, names in (([getattr(self, c) for c in CANONICAL_CATEGORIES],
                               CANONICAL_CATEGORIES), (self.train_shares, CATEGORIES)):
            if shares and (len(shares) != len(names) or min(shares) < 0
                           or not math.isclose(sum(shares), 1.0, abs_tol=1e-6)):
                raise ValueError(f"category shares must be {len(names)} numbers >= 0 "
                                 "that sum to 1")
        if self.codes_weight <= 0:
            raise ValueError("codes_weight must be > 0")
        shares = self.followup_shares
        if (self.followups < 0 or len(shares) != len(FOLLOWUP_CATEGORIES) or min(shares) < 0
                or not math.isclose(sum(shares), 1.0, abs_tol=1e-6)):
            raise ValueError(f"followups must be >= 0 and followup_shares {len(shares)} "
                             "numbers >= 0 that sum to 1")

    def quota(self, split: str) -> dict[str, int]:
        """Pairs per category for `split`; rounding goes to "single"."""
        total = getattr(self, split)
        if split == "train" and self.train_shares:
            counts = {category: round(total * share)
                      for category, share in zip(CATEGORIES, self.train_shares, strict=True)}
            counts["single"] += total - sum(counts.values())
            if self.one_record_lines:
                counts["single"] += counts["multi"]
                counts["multi"] = 0
            return counts
        counts = {category: round(total * getattr(self, category))
                  for category in CANONICAL_CATEGORIES}
        counts["single"] += total - sum(counts.values())
        return {**counts, "variant": round(total * self.variants)}

    def followup_quota(self, split: str) -> dict[str, int]:
        """Follow-up pairs per follow-up category for `split`; rounding goes to "refer"."""
        total = round(getattr(self, split) * self.followups)
        counts = {category: round(total * share) for category, share
                  in zip(FOLLOWUP_CATEGORIES, self.followup_shares, strict=True)}
        counts[FOLLOWUP_CATEGORIES[0]] += total - sum(counts.values())
        return counts

def build_corpus(
    out_dir: Path,
    seed: int = 0,
    catalog_path: Path | None = None,
    sizes: CorpusSizes | None = None,
    catalog_hints: bool = False,
    context_hints: bool = False,
    question_hints: bool = True,
) -> dict[str, dict[str, int]]:
    """Writes train.jsonl, valid.jsonl, test.jsonl and the domain's files (see
    `write_domain_files`) into `out_dir` (atomically).

    Args:
        out_dir: directory to write (created if missing).
        seed: random seed; the same seed gives byte-identical files.
        catalog_path: fault catalog YAML (default: `DEFAULT_CATALOG`).
        sizes: pairs per split and category shares (default: `CorpusSizes()`).

    Returns:
        {split: {category: pairs, ..., family: variant pairs, ..., "total": pairs}} for
        train, valid and test (every category and family of `heldout.FAMILIES`, 0 if none).
    """
    catalog = load_catalog(catalog_path)
    sizes = sizes or CorpusSizes()
    smalltalk = load_smalltalk()
    taken: set[str] = set()  # sources already used by an earlier split
    summary = {}
    for split in SPLITS:
        quota = sizes.quota(split)
        train = split == "train"
        sampler = Sampler(catalog, split, sizes.codes_weight if train else 1.0,
                          one_record=train and sizes.one_record_lines)
        rng = random.Random(f"corpus:{seed}:{split}:smalltalk")
        pairs = smalltalk_pairs(smalltalk, split, quota["smalltalk"], taken, rng)
        quota["single"] += quota["smalltalk"] - len(pairs)  # valid/test run out of spellings
        for category in (c for c in CATEGORIES if c != "smalltalk"):
            rng = random.Random(f"corpus:{seed}:{split}:{category}")
            # a variant may happen to be spelled like a canonical line ("cv7:e217"): once
            avoid = taken | {p["source"] for p in pairs} if category == "variant" else taken
            pairs.extend(sampler.pairs(category, quota[category], avoid, rng))
        taken.update(pair["source"] for pair in pairs)
        random.Random(f"corpus:{seed}:{split}:order").shuffle(pairs)
        pairs = _with_followups(pairs, sampler, sizes.followup_quota(split), taken, seed, split)
        text = "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs)
        atomic_files.atomic_write_text(Path(out_dir) / f"{split}.jsonl", text)
        counts = {category: 0 for category in
                  (*CATEGORIES, *FOLLOWUP_CATEGORIES, *heldout.FAMILIES)}
        for pair in pairs:
            counts[pair["category"]] += 1
            if "family" in pair:
                counts[pair["family"]] += 1
        summary[split] = {**counts, "total": len(pairs)}
    write_domain_files(Path(out_dir), catalog, catalog_hints, context_hints, question_hints)
    return summary


def write_domain_files(out_dir: Path, catalog: Catalog, catalog_hints: bool = False,
                       context_hints: bool = False, question_hints: bool = True) -> None:
    """Writes what a bundle trained on this data needs of the domain (training copies the
    files `DOMAIN_MANIFEST` names into the bundle): the check's catalog facts
    (`faithfulness.BUNDLE_FILE`), the record order (`segment.RECORD_ORDER_FILE`) and, with
    `catalog_hints`, the hints a model trained on it reads (`hints.HINTS_FILE`; a stale one
    is removed without), of contexts with `context_hints`, of questions with `question_hints`."""
    files = {
        faithfulness.BUNDLE_FILE: faithfulness_settings(catalog),
        segment.RECORD_ORDER_FILE: record_order(catalog).to_json(),
        DOMAIN_MANIFEST: manifest.manifest(catalog_hints),
    }
    if catalog_hints:
        files[hints.HINTS_FILE] = hints.CatalogHints.from_catalog(catalog, context_hints,
                                                                  question_hints).to_json()
    else:
        (out_dir / hints.HINTS_FILE).unlink(missing_ok=True)
    for name, content in files.items():
        atomic_files.atomic_write_text(out_dir / name,
                                       json.dumps(content, indent=2, sort_keys=True) + "\n")


def faithfulness_settings(catalog: Catalog) -> dict:
    """What a model bundle needs to check replies against this catalog (see
    `faithfulness.BUNDLE_FILE`): training copies it from the data directory into the bundle."""
    return {
        "allowed_numbers": sorted(faithfulness.allowed_numbers_from_catalog(catalog.raw)),
        "allowed_codes": sorted(faithfulness.allowed_codes_from_catalog(catalog.raw)),
        "equipment_names": dict(catalog.equipment),
        "equipment_aliases": {prefix: list(names) for prefix, names in catalog.aliases.items()},
        "code_table": {
            code: entry.to_json()
            for code, entry in sorted(faithfulness.code_table_from_catalog(catalog.raw).items())
        },
        "message_phrases": dict(MESSAGE_PHRASES),
    }


def record_order(catalog: Catalog) -> segment.RecordOrder:
    """The order `render_reply` gives records, as the runtime's segmentation reads it: the
    `code_rank` of every valid "PREFIX:CODE", `UNKNOWN_RANK` for anything else."""
    ranks = {
        f"{prefix}:{code}": code_rank(prefix, code, catalog)
        for code, entry in catalog.entries.items()
        for prefix in entry.equipment
    }
    return segment.RecordOrder(ranks, UNKNOWN_RANK)


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the `build-corpus` subcommand (and the realistic evaluation set's
    `build-realistic`, `realistic.register`) to an argparse subparsers object; returns the
    `build-corpus` parser."""
    from assistant.domains.warehouse import realistic  # its own generator, not this one's

    realistic.register(subparsers)
    defaults = CorpusSizes()
    parser = subparsers.add_parser(
        "build-corpus",
        help="write train/valid/test.jsonl from the fault catalog and small talk",
        description="Generate the seq2seq corpus (fault lines, questions, small talk, and "
        "the same written as operators type them) into DIR/train.jsonl, valid.jsonl and "
        "test.jsonl. The same seed gives identical files.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output dir")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--catalog", type=Path, help="fault catalog YAML (default: built-in)")
    for split in SPLITS:
        what = "pairs" if split == "train" else "canonical pairs"
        parser.add_argument(f"--{split}", type=int, default=getattr(defaults, split),
                            metavar="N", help=f"{what} in {split}.jsonl (default: "
                            f"{getattr(defaults, split)})")
    parser.add_argument("--variants", type=float, default=defaults.variants, metavar="X",
                        help="valid/test: variant pairs added per canonical pair "
                        f"(default: {defaults.variants})")
    parser.add_argument("--followups", type=float, default=defaults.followups, metavar="X",
                        help="every split: follow-up pairs (a turn after a context) added per "
                        f"pair (default: {defaults.followups}; 0: a corpus without them)")
    parser.add_argument("--train-shares", type=_shares, default=defaults.train_shares,
                        metavar="S,S,...",
                        help="the train split's category shares, in the order "
                        f"{', '.join(CATEGORIES)} (default: "
                        f"{','.join(map(str, defaults.train_shares))}; `make corpus-shipped`: "
                        "0.24,0,0.13,0.30,0.09,0.24)")
    parser.add_argument("--codes-weight", type=float, default=defaults.codes_weight,
                        metavar="W", help="train: how many times as often as each other "
                        "question type a question asks for an equipment type's code list "
                        f"(the longest answers; default: {defaults.codes_weight})")
    parser.add_argument("--one-record-lines", action="store_true",
                        help="train: no line that the runtime answers record by record "
                        "(several records with a separator it splits); the multi-record "
                        "share goes to single records")
    parser.add_argument("--hints", action="store_true",
                        help="write catalog_hints.json: a model trained on this data reads "
                        "each input with what the catalog says of it (README, \"Catalog "
                        "hints\"); the shipped bundle was trained with them")
    parser.add_argument("--context-hints", action="store_true", help="--hints, and of each "
                        "record of a follow-up's context too; the shipped bundle: without")
    parser.add_argument("--no-question-hints", dest="question_hints", action="store_false",
                        help="hints as run E's: no question type, no code named by meaning")
    parser.set_defaults(handler=_build_corpus_command, needs_tensorflow=False)
    return parser


# ---------------------------------------------------------------------------------------
# Private helpers.


def _with_followups(pairs: list[dict], sampler: Sampler, quota: dict[str, int],
                    taken: set[str], seed: int, split: str) -> list[dict]:
    """`pairs` (already in their order) with the split's follow-up pairs inserted at seeded
    places; the follow-ups' sources join `taken`. Nothing changes without a quota."""
    if not sum(quota.values()):
        return pairs
    drawer = followups.FollowupSampler(sampler, pairs)
    extra: list[dict] = []
    for category in FOLLOWUP_CATEGORIES:
        rng = random.Random(f"corpus:{seed}:{split}:{category}")
        extra.extend(drawer.pairs(category, quota[category], taken, rng))
    taken.update(pair["source"] for pair in extra)
    rng = random.Random(f"corpus:{seed}:{split}:followup-order")
    rng.shuffle(extra)
    places = set(rng.sample(range(len(pairs) + len(extra)), len(extra)))
    kept, added = iter(pairs), iter(extra)
    return [next(added) if place in places else next(kept)
            for place in range(len(pairs) + len(extra))]


def _build_corpus_command(args: argparse.Namespace) -> int:
    try:
        sizes = CorpusSizes(train=args.train, valid=args.valid, test=args.test,
                            variants=args.variants, train_shares=args.train_shares,
                            followups=args.followups, one_record_lines=args.one_record_lines,
                            codes_weight=args.codes_weight)
    except ValueError as error:
        raise ValueError(f"build-corpus: {error}") from None
    summary = build_corpus(args.out, args.seed, args.catalog, sizes, args.hints or
                           args.context_hints, args.context_hints, args.question_hints)
    columns = (*CATEGORIES, *FOLLOWUP_CATEGORIES, "total")
    print(f"{'split':<6}" + "".join(f"{c.removeprefix('followup_'):>11}" for c in columns))
    for split, counts in summary.items():
        print(f"{split:<6}" + "".join(f"{counts[c]:>11}" for c in columns))
    print(f"\n{'variant family':<18}" + "".join(f"{split:>8}" for split in summary))
    for family in heldout.FAMILIES:
        held_out = " (held out)" if family in heldout.HELD_OUT else ""
        print(f"{family:<18}" + "".join(f"{counts[family]:>8}" for counts in summary.values())
              + held_out)
    print(f"wrote {', '.join(f'{s}.jsonl' for s in SPLITS)} to {args.out}")
    return 0


def _shares(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated category shares."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}") from None
