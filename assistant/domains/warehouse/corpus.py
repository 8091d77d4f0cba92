"""Builds the training corpus: fault lines, questions and small talk paired with replies.

`build_corpus` writes train.jsonl, valid.jsonl and test.jsonl, one JSON object per line:
{"source": ..., "target": ..., "category": ...} with category in `CATEGORIES` (prompts also
carry "qtype"). The same seed gives byte-identical files.

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
- Small talk: the opening exchange (first line -> second line) of each conversation in the
  chatterbot-corpus categories `SMALLTALK_CATEGORIES` (workplace-suitable; humor, politics,
  gossip, health, history, literature, movies, sports, trivia, science, food, money,
  psychology and coding are skipped). A prompt keeps only its first reply; pairs with digits
  (the faithfulness check would flag them), replies over 30 words and the prompts in
  `SMALLTALK_EXCLUDED` (unsuitable at work) are dropped, and
  `HOUSE_SMALLTALK` answers "who are you?", "help" and thanks as the warehouse assistant.

Held-out data: numbers (unit numbers and parameter values alike), multi-record combinations
and unknown codes are assigned to a split by a fixed hash (`number_split`,
`combination_split`, `unknown_code_split`). Train lines contain only train-reserved items;
every valid/test line contains at least one item reserved for its own split (or a held-out
phrasing, or a held-out spelling of small talk) and none reserved for the other, so no
source is in two splits; a valid/test line of 2-4 records is always a combination reserved
for its split. Only whole numbers are reserved, never digits, and every code is in
train. Sources vary case, leading zeros and spacing; targets are canonical. A fault line whose
message would exceed `MAX_TARGET_CHARS` is redrawn, so targets fit the trainer's 160 pieces.

The catalog lives in `assistant.domains.warehouse.catalog`, the reply templates in `assistant.domains.warehouse.messages`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import json
import math
import random
import re
import string
import zlib
from collections.abc import Sequence
from pathlib import Path

import yaml

from assistant.core import atomic_files
from assistant.domains.warehouse import faithfulness, faultcodes, segment
from assistant.domains.warehouse.catalog import UNKNOWN_RANK, Catalog, ParamSpec, load_catalog
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.domains.warehouse.faultcodes import FaultRecord
from assistant.domains.warehouse.messages import (
    MESSAGE_PHRASES,
    QUESTION_TYPES,
    answer_question,
    code_rank,
    render_reply,
)
from assistant.runtime.domain import DOMAIN_MANIFEST

CATEGORIES = ("single", "multi", "unknown", "prompt", "smalltalk")
SPLITS = ("train", "valid", "test")

SMALLTALK_CATEGORIES = (
    "greetings", "conversations", "emotion", "computers", "ai", "botprofile", "tech_support",
)  # fmt: skip
MAX_SMALLTALK_REPLY_WORDS = 30
MAX_TARGET_CHARS = 400  # fault lines with longer messages are redrawn (~150 pieces < 160)
_HELP_REPLY = (
    "Type the fault records from a panel, or ask me what a code means, how serious it is "
    "or how to fix it."
)
_WHO_REPLY = "I am the warehouse assistant. I explain fault codes and what to do about them."
HOUSE_SMALLTALK = (
    ("Who are you?", _WHO_REPLY),
    ("What are you?", _WHO_REPLY),
    ("What can you do?", _HELP_REPLY),
    ("Help", _HELP_REPLY),
    ("Thank you", "You're welcome."),
    ("Thanks", "You're welcome."),
    ("Good morning", "Good morning! Type a fault line or ask me about a code."),
    ("Bye", "Goodbye, and stay safe on the floor."),
)  # override the chatterbot replies to the same prompts

SMALLTALK_EXCLUDED = frozenset({
    "bend over", "can you mate", "robots should die", "i hope that you die",
    "are you intoxicated", "tell me about your dreams", "do not lie", "robots are stupid",
    "what is a chat bot", "how can i use your product", "the cake is a lie",
    "hello, i am here for my appointment", "dr. smith will see you now",
    "hello mr. davis, how are you feeling", "hi mrs. smith, how has your husband been",
    "hi ms. jacobs, i was wondering if you could revise the algorithm we discussed yesterday",
})  # fmt: skip
# prompts (compared as by `_smalltalk_key`) that are unsuitable at work, off-topic role play,
# or answered with claims the assistant cannot back ("I am incapable of error")

# {code}: a fault code; {eq}: a unit ("conveyor 7", "CV07"); {name}: an equipment name.
PHRASINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "meaning": {
        "train": ("what does {code} mean?", "what is {code}?", "explain {code}",
                  "meaning of {code}", "what is the meaning of {code}?",
                  "what does code {code} mean", "{code}, what does that mean?", "describe {code}",
                  "what's {code}?", "tell me about {code}", "what does {code} stand for?",
                  "I see {code}, what is it?", "what's the meaning of {code}?",
                  "{code} means what?", "what is error {code}?", "define {code}",
                  "what is alarm {code}?", "{code} explanation", "{code}: what is that?",
                  "what does the code {code} mean on the panel?", "info on {code}",
                  "the panel says {code}, meaning?", "what is {code} about?"),
        "valid": ("what is fault code {code}?",),
        "test": ("can you tell me what {code} means?", "{code} meaning?"),
    },
    "action": {
        "train": ("how do I fix {code}?", "what should I do about {code}?", "how to clear {code}",
                  "{code} what do I do?", "how can I fix {code}?", "what is the action for {code}?",
                  "how do I deal with {code}?", "{code}, how do I fix it?",
                  "what to do about {code}", "fix for {code}", "how do I solve {code}?",
                  "got {code}, what should I do?", "how do I reset {code}?",
                  "what do I do when I get {code}?", "steps for {code}",
                  "how do I get rid of {code}?", "{code}: how to fix?", "action for {code}",
                  "what now with {code}?", "how do you fix {code}?",
                  "the panel shows {code}, what should I do?"),
        "valid": ("how do I resolve {code}?",),
        "test": ("what is the fix for {code}?", "I have {code}, what now?"),
    },
    "action_unit": {
        "train": ("how do I fix {code} on {eq}?", "what should I do about {code} on {eq}?",
                  "{eq} shows {code}, what do I do?", "how to clear {code} on {eq}",
                  "how can I fix {code} on {eq}?", "what is the action for {code} on {eq}?",
                  "{eq} reports {code}, how do I clear it?", "fix for {code} on {eq}",
                  "got {code} on {eq}, what should I do?", "how do I deal with {code} on {eq}?",
                  "how do I reset {code} on {eq}?", "{eq} has {code}: how to fix?",
                  "steps for {code} on {eq}", "{code} at {eq}, what do I do?",
                  "action for {code} on {eq}", "how do you fix {code} on {eq}?",
                  "{eq} is showing {code}, what should I do?", "what now with {code} on {eq}?"),
        "valid": ("{eq} has {code}, how do I fix it?",),
        "test": ("what is the fix for {code} on {eq}?", "{code} on {eq}, what now?"),
    },
    "severity": {
        "train": ("what is the severity of {code}?", "how serious is {code}?",
                  "is {code} critical?", "severity of {code}", "how severe is {code}?",
                  "what is the severity level of {code}?", "is {code} a warning?",
                  "{code} severity", "how urgent is {code}?", "is {code} dangerous?",
                  "what kind of code is {code}?", "is {code} a fault?",
                  "is {code} an emergency?", "{code}: how serious?", "severity for {code}",
                  "what's the severity of {code}?", "is {code} urgent?", "is {code} bad?",
                  "how critical is {code}?", "is {code} just info?", "{code} critical or not?",
                  "what level is {code}?"),
        "valid": ("how bad is {code}?",),
        "test": ("what severity is {code}?", "is {code} serious?"),
    },
    "equipment": {
        "train": ("which equipment raises {code}?", "what equipment can show {code}?",
                  "where does {code} come from?", "which machines use {code}?",
                  "what machines raise {code}?", "{code} comes from which equipment?",
                  "which units can raise {code}?", "where can {code} be raised?",
                  "which equipment types have {code}?", "who raises {code}?",
                  "what can report {code}?", "equipment for {code}",
                  "which machines can show {code}?",
                  "what equipment has {code}?", "{code} is from which machines?",
                  "what equipment gives {code}?", "on which equipment does {code} appear?",
                  "{code} belongs to which equipment?", "which devices raise {code}?"),
        "valid": ("what raises {code}?",),
        "test": ("which equipment can report {code}?", "{code} is raised by which equipment?"),
    },
    "codes": {
        "train": ("what codes can the {name} raise?", "list the {name} codes",
                  "which fault codes does the {name} have?", "{name} codes",
                  "list codes for the {name}", "codes of the {name}", "show me the {name} codes",
                  "which codes can a {name} show?", "all codes for the {name}",
                  "what are the {name} fault codes?", "codes that belong to the {name}",
                  "what codes does a {name} have?",
                  "{name} code list", "list all {name} codes", "which codes can the {name} give?",
                  "what codes are there for the {name}?", "the {name}'s codes",
                  "show all codes for the {name}"),
        "valid": ("show codes for the {name}",),
        "test": ("what codes does the {name} report?", "which codes belong to the {name}?"),
    },
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CorpusSizes:
    """Pairs per split and the share of each category."""

    train: int = 35_000  # pairs in train.jsonl (small talk repeats included); 5 epochs of
    # the reference model take about 12 minutes on 2 cores
    valid: int = 2_000  # pairs in valid.jsonl, distinct sources
    test: int = 3_000  # pairs in test.jsonl, distinct sources
    single: float = 0.22  # one-record fault lines
    multi: float = 0.30  # 2-4 record fault lines, all codes known
    unknown: float = 0.21  # 1-4 record lines with at least one unknown code
    prompt: float = 0.21  # questions about codes and equipment
    smalltalk: float = 0.06  # chat; valid/test capped by the distinct spellings available
    # The train split's own shares, in `CATEGORIES` order (empty: the shares above). The
    # runtime answers a line of several records one record at a time (`assistant.domains.warehouse.segment`),
    # so train holds fewer multi-record lines and more questions; valid and test keep the
    # shares above (their files do not depend on train's).
    train_shares: tuple[float, ...] = (0.33, 0.05, 0.24, 0.32, 0.06)
    codes_weight: float = 3.0  # train: "codes" questions (long code lists, the hardest
    # answers) are drawn this many times as often as each other question type

    def __post_init__(self):
        if min(self.train, self.valid, self.test) < 0:
            raise ValueError("split sizes must be >= 0")
        for shares in ([getattr(self, category) for category in CATEGORIES], self.train_shares):
            if shares and (len(shares) != len(CATEGORIES) or min(shares) < 0
                           or not math.isclose(sum(shares), 1.0, abs_tol=1e-6)):
                raise ValueError(f"category shares must be {len(CATEGORIES)} numbers >= 0 "
                                 "that sum to 1")
        if self.codes_weight <= 0:
            raise ValueError("codes_weight must be > 0")

    def quota(self, split: str) -> dict[str, int]:
        """Pairs per category for `split`; rounding goes to "single"."""
        total = getattr(self, split)
        shares = [getattr(self, category) for category in CATEGORIES]
        if split == "train" and self.train_shares:
            shares = list(self.train_shares)
        counts = {category: round(total * share)
                  for category, share in zip(CATEGORIES, shares, strict=True)}
        counts["single"] += total - sum(counts.values())
        return counts


def load_smalltalk(categories: Sequence[str] = SMALLTALK_CATEGORIES) -> list[tuple[str, str]]:
    """(prompt, reply) pairs: `HOUSE_SMALLTALK`, then chatterbot-corpus English openings.

    One reply per prompt: the first one met, comparing prompts without case, extra spaces or
    trailing punctuation.
    """
    root = importlib.resources.files("chatterbot_corpus") / "data" / "english"
    pairs = {_smalltalk_key(prompt): (prompt, reply) for prompt, reply in HOUSE_SMALLTALK}
    for category in categories:
        data = yaml.safe_load((root / f"{category}.yml").read_text(encoding="utf-8"))
        for conversation in data.get("conversations") or ():
            if len(conversation) < 2:
                continue
            prompt, reply = (" ".join(str(line).split()) for line in conversation[:2])
            if _usable_smalltalk(prompt, reply):
                pairs.setdefault(_smalltalk_key(prompt), (prompt, reply))
    return list(pairs.values())


def number_split(number: str) -> str:
    """The split a number (unit or value, as typed) is reserved for: 8 % test, 5 % valid."""
    return _bucket("number", faithfulness.normalize_number(number), test=8, valid=5)


def combination_split(records: Sequence[FaultRecord]) -> str:
    """The split a multi-record combination (set of prefix:code) is reserved for."""
    key = "|".join(sorted(f"{r.prefix}:{r.code}" for r in records))
    return _bucket("combination", key, test=10, valid=6)


def unknown_code_split(code: str) -> str:
    """The split an unknown code is reserved for."""
    return _bucket("code", code.upper(), test=15, valid=10)


def build_corpus(
    out_dir: Path,
    seed: int = 0,
    catalog_path: Path | None = None,
    sizes: CorpusSizes | None = None,
) -> dict[str, dict[str, int]]:
    """Writes train.jsonl, valid.jsonl, test.jsonl and the domain's files (see
    `write_domain_files`) into `out_dir` (atomically).

    Args:
        out_dir: directory to write (created if missing).
        seed: random seed; the same seed gives byte-identical files.
        catalog_path: fault catalog YAML (default: `DEFAULT_CATALOG`).
        sizes: pairs per split and category shares (default: `CorpusSizes()`).

    Returns:
        {split: {category: pairs, ..., "total": pairs}} for train, valid and test.
    """
    catalog = load_catalog(catalog_path)
    sizes = sizes or CorpusSizes()
    smalltalk = load_smalltalk()
    taken: set[str] = set()  # sources already used by an earlier split
    summary = {}
    for split in SPLITS:
        quota = sizes.quota(split)
        sampler = _Sampler(catalog, split, sizes.codes_weight if split == "train" else 1.0)
        rng = random.Random(f"corpus:{seed}:{split}:smalltalk")
        pairs = _smalltalk_pairs(smalltalk, split, quota["smalltalk"], taken, rng)
        quota["single"] += quota["smalltalk"] - len(pairs)  # valid/test run out of spellings
        for category in CATEGORIES[:-1]:
            rng = random.Random(f"corpus:{seed}:{split}:{category}")
            pairs.extend(sampler.pairs(category, quota[category], taken, rng))
        taken.update(pair["source"] for pair in pairs)
        random.Random(f"corpus:{seed}:{split}:order").shuffle(pairs)
        text = "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs)
        atomic_files.atomic_write_text(Path(out_dir) / f"{split}.jsonl", text)
        counts = {category: 0 for category in CATEGORIES}
        for pair in pairs:
            counts[pair["category"]] += 1
        summary[split] = {**counts, "total": len(pairs)}
    write_domain_files(Path(out_dir), catalog)
    return summary


def write_domain_files(out_dir: Path, catalog: Catalog) -> None:
    """Writes what a bundle trained on this data needs of the domain (training copies the
    files `DOMAIN_MANIFEST` names into the bundle): the check's catalog facts
    (`faithfulness.BUNDLE_FILE`) and the record order (`segment.RECORD_ORDER_FILE`)."""
    files = {
        faithfulness.BUNDLE_FILE: faithfulness_settings(catalog),
        segment.RECORD_ORDER_FILE: record_order(catalog).to_json(),
        DOMAIN_MANIFEST: {"name": WarehouseDomain.name, "files": list(WarehouseDomain.files)},
    }
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
    """Adds the `build-corpus` subcommand to an argparse subparsers object."""
    defaults = CorpusSizes()
    parser = subparsers.add_parser(
        "build-corpus",
        help="write train/valid/test.jsonl from the fault catalog and small talk",
        description="Generate the seq2seq corpus (fault lines, questions, small talk) into "
        "DIR/train.jsonl, valid.jsonl and test.jsonl. The same seed gives identical files.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output dir")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--catalog", type=Path, help="fault catalog YAML (default: built-in)")
    for split in SPLITS:
        parser.add_argument(
            f"--{split}",
            type=int,
            default=getattr(defaults, split),
            metavar="N",
            help=f"pairs in {split}.jsonl (default: {getattr(defaults, split)})",
        )
    parser.set_defaults(handler=_build_corpus_command, needs_tensorflow=False)
    return parser


# ---------------------------------------------------------------------------------------
# Private helpers.

_HELDOUT_BIAS = 0.4  # in valid/test: chance to draw a unit/value from the held-out pool
_PARAM_PRESENT = 0.85  # chance a catalog parameter is typed in a generated record
_EXTRA_PARAM = 0.25  # chance of a parameter the catalog does not list (ignored in replies);
# frequent, or the model reads any stray parameter as a sign of an invalid record
_PROMPT_OPENERS = ("hi, ", "hey, ", "quick question: ", "please, ", "sorry, ", "ok, ")
_PROMPT_CLOSERS = (" please", ", thanks", " thanks", "??", " ?")
_CHATTY = 0.2  # train only: chance of an opener, and of a closer, around a question
_RECORDS_MULTI = ((2, 3, 4), (0.60, 0.30, 0.10))
_RECORDS_UNKNOWN = ((1, 2, 3, 4), (0.50, 0.30, 0.15, 0.05))
_ATTEMPTS_PER_PAIR = 50  # give up on a category after this many rejected draws per pair


class _Sampler:
    """Draws fault lines and questions for one split, honouring the held-out reservations."""

    def __init__(self, catalog: Catalog, split: str, codes_weight: float = 1.0):
        self.catalog = catalog
        self.split = split
        # None: a uniform draw (`rng.choice`, so valid/test do not change with the weight)
        self.question_weights = None if codes_weight == 1.0 else [
            codes_weight if q == "codes" else 1.0 for q in QUESTION_TYPES]
        self.entries = list(catalog.entries.values())
        self.prefixes = list(catalog.equipment)
        self.units = {s: [u for u in range(1, 100) if number_split(str(u)) == s] for s in SPLITS}
        specs: dict[str, ParamSpec] = {}
        for entry in self.entries:
            for spec in entry.params:
                specs.setdefault(spec.name, spec)
        self.param_specs = dict(sorted(specs.items()))

    def pairs(self, category: str, quota: int, taken: set[str], rng: random.Random) -> list:
        made, seen = [], set(taken)
        for _ in range(quota * _ATTEMPTS_PER_PAIR):
            if len(made) >= quota:
                break
            pair = self._prompt(rng) if category == "prompt" else self._fault(category, rng)
            if pair is None or pair["source"] in taken:
                continue
            repeatable = self.split == "train" and category == "prompt"
            if pair["source"] in seen and not repeatable:
                continue
            seen.add(pair["source"])
            made.append(pair)
        return made

    def _fault(self, category: str, rng: random.Random) -> dict | None:
        if category == "single":
            records = [self._known_record(rng)]
        elif category == "multi":
            count = rng.choices(*_RECORDS_MULTI)[0]
            records = [self._known_record(rng) for _ in range(count)]
        else:
            count = rng.choices(*_RECORDS_UNKNOWN)[0]
            unknown_at = rng.randrange(count)
            records = [
                self._unknown_record(rng)
                if i == unknown_at or rng.random() < 0.2
                else self._known_record(rng)
                for i in range(count)
            ]
        keys = [(r.prefix, r.unit, r.code) for r in records]
        if len(set(keys)) < len(keys) or not self._allowed(records):
            return None
        target = render_reply(records, self.catalog)
        if len(target) > MAX_TARGET_CHARS:
            return None
        source = _vary_line([_vary_record(r, rng) for r in records], rng)
        return {"source": source, "target": target, "category": category}

    def _allowed(self, records: Sequence[FaultRecord]) -> bool:
        reserved = [number_split(str(r.unit)) for r in records]
        reserved += [number_split(value) for r in records for _, value in r.params]
        reserved += [
            unknown_code_split(r.code) for r in records if r.code not in self.catalog.entries
        ]
        if len(records) > 1:
            combination = combination_split(records)
            if self.split != "train" and combination != self.split:
                return False  # held-out multi-record lines are unseen combinations
            reserved.append(combination)
        return self._fits(reserved)

    def _fits(self, reserved: Sequence[str]) -> bool:
        """Train: nothing held out. Valid/test: something of its own, nothing of the other."""
        if any(s not in ("train", self.split) for s in reserved):
            return False
        return self.split == "train" or self.split in reserved

    def _known_record(self, rng: random.Random) -> FaultRecord:
        entry = rng.choice(self.entries)
        params = [
            (spec.name, value)
            for spec in entry.params
            if rng.random() < _PARAM_PRESENT and (value := self._value(spec, rng))
        ]
        if rng.random() < _EXTRA_PARAM:
            own = {spec.name for spec in entry.params}
            others = [spec for name, spec in self.param_specs.items() if name not in own]
            spec = rng.choice(others)
            if value := self._value(spec, rng):
                params.insert(rng.randint(0, len(params)), (spec.name, value))
        if rng.random() < 0.2:
            rng.shuffle(params)
        return FaultRecord(rng.choice(entry.equipment), self._unit(rng), entry.code, tuple(params))

    def _unknown_record(self, rng: random.Random) -> FaultRecord:
        kind = rng.random()
        if kind < 0.45:  # a code the catalog does not have
            prefix, code = rng.choice(self.prefixes), self._unknown_code(rng)
        elif kind < 0.8:  # a real code on equipment it is not listed for
            entry = rng.choice([e for e in self.entries if len(e.equipment) < len(self.prefixes)])
            prefix = rng.choice([p for p in self.prefixes if p not in entry.equipment])
            code = entry.code
        else:  # equipment the catalog does not have
            prefix = rng.choice([p for p in _all_prefixes() if p not in self.catalog.equipment])
            code = rng.choice(self.entries).code if rng.random() < 0.5 else self._unknown_code(rng)
        params = []
        for _ in range(rng.choice((0, 0, 1, 2))):
            spec = rng.choice(list(self.param_specs.values()))
            if (value := self._value(spec, rng)) and spec.name not in dict(params):
                params.append((spec.name, value))
        return FaultRecord(prefix, self._unit(rng), code, tuple(params))

    def _unit(self, rng: random.Random) -> int:
        if self.split != "train" and rng.random() < _HELDOUT_BIAS:
            return rng.choice(self.units[self.split])
        return rng.choice(self.units["train"])

    def _value(self, spec: ParamSpec, rng: random.Random) -> str | None:
        """A value typed for `spec`, or None when no allowed value turns up (rare)."""
        wanted = ["train"]
        if self.split != "train" and rng.random() < _HELDOUT_BIAS:
            wanted = [self.split, self.split, "train"]  # prefer held out, fall back to train
        for split in wanted:
            for _ in range(40):
                value = _draw_value(spec, rng)
                if number_split(value) == split:
                    return value
        return None

    def _unknown_code(self, rng: random.Random) -> str:
        wanted = self.split if self.split != "train" and rng.random() < 0.5 else "train"
        while True:
            letters = "CEWI" if rng.random() < 0.75 else string.ascii_uppercase
            code = f"{rng.choice(letters)}{rng.randrange(1000):03d}"
            if code not in self.catalog.entries and unknown_code_split(code) == wanted:
                return code

    def _prompt(self, rng: random.Random) -> dict | None:
        if self.question_weights is None:
            qtype = rng.choice(QUESTION_TYPES)
        else:
            qtype = rng.choices(QUESTION_TYPES, self.question_weights)[0]
        held_out = self.split != "train" and rng.random() < 0.8
        template = rng.choice(PHRASINGS[qtype][self.split if held_out else "train"])
        reserved = [self.split if held_out else "train"]
        code, prefix, unit, fields = "", "", 0, {}
        if qtype == "codes":
            prefix = rng.choice(self.prefixes)
            fields["name"] = self.catalog.equipment[prefix]
        else:
            if rng.random() < 0.88:
                entry = rng.choice(self.entries)
                code = entry.code
            else:
                entry, code = None, self._unknown_code(rng)
                reserved.append(unknown_code_split(code))
            fields["code"] = code if rng.random() < 0.75 else code.lower()
        if qtype == "action_unit":
            valid = entry is not None and rng.random() < 0.85
            prefix = rng.choice(entry.equipment if valid else self.prefixes)
            unit = self._unit(rng)
            reserved.append(number_split(str(unit)))
            fields["eq"] = _unit_mention(prefix, unit, self.catalog.equipment[prefix], rng)
        if not self._fits(reserved):
            return None
        source = template.format(**fields)
        if self.split == "train":  # held-out phrasings stay exactly as written
            source = _chatty(source, rng)
        source = _vary_prompt(source, rng)
        target = answer_question(qtype, self.catalog, code, prefix, unit)
        return {"source": source, "target": target, "category": "prompt", "qtype": qtype}


def _smalltalk_pairs(
    smalltalk: Sequence[tuple[str, str]], split: str, quota: int, taken: set[str], rng
) -> list[dict]:
    """Train repeats its spellings to fill the quota; valid/test hold other spellings once."""
    sources: dict[str, str] = {}
    for prompt, reply in smalltalk:
        for variant in _smalltalk_variants(prompt)[split]:
            if variant not in taken:
                sources.setdefault(variant, reply)
    items = [{"source": s, "target": t, "category": "smalltalk"} for s, t in sources.items()]
    rng.shuffle(items)
    if split == "train" and items:
        items = items * math.ceil(quota / len(items))
    return items[:quota]


def _smalltalk_variants(prompt: str) -> dict[str, list[str]]:
    bare = re.sub(r"[\s?!.]+$", "", prompt)
    return {
        "train": [prompt, prompt.lower(), bare],
        "valid": [prompt.upper()],
        "test": [bare.lower()],
    }


def _smalltalk_key(prompt: str) -> str:
    return re.sub(r"[\s?!.]+$", "", " ".join(prompt.lower().split()))


def _usable_smalltalk(prompt: str, reply: str) -> bool:
    return (
        bool(prompt and reply)
        and _smalltalk_key(prompt) not in SMALLTALK_EXCLUDED
        and not re.search(r"[0-9]", prompt + reply)
        and len(reply.split()) <= MAX_SMALLTALK_REPLY_WORDS
        and not faultcodes.looks_like_fault_line(prompt)
    )


def _draw_value(spec: ParamSpec, rng: random.Random) -> str:
    if spec.decimals == 0 or rng.random() < 0.2:  # operators often type whole numbers
        value = str(rng.randint(math.ceil(spec.low), math.floor(spec.high)))
        return value + ".0" if spec.decimals == 0 and rng.random() < 0.03 else value
    scale = 10**spec.decimals
    steps = rng.randint(round(spec.low * scale), round(spec.high * scale))
    return f"{steps / scale:.{spec.decimals}f}"


def _vary_record(record: FaultRecord, rng: random.Random) -> str:
    """A record as an operator might type it: case, leading zero and spacing vary."""
    prefix = _vary_case(record.prefix, rng)
    unit = f"{record.unit:02d}" if record.unit < 10 and rng.random() < 0.6 else str(record.unit)
    gap = " " if rng.random() < 0.03 else ""
    colon = rng.choices((":", ": ", " : ", " :"), (0.9, 0.04, 0.03, 0.03))[0]
    code = record.code if rng.random() < 0.8 else record.code.lower()
    text = f"{prefix}{gap}{unit}{colon}{code}"
    for key, value in record.params:
        separator = rng.choices((" ", "  ", ", "), (0.85, 0.10, 0.05))[0]
        equals = " = " if rng.random() < 0.04 else "="
        key = key if rng.random() < 0.8 else key.lower()
        text += f"{separator}{key}{equals}{value}"
    return text


def _vary_line(records: Sequence[str], rng: random.Random) -> str:
    text = records[0]
    for record in records[1:]:
        text += rng.choices(("; ", ";", " ; ", ";  "), (0.7, 0.15, 0.1, 0.05))[0] + record
    if rng.random() < 0.02:
        text += ";"
    if rng.random() < 0.05:
        text = " " * rng.randint(1, 2) + text + " " * rng.randint(0, 2)
    return text


def _chatty(text: str, rng: random.Random) -> str:
    """A question with the small words operators add around it, now and then."""
    if rng.random() < _CHATTY:
        text = rng.choice(_PROMPT_OPENERS) + text
    if rng.random() < _CHATTY:
        text = text.rstrip("?") + rng.choice(_PROMPT_CLOSERS)
    return text


def _vary_case(text: str, rng: random.Random) -> str:
    return rng.choices((text.upper(), text.lower(), text.capitalize()), (0.7, 0.25, 0.05))[0]


def _vary_prompt(text: str, rng: random.Random) -> str:
    text = rng.choices(
        (text, text[:1].upper() + text[1:], text.lower(), text.upper()), (0.45, 0.35, 0.15, 0.05)
    )[0]
    if text.endswith("?") and rng.random() < 0.2:
        text = text[:-1]
    return text


def _unit_mention(prefix: str, unit: int, name: str, rng: random.Random) -> str:
    forms = (f"{name} {unit}", f"{name} {unit:02d}", f"{prefix}{unit:02d}", f"{prefix}{unit}")
    return rng.choices(forms, (0.4, 0.15, 0.3, 0.15))[0]


def _bucket(kind: str, key: str, test: int, valid: int) -> str:
    slot = zlib.crc32(f"{kind}:{key}".encode()) % 100
    return "test" if slot < test else "valid" if slot < test + valid else "train"


def _all_prefixes() -> list[str]:
    return [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]


def _build_corpus_command(args: argparse.Namespace) -> int:
    sizes = CorpusSizes(train=args.train, valid=args.valid, test=args.test)
    summary = build_corpus(args.out, seed=args.seed, catalog_path=args.catalog, sizes=sizes)
    print(f"{'split':<6}" + "".join(f"{c:>11}" for c in (*CATEGORIES, "total")))
    for split, counts in summary.items():
        print(f"{split:<6}" + "".join(f"{counts[c]:>11}" for c in (*CATEGORIES, "total")))
    print(f"wrote {', '.join(f'{s}.jsonl' for s in SPLITS)} to {args.out}")
    return 0
