"""Draws the fault lines and questions of one corpus split (`Sampler`).

Numbers, multi-record combinations and unknown codes are reserved for a split by a fixed
hash (`number_split`, `combination_split`, `unknown_code_split`); the sampler keeps train
lines to train-reserved items and gives every valid/test line something reserved for its
own split (see `assistant.domains.warehouse.corpus` for the rules). Sources vary case,
leading zeros and spacing as operators type; targets are the canonical messages and
answers of `assistant.domains.warehouse.messages`. Variant pairs (`Sampler.pairs` with the
"variant" category) write a line or question in one of the families of `heldout.FAMILIES`
that is not held out (spellings in `phrasings`) and keep the canonical target.
"""

from __future__ import annotations

import math
import random
import string
import zlib
from collections.abc import Sequence

from assistant.domains.warehouse import heldout, segment
from assistant.domains.warehouse.catalog import Catalog, ParamSpec
from assistant.domains.warehouse.faultcodes import MAX_RECORDS, FaultRecord, format_line
from assistant.domains.warehouse.mentions import normalize_number
from assistant.domains.warehouse.messages import QUESTION_TYPES, answer_question, render_reply
from assistant.domains.warehouse.phrasings import (
    CANONICAL_EQ,
    CANONICAL_QUESTIONS,
    CASUAL_PHRASINGS,
    FAMILY_WEIGHTS,
    MEANING_PHRASINGS,
    PHRASINGS,
    QUESTION_FAMILIES,
    SEPARATORS,
    chatty,
    draw_spelling,
    unit_mention,
    vary_prompt,
    write_line,
)

SPLITS = ("train", "valid", "test")
MAX_TARGET_CHARS = 400  # fault lines with longer messages are redrawn (~150 pieces < 160)
MAX_MANY_TARGET_CHARS = 700  # the same for lines of more than 4 records (~250 pieces < 320)


def number_split(number: str) -> str:
    """The split a number (unit or value, as typed) is reserved for: 8 % test, 5 % valid."""
    return _bucket("number", normalize_number(number), test=8, valid=5)


def combination_split(records: Sequence[FaultRecord]) -> str:
    """The split a multi-record combination (set of prefix:code) is reserved for."""
    key = "|".join(sorted(f"{r.prefix}:{r.code}" for r in records))
    return _bucket("combination", key, test=10, valid=6)


def unknown_code_split(code: str) -> str:
    """The split an unknown code is reserved for."""
    return _bucket("code", code.upper(), test=15, valid=10)


class Sampler:
    """Draws fault lines and questions for one split, honouring the held-out reservations.

    With `one_record`, it draws no line that the runtime answers record by record
    (`segment.split_line`): no "multi" line, unknown-code lines of one record, no variant
    family that exists only to separate records (`SEPARATORS`, "many_records"), and no
    variant line that splits; a line the runtime decodes whole (records named by an alias,
    say) may still hold several records.
    """

    def __init__(self, catalog: Catalog, split: str, codes_weight: float = 1.0,
                 one_record: bool = False):
        self.catalog = catalog
        self.split = split
        self.one_record = one_record
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
        # the variant families and aliases the corpus may use (none of `heldout.HELD_OUT`)
        self.families = tuple(
            family for family in heldout.trainable(heldout.FAMILIES)
            if not (one_record and (family in SEPARATORS or family == "many_records")))
        self.family_weights = [FAMILY_WEIGHTS[family] for family in self.families]
        self.aliases = {prefix: heldout.trainable_aliases(prefix, names)
                        for prefix, names in catalog.aliases.items()}

    def pairs(self, category: str, quota: int, taken: set[str], rng: random.Random) -> list:
        made, seen = [], set(taken)
        for _ in range(quota * _ATTEMPTS_PER_PAIR):
            if len(made) >= quota:
                break
            if category == "prompt":
                pair = self._prompt(rng)
            else:
                pair = self._variant(rng) if category == "variant" else self._fault(category, rng)
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
            if self.one_record:
                return None
            count = rng.choices(*_RECORDS_MULTI)[0]
            records = [self._known_record(rng) for _ in range(count)]
        else:
            count = 1 if self.one_record else rng.choices(*_RECORDS_UNKNOWN)[0]
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

    def _fits(self, reserved: Sequence[str], own: bool = True) -> bool:
        """Train: nothing held out. Valid/test: something of its own (unless not `own`),
        nothing of the other."""
        if any(s not in ("train", self.split) for s in reserved):
            return False
        return self.split == "train" or not own or self.split in reserved

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
        code, prefix, unit, fields = self._subject(qtype, rng, reserved)
        if not self._fits(reserved):
            return None
        source = template.format(**fields)
        if self.split == "train":  # held-out phrasings stay exactly as written
            source = chatty(source, rng)
        source = vary_prompt(source, rng)
        target = answer_question(qtype, self.catalog, code, prefix, unit)
        return {"source": source, "target": target, "category": "prompt", "qtype": qtype}

    def _subject(self, qtype: str, rng: random.Random, reserved: list[str], alias: bool = False,
                 known: bool = False) -> tuple[str, str, int, dict[str, str]]:
        """What a question asks about: (code, prefix, unit, template fields). Appends the
        splits of what it draws to `reserved`. `alias`: the unit or type named by a short
        alias; `known`: a catalog code on equipment it is valid for."""
        code, prefix, unit, fields, entry = "", "", 0, {}, None
        if qtype == "codes":
            prefix = rng.choice(self.prefixes)
            fields["name"] = self._alias(prefix, rng) if alias else self.catalog.equipment[prefix]
        else:
            if known or rng.random() < 0.88:
                entry = rng.choice(self.entries)
                code = entry.code
                fields["meaning"] = entry.meaning
            else:
                entry, code = None, self._unknown_code(rng)
                reserved.append(unknown_code_split(code))
            fields["code"] = code if rng.random() < 0.75 else code.lower()
        if qtype == "action_unit":
            valid = entry is not None and (known or rng.random() < 0.85)
            prefix = rng.choice(entry.equipment if valid else self.prefixes)
            unit = self._unit(rng)
            reserved.append(number_split(str(unit)))
            name = self.catalog.equipment[prefix]
            fields["eq"] = (f"{self._alias(prefix, rng)} {unit}" if alias
                            else unit_mention(prefix, unit, name, rng))
        return code, prefix, unit, fields

    def _alias(self, prefix: str, rng: random.Random) -> str:
        names = self.aliases[prefix]
        return rng.choice(names[1:]) if len(names) > 1 else names[0]

    def _variant(self, rng: random.Random) -> dict | None:
        """A variant pair; the family is drawn first, so the families keep their weights
        however often their draws are rejected."""
        family = rng.choices(self.families, self.family_weights)[0]
        for _ in range(_ATTEMPTS_PER_PAIR):
            if family in QUESTION_FAMILIES or (family == "alias_short" and rng.random() < 0.3):
                pair = self._variant_question(family, rng)
            else:
                pair = self._variant_line(family, rng)
            if (pair is not None and pair["source"] != pair["canonical"]
                    and not heldout.held_out_families(pair["source"])):
                return pair
        return None

    def _variant_line(self, family: str, rng: random.Random) -> dict | None:
        spelling = draw_spelling(family, rng, self.families)
        if family == "many_records":
            count = rng.choice((5, 5, 6))
        elif spelling.separator != "; " and not spelling.timestamp:
            count = rng.choices((2, 3, 4), (0.55, 0.3, 0.15))[0]
        else:
            count = rng.choices((1, 2, 3), (0.7, 0.2, 0.1))[0]
        records = [self._unknown_record(rng) if rng.random() < _VARIANT_UNKNOWN
                   else self._known_record(rng) for _ in range(count)]
        keys = [(r.prefix, r.unit, r.code) for r in records]
        if len(set(keys)) < len(keys) or not self._allowed(records):
            return None
        target = render_reply(records, self.catalog)
        if len(target) > (MAX_MANY_TARGET_CHARS if count > MAX_RECORDS else MAX_TARGET_CHARS):
            return None
        source = write_line(records, spelling, self.catalog, self.aliases, rng,
                            lambda number: number_split(number) == "train")
        if self.one_record and segment.split_line(source) is not None:
            return None
        return {"source": source, "target": target, "category": "variant", "family": family,
                "canonical": format_line(records)}

    def _variant_question(self, family: str, rng: random.Random) -> dict | None:
        if family == "ask_by_meaning":
            qtype = rng.choice(tuple(MEANING_PHRASINGS))
            template = rng.choice(MEANING_PHRASINGS[qtype])
        elif family == "ask_casual":
            qtype = rng.choice(QUESTION_TYPES)
            template = rng.choice(CASUAL_PHRASINGS[qtype])
        else:  # an alias in a train phrasing
            qtype = rng.choice(("action_unit", "codes"))
            template = rng.choice(PHRASINGS[qtype]["train"])
        reserved = ["train"]
        code, prefix, unit, fields = self._subject(
            qtype, rng, reserved, alias=family == "alias_short", known=family == "ask_by_meaning")
        if not self._fits(reserved, own=False):  # valid/test: a source train does not hold
            return None
        name = self.catalog.equipment.get(prefix, "")
        eq = CANONICAL_EQ.format(prefix=prefix, unit=unit)
        return {"source": vary_prompt(template.format(**fields), rng),
                "target": answer_question(qtype, self.catalog, code, prefix, unit),
                "category": "variant", "family": family, "qtype": qtype,
                "canonical": CANONICAL_QUESTIONS[qtype].format(code=code, eq=eq, name=name)}


# ---------------------------------------------------------------------------------------
# Private helpers.

_HELDOUT_BIAS = 0.4  # in valid/test: chance to draw a unit/value from the held-out pool
_PARAM_PRESENT = 0.85  # chance a catalog parameter is typed in a generated record
_EXTRA_PARAM = 0.25  # chance of a parameter the catalog does not list (ignored in replies);
# frequent, or the model reads any stray parameter as a sign of an invalid record
_RECORDS_MULTI = ((2, 3, 4), (0.60, 0.30, 0.10))
_RECORDS_UNKNOWN = ((1, 2, 3, 4), (0.50, 0.30, 0.15, 0.05))
_VARIANT_UNKNOWN = 0.15  # chance a record of a variant line is an unknown or misplaced code
_ATTEMPTS_PER_PAIR = 50  # give up on a category after this many rejected draws per pair


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


def _vary_case(text: str, rng: random.Random) -> str:
    return rng.choices((text.upper(), text.lower(), text.capitalize()), (0.7, 0.25, 0.05))[0]


def _bucket(kind: str, key: str, test: int, valid: int) -> str:
    slot = zlib.crc32(f"{kind}:{key}".encode()) % 100
    return "test" if slot < test else "valid" if slot < test + valid else "train"


def _all_prefixes() -> list[str]:
    return [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
