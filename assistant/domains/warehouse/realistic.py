"""The realistic evaluation set: fault lines and questions typed as operators type them.

`build_realistic` writes `per_family` lines for every family of `heldout.FAMILIES`, the
held-out ones (`heldout.HELD_OUT`, never in the training corpus) included. It is a
generator of its own, seeded on its own: its record draws, separators, unit and value
spellings, timestamps and question wordings are written here, not taken from the corpus
builder's noise (`phrasings`, `sampler`), so the set measures what the model learnt rather
than the builder's habits. Only the definitions are shared: the catalog (names, aliases),
the canonical spellings (`faultcodes.format_line`, `phrasings.CANONICAL_QUESTIONS`) and the
replies (`messages`).

Each line is a JSON object: {"source": the line as typed, "canonical": its canonical
spelling, "family": the family, "held_out": whether training never sees the family,
"target": the catalog's reply to the canonical spelling}. `python -m training
evaluate-variants` decodes source and canonical and compares the replies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
from collections import Counter
from pathlib import Path

from assistant.core import atomic_files
from assistant.domains.warehouse import heldout
from assistant.domains.warehouse.catalog import Catalog, FaultEntry, load_catalog
from assistant.domains.warehouse.faultcodes import FaultRecord, format_line
from assistant.domains.warehouse.messages import answer_question, render_reply
from assistant.domains.warehouse.phrasings import CANONICAL_EQ, CANONICAL_QUESTIONS

DEFAULT_PER_FAMILY = 20  # lines per family: 23 families give 460 lines
DEFAULT_SEED = 0


@dataclasses.dataclass(frozen=True)
class Style:
    """How a realistic fault line is typed; the defaults are the canonical spelling."""

    separator: str = "; "  # between records
    head: str = "prefix"  # "prefix", "name", "short" or "held_out" (a held-out alias)
    joiner: str = ""  # between the prefix and the unit number
    colon: str = ":"  # between unit and code
    lower: bool = False  # the whole line in lower case
    value_units: bool = False  # values followed by their unit
    panel_text: bool = False  # the code's meaning after the code, as a panel shows it
    timestamp: bool = False  # each record starts with a time


def build_realistic(catalog: Catalog | None = None, seed: int = DEFAULT_SEED,
                    per_family: int = DEFAULT_PER_FAMILY) -> list[dict]:
    """`per_family` distinct lines for every family, in `heldout.FAMILIES` order.

    Raises:
        RuntimeError: a family could not give `per_family` distinct lines.
    """
    catalog = catalog or load_catalog()
    lines: list[dict] = []
    seen: set[str] = set()
    for family in heldout.FAMILIES:
        rng = random.Random(f"realistic:{seed}:{family}")
        made = 0
        for _ in range(per_family * 50):
            if made == per_family:
                break
            line = _line(family, catalog, rng)
            if line["source"] in seen or line["source"] == line["canonical"]:
                continue
            seen.add(line["source"])
            lines.append({**line, "family": family, "held_out": family in heldout.HELD_OUT})
            made += 1
        if made < per_family:
            raise RuntimeError(f"family {family}: only {made} distinct lines")
    return lines


def write_realistic(path: Path, seed: int = DEFAULT_SEED,
                    per_family: int = DEFAULT_PER_FAMILY) -> list[dict]:
    """Writes `build_realistic` as JSONL to `path` (atomically) and returns the lines."""
    lines = build_realistic(seed=seed, per_family=per_family)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    atomic_files.atomic_write_text(Path(path), text)
    return lines


def register(subparsers) -> argparse.ArgumentParser:
    """Adds `build-realistic` to the `python -m training` subcommands."""
    parser = subparsers.add_parser(
        "build-realistic",
        help="write the realistic evaluation set (lines typed as operators type them)",
        description="Write JSONL lines {source, canonical, family, held_out, target}: fault "
        "lines and questions in every spelling family, held-out ones included, for "
        "`evaluate-variants`. The same seed gives an identical file.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="JSONL to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: 0)")
    parser.add_argument("--per-family", type=int, default=DEFAULT_PER_FAMILY, metavar="N",
                        help=f"lines per family (default: {DEFAULT_PER_FAMILY})")
    parser.set_defaults(handler=_build_command, needs_tensorflow=False)
    return parser


# ---------------------------------------------------------------------------------------
# Private helpers.

_SEPARATORS = {
    "sep_comma": (", ", ","), "sep_pipe": (" | ", "|"), "sep_slash": (" / ", "/"),
    "sep_tab": ("\t",), "sep_and": (" and ", " & ", " AND "), "sep_space": (" ", "  "),
    "sep_newline": ("\n",),
}  # fmt: skip
_JOINERS = {"unit_space": " ", "unit_hyphen": "-", "unit_underscore": "_"}
_HEADS = {"alias_name": "name", "alias_short": "short", "alias_belt": "held_out"}
_VALUE_UNITS = {"°C": ("°C", " °C", "C", " C", "ºC", "deg", " degC", " degrees"), "%": ("%", " %")}
_PLACE_UNITS = ("chute", "station", "zone")  # name a place: never written after a value
_CASUAL = {
    "meaning": ("whats {code} mean", "{code} = ?", "{code}? never seen it",
                "anyone know what {code} is", "what is {code} pls"),
    "action": ("{code} - how do i clear it", "how to sort out {code}",
               "{code} keeps coming, what do i do", "what's the fix for {code} pls"),
    "action_unit": ("{eq} is showing {code} - help", "{code} at {eq}, how do I clear it",
                    "{eq} down with {code}, what now"),
    "severity": ("{code} - serious?", "is {code} something to worry about",
                 "is {code} a big deal"),
    "equipment": ("which machine throws {code}", "where would {code} come from"),
    "codes": ("what codes can {name} give", "{name} code list pls", "codes on a {name}?"),
}  # fmt: skip
_BY_MEANING = {
    "action_unit": ("what should I do about {meaning} on {eq}?",
                    "{eq} says {meaning}, what do I do", "{meaning} on {eq} - help"),
    "action": ("how do I fix {meaning}?", "{meaning} again, what now?"),
}  # fmt: skip
_TIMES = ("{h}:{m}:{s}", "{Y}-{M}-{D} {h}:{m}:{s}", "{h}:{m}", "[{Y}-{M}-{D} {h}:{m}:{s}]",
          "{D}.{M}.{Y} {h}:{m}")
_COMBINABLE = (("sep_comma", "sep_pipe", "sep_and", "sep_space", "sep_tab"),
               ("unit_space", "unit_hyphen", "alias_name", "alias_short", "unit_lower"),
               ("no_colon", "value_unit"), ("panel_text", "timestamp"))


def _line(family: str, catalog: Catalog, rng: random.Random) -> dict:
    if family in ("ask_casual", "ask_by_meaning", "ask_code_on_unit"):
        return _question(family, catalog, rng)
    style = _style(family, rng)
    if family == "many_records":
        count = rng.randint(5, 8)
    elif style.separator != "; " and not style.timestamp:
        count = rng.choice((2, 2, 3, 4))
    else:
        count = rng.choice((1, 1, 1, 2, 3)) if style.timestamp else 1
    records: list[FaultRecord] = []
    while len(records) < count:
        unknown = 0.0 if style.panel_text else 0.1  # a panel shows text for its own codes
        record = _record(catalog, rng, "CV" if style.head == "held_out" else "", unknown)
        if all((r.prefix, r.unit, r.code) != (record.prefix, record.unit, record.code)
               for r in records):
            records.append(record)
    texts = [_write(record, style, catalog, rng) for record in records]
    return {"source": style.separator.join(texts), "canonical": format_line(records),
            "target": render_reply(records, catalog)}


def _style(family: str, rng: random.Random) -> Style:
    if family == "combined":
        style = Style()
        for group in rng.sample(_COMBINABLE, rng.choice((2, 3))):
            part = _style(rng.choice(group), rng)
            changed = {f.name: getattr(part, f.name) for f in dataclasses.fields(Style)
                       if getattr(part, f.name) != getattr(Style(), f.name)}
            style = dataclasses.replace(style, **changed)
        return style
    if family in _SEPARATORS:
        return Style(separator=rng.choice(_SEPARATORS[family]))
    if family in _JOINERS:
        return Style(joiner=_JOINERS[family])
    if family in _HEADS:
        return Style(head=_HEADS[family], colon=rng.choice((" ", ": ", ":", " - ")))
    return {
        "unit_lower": Style(lower=True),
        "no_colon": Style(colon=" "),
        "value_unit": Style(value_units=True),
        "panel_text": Style(panel_text=True, colon=rng.choice((" ", ":"))),
        "timestamp": Style(timestamp=True, separator=rng.choice(("\n", "\n", "; "))),
    }.get(family, Style())


def _record(catalog: Catalog, rng: random.Random, prefix: str = "",
            unknown: float = 0.1) -> FaultRecord:
    entries = [e for e in catalog.entries.values() if not prefix or prefix in e.equipment]
    entry = rng.choice(entries)
    params = tuple((p.name, _value(p, rng)) for p in entry.params if rng.random() < 0.9)
    code = entry.code
    if rng.random() < unknown:  # an unknown code: the reply says to report it
        while code in catalog.entries:
            code = f"{rng.choice('CEW')}{rng.randrange(100, 1000)}"
        params = ()
    return FaultRecord(prefix or rng.choice(entry.equipment), rng.randint(1, 99), code, params)


def _value(spec, rng: random.Random) -> str:
    if spec.decimals == 0:
        return str(rng.randint(int(spec.low), int(spec.high)))
    return f"{rng.uniform(spec.low, spec.high):.{spec.decimals}f}"


def _write(record: FaultRecord, style: Style, catalog: Catalog, rng: random.Random) -> str:
    unit = str(record.unit) if rng.random() < 0.5 else f"{record.unit:02d}"
    if style.head == "prefix":
        head = record.prefix + style.joiner + unit
    else:
        head = f"{_alias(record.prefix, style.head, catalog, rng)}{rng.choice(('', ' ', ' '))}"
        head += str(record.unit)
    text = f"{head}{style.colon}{record.code}"
    entry = catalog.entries.get(record.code)
    if style.panel_text and entry is not None:
        text += rng.choice((" ", " - ")) + rng.choice((entry.meaning.upper(), entry.meaning))
    for key, value in record.params:
        text += f" {key}={value}"
        if style.value_units and entry is not None:
            text += _unit_text(entry, key, rng)
    if style.timestamp:
        text = f"{_time(rng)} {text}"
    return text.lower() if style.lower else text


def _alias(prefix: str, head: str, catalog: Catalog, rng: random.Random) -> str:
    names = catalog.aliases[prefix]
    held_out = heldout.HELD_OUT_ALIASES.get(prefix, ())
    if head == "held_out":
        choices = held_out
    elif head == "short":
        choices = tuple(n for n in names[1:] if n not in held_out) or names[:1]
    else:
        choices = names[:1]
    name = rng.choice(choices)
    return rng.choice((name, name.capitalize(), name.upper() if len(name) <= 4 else name))


def _unit_text(entry: FaultEntry, key: str, rng: random.Random) -> str:
    unit = next((p.unit for p in entry.params if p.name == key), "")
    if not unit or unit in _PLACE_UNITS:
        return ""
    return rng.choice(_VALUE_UNITS.get(unit, (unit, " " + unit)))


def _time(rng: random.Random) -> str:
    fields = {"Y": rng.randint(2023, 2026), "M": f"{rng.randint(1, 12):02d}",
              "D": f"{rng.randint(1, 28):02d}", "h": f"{rng.randint(0, 23):02d}",
              "m": f"{rng.randint(0, 59):02d}", "s": f"{rng.randint(0, 59):02d}"}
    return rng.choice(_TIMES).format(**fields)


def _question(family: str, catalog: Catalog, rng: random.Random) -> dict:
    if family == "ask_code_on_unit":
        qtype, template = "action_unit", heldout.CODE_ON_UNIT_QUESTION
        template = rng.choice((template, template.lower(), template.replace(",", "")))
    elif family == "ask_by_meaning":
        qtype = rng.choice(("action_unit", "action_unit", "action"))
        template = rng.choice(_BY_MEANING[qtype])
    else:
        qtype = rng.choice(tuple(_CASUAL))
        template = rng.choice(_CASUAL[qtype])
    entry = rng.choice(list(catalog.entries.values()))
    prefix = rng.choice(entry.equipment if qtype != "codes" else tuple(catalog.equipment))
    unit = rng.randint(1, 99)
    eq = rng.choice((f"{prefix}{unit:02d}", f"{prefix.lower()}{unit}", f"{prefix} {unit}",
                     f"{catalog.equipment[prefix]} {unit}"))
    code = entry.code if rng.random() < 0.8 else entry.code.lower()
    source = template.format(code=code, eq=eq, meaning=entry.meaning,
                             name=catalog.equipment[prefix])
    canonical = CANONICAL_QUESTIONS[qtype].format(
        code=entry.code, eq=CANONICAL_EQ.format(prefix=prefix, unit=unit),
        name=catalog.equipment[prefix])
    return {"source": source, "canonical": canonical,
            "target": answer_question(qtype, catalog, entry.code, prefix, unit)}


def _build_command(args: argparse.Namespace) -> int:
    if args.per_family < 1:
        raise ValueError("--per-family must be at least 1")
    lines = write_realistic(args.out, seed=args.seed, per_family=args.per_family)
    counts = Counter(line["family"] for line in lines)
    for family in heldout.FAMILIES:
        note = "  (held out of training)" if family in heldout.HELD_OUT else ""
        print(f"{family:<18}{counts[family]:>5}{note}")
    print(f"wrote {len(lines)} lines to {args.out}")
    return 0
