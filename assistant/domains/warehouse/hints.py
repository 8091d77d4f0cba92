"""Catalog hints: what the catalog says of an input, written after it for the model to read.

A reply depends on facts the model otherwise has to remember from training: whether the
catalog knows a record's code on its equipment and which of its `KEY=value` parameters the
reply tells, whether a code a question names exists and on which equipment, which codes a
type of equipment has. A model trained with hints reads them after the input (after
`MARK`), so it copies what the catalog says instead of recalling it:

    "SN41:E108 V=154 D=118"            ->  "SN41:E108 V=154 D=118 § OK V=154"
    "LF99:W311"                         ->  "LF99:W311 § UNKNOWN CODE W311"
    "XY32:h866"                         ->  "XY32:h866 § NO EQUIPMENT XY H866"
    "what is the fix for I704 on CH62?" ->  "... § I704 door open too long ON CH NOT VALID"
    and with `question_hints` (session 16) a code named by its meaning, and the type first:
    "how do I fix repeated jams on CV91" ->  "... § FIX W301 repeated jams ON CV OK"
    "what does E217 mean?"              ->  "... § MEANING E217 motor over-temperature: CV ..."
    "I908 is raised by which equipment" ->  "... § I908 software update available: CV SN ..."
    "which codes belong to the sorter?" ->  "... § SN: E108 E201 W205 ..."

The rules, written as patterns Python's `re` and RE2 read alike so the export's graph
(`graph_segment.HintAnnotator`) writes the same text:

- A unit that is one record as operators type it (`segment.RECORD_PATTERN`) gets its
  record's hint (`record_hint`) and, for a valid code, the values of the code's parameters
  the record holds ("KEY=value", the catalog's order; `value_pattern`).
- A record's code and an unknown prefix are restated with a space before them: a model
  copies "▁H" of "H866" to its reply ("report code H866") from the hint, not from the
  record's "H" that follows a colon (another piece).
- Any other text that names one code (a letter and three digits standing alone; two or more:
  no hint), or, with `question_hints`, no code but the catalog meaning of exactly one ("how
  do I fix repeated jams on CV91?" names W301, `meaning_pattern`; session 16: the model
  alone had to recall the code, and answered W305), gets "CODE UNKNOWN" for a code of no
  equipment, else the code and its meaning ("E422 load sensor fault": the key the model
  recalls the fix by; without it, "what is the fix for E422 on lift 76?" got the lift's most
  frequent fix) followed by "ON PREFIX" and the record hint when it names a unit ("lift 4",
  "LF04") of a type, else ":" and the prefixes of the equipment that raises it.
- A text that names no code but a type of equipment (with a unit number or without) and
  asks for codes (the word "code", "fault", "error" or "alarm", a plural too) gets "PREFIX:"
  and the codes of that type, in catalog order. (Session 11's run C listed them for any
  text naming a type, and answered "my printer is not printing" with the printer's codes.)
- Of several types named, the first prefix in alphabetical order with a unit number, else
  the first named without, is used. Anything else is read as typed.

A follow-up's context (`context.Context.text`: "LINE", "LINE >> FOCUS" or a focus alone) is
read with one item a record (`annotate_context`), so a turn is matched to a record by the
words operators use ("and the lift?", "the second one", "what about W301?"):

    "CV07:E217 T=85; SN02:W301 N=12 >> W301"  ->  "... § FIRST conveyor 7 E217 OK ;
                                                   SECOND LAST sorter 2 IT W301 repeated
                                                   jams OK"

`IT` marks what "it" may mean (`Context.subjects`: the records the focus picks, else the
focus, else every record); the only subject also gets its code's meaning. A turn with a hint
of its own ("what codes does the sorter have?", "what about W301?", a fault line) reads its
context as typed: it is about what it names, and the items would only lengthen the source
(session 13's run F annotated every context and trained 18 % slower). Any other context is
read as typed, and so is one too long to read with its items (the runtime's
`inputs.encode_turn` and the export check the pieces). Hint files written before session 13
(without "contexts") read every context as typed, and so does a corpus built without
`build-corpus --context-hints` (the shipped bundle's: runs F and G of session 13 were trained
with them and not shipped; `warehouse_notes.md`).

The hints come from the bundle's `HINTS_FILE`, which the corpus builder writes from the
catalog and training copies into the bundle: a bundle without it (trained before hints)
reads every input as typed. The runtime (`WarehouseDomain.model_text` and `model_context`),
training (the sources of a data directory with the file) and the export all write the same
text.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path

from assistant.domains.warehouse import faultcodes, questions, segment
from assistant.domains.warehouse.catalog import Catalog
from assistant.serving.re2 import ascii_case

HINTS_FILE = "catalog_hints.json"  # in data directories and bundles
MARK = "§"  # between an input and its hint; operators do not type it
VALID = "OK"  # a record's: followed by the values of the code's parameters it holds
NOT_VALID = "NOT VALID"  # a catalog code, not on this equipment
UNKNOWN_CODE = "UNKNOWN CODE"  # a record's code of no equipment (the code follows)
UNKNOWN_EQUIPMENT = "NO EQUIPMENT"  # a prefix the catalog lacks (the prefix follows)
UNKNOWN = "UNKNOWN"  # a question's code of no equipment
SUBJECT = "IT"  # a context's record (or focus) a pronoun in the next turn may mean
ORDINAL_WORDS = ("FIRST", "SECOND", "THIRD", "FOURTH")  # a context's records by position
LAST_WORD = "LAST"
# what a question asks of its code (`questions.question_type`), first in its hint
TYPE_WORDS = {"action": "FIX", "meaning": "MEANING", "severity": "SEVERITY",
              "equipment": "EQUIPMENT"}
ITEM_SEPARATOR = " ; "  # between a context hint's items
FOCUS = " >> "  # between a context's line and its focus (`context.FOCUS_MARK`)
# a context's focus as `context.Context.text` writes it: a code, a unit or both
CODE_FOCUS = r"[A-Z][0-9]{3}"  # a focus that is a code alone
FOCUS_PATTERN = rf"{CODE_FOCUS}|[A-Z]{{2}}[0-9]{{2}}(?::{CODE_FOCUS})?"
# a record's prefix, unit number (leading zeros dropped: "CV07" -> "7") and code
RECORD_PARTS = (r"^\s*([A-Za-z]{2})\s*[-#_]?\s*0*([0-9]+)\s*[:-]?\s*"
                r"([A-Za-z][0-9]{3}).*$")

_ALNUM = "A-Za-z0-9"
# exactly the code of a text that names one ("what is e217?" -> "e217"), as group 1
ONE_CODE = rf"(?s)(?:.*[^{_ALNUM}])?([A-Za-z][0-9]{{3}})(?:[^{_ALNUM}].*)?"
# a text that asks for codes ("which codes belong to the sorter?", "lift faults")
ASKS_CODES = r"(?is)(?:.*[^A-Za-z])?(?:codes?|faults?|errors?|alarms?)(?:[^A-Za-z].*)?"
# a text that names two codes or more
TWO_CODES = (rf"(?s)(?:.*[^{_ALNUM}])?[A-Za-z][0-9]{{3}}[^{_ALNUM}]"
             rf"(?:.*[^{_ALNUM}])?[A-Za-z][0-9]{{3}}(?:[^{_ALNUM}].*)?")

_RECORD = re.compile(segment.RECORD_PATTERN)
_KEY = re.compile(segment.KEY_PATTERN, re.DOTALL)
_PARTS = re.compile(RECORD_PARTS, re.DOTALL)
_CODE = re.compile(CODE_FOCUS)


@functools.cache
def value_pattern(key: str) -> str:
    """A record holding parameter `key` (either case); its last value as group 1."""
    return (rf"(?s)(?:.*[\s,])?[{key.upper()}{key.lower()}]\s*=\s*([0-9]+(?:\.[0-9]+)?)"
            r"(?:[^0-9.].*|\.[^0-9].*|\.)?")


def unit_pattern(prefix: str, names: tuple[str, ...]) -> str:
    """A text naming a unit of type `prefix` by its prefix or a name, with its number."""
    spelled = "|".join(_name(name) for name in names)
    return (rf"(?is)(?:.*[^{_ALNUM}])?(?:{prefix}\s*[-#_]?\s*0*[0-9]{{1,2}}"
            rf"|(?:{spelled})\s*#?\s*0*[0-9]{{1,3}})(?:[^0-9].*)?")


def type_pattern(names: tuple[str, ...]) -> str:
    """A text naming a type of equipment by a name (a plural too), number or not."""
    spelled = "|".join(_name(name) for name in names)
    return rf"(?is)(?:.*[^A-Za-z])?(?:{spelled})(?:e?s)?(?:[^A-Za-z].*)?"


def meaning_pattern(meaning: str) -> str:
    """A text naming a code's `meaning` by its words, in any case, with any separators
    ("how do I fix Repeated-Jams on CV91?" names "repeated jams"; ASCII letters only:
    `ascii_case`)."""
    words = f"[^{_ALNUM}]+".join(re.findall(f"[{_ALNUM}]+", meaning))
    return ascii_case(rf"(?is)(?:.*[^{_ALNUM}])?{words}(?:[^{_ALNUM}].*)?")


def _name(name: str) -> str:
    return r"\s+".join(re.escape(word) for word in name.split())


@dataclasses.dataclass(frozen=True)
class CatalogHints:
    """The catalog facts hints are written from.

    Attributes:
        equipment: code -> the prefixes of the equipment that raises it, catalog order;
            every code of the catalog, in catalog order.
        params: code -> its parameter keys (upper case, catalog order; empty: none).
        names: prefix -> what operators call that equipment (lower case), every prefix.
        meanings: code -> its meaning ("load sensor fault"); none in hint files written
            before session 12 (their questions' hints name the code alone).
        contexts: a follow-up's context is annotated too (`annotate_context`); hint files
            written before session 13 read contexts as they are.
        question_hints: a text without codes that names one code's meaning gets that
            code's hint, and a question's code hint starts with what it asks (`TYPE_WORDS`,
            by `questions.question_type`); hint files written before session 16 (run E's)
            and `build-corpus --no-question-hints` do without.
    """

    equipment: Mapping[str, tuple[str, ...]]
    params: Mapping[str, tuple[str, ...]]
    names: Mapping[str, tuple[str, ...]]
    meanings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    contexts: bool = False
    question_hints: bool = False

    @classmethod
    def from_catalog(cls, catalog: Catalog, contexts: bool = False,
                     question_hints: bool = False) -> CatalogHints:
        return cls({code: tuple(entry.equipment) for code, entry in catalog.entries.items()},
                   {code: tuple(p.name.upper() for p in entry.params)
                    for code, entry in catalog.entries.items()},
                   {prefix: tuple(catalog.aliases.get(prefix) or (name,))
                    for prefix, name in catalog.equipment.items()},
                   {code: entry.meaning for code, entry in catalog.entries.items()}, contexts,
                   question_hints)

    def record_hint(self, key: str) -> str:
        """The hint of a record whose `segment.record_key` is `key` ("SN:E108")."""
        prefix, _, code = key.upper().partition(":")
        if prefix not in self.names:
            return f"{UNKNOWN_EQUIPMENT} {prefix} {code}"
        if code not in self.equipment:
            return f"{UNKNOWN_CODE} {code}"
        return VALID if prefix in self.equipment[code] else NOT_VALID

    def values(self, text: str, code: str) -> list[str]:
        """"KEY=value" of each parameter of catalog `code` that record `text` holds."""
        found = ((key, re.fullmatch(value_pattern(key), text)) for key in self.params[code])
        return [f"{key}={match.group(1)}" for key, match in found if match]

    def named(self, code: str) -> str:
        """"CODE meaning" of a catalog code (the code alone without meanings)."""
        meaning = self.meanings.get(code)
        return f"{code} {meaning}" if meaning else code

    def raisers(self, code: str) -> str:
        """"CODE meaning: PREFIX ..." of a catalog code."""
        return f"{self.named(code)}: {' '.join(self.equipment[code])}"

    def code_list(self, prefix: str) -> str:
        """"PREFIX: CODE ..." of a catalog prefix, its codes in catalog order."""
        return f"{prefix}: {' '.join(c for c, on in self.equipment.items() if prefix in on)}"

    def question_hint(self, text: str, typed: bool = True) -> str | None:
        """The hint of a text that is not one record (see the module), or None; `typed`:
        a code's hint starts with what the text asks of it, with `question_hints`."""
        if re.fullmatch(TWO_CODES, text):
            return None
        match = re.fullmatch(ONE_CODE, text)
        code = match.group(1).upper() if match else self.named_by_meaning(text)
        if code is None and not re.fullmatch(ASKS_CODES, text):
            return None
        unit, kind = self.named_type(text)
        if code is None:
            return None if kind is None else self.code_list(kind)
        if code not in self.equipment:
            hint = f"{code} {UNKNOWN}"
        elif unit is not None:
            hint = f"{self.named(code)} ON {unit} {self.record_hint(f'{unit}:{code}')}"
        else:
            hint = self.raisers(code)
        asked = questions.question_type(text) if typed and self.question_hints else None
        return hint if asked is None else f"{TYPE_WORDS[asked]} {hint}"

    def named_by_meaning(self, text: str) -> str | None:
        """The code whose catalog meaning a text without codes names, when it names exactly
        one ("stretch film low on PL18, how do I fix it?": W712); else None (always without
        `question_hints`)."""
        named = [code for code, pattern in self._meanings_compiled if pattern.fullmatch(text)]
        return named[0] if len(named) == 1 else None

    def named_type(self, text: str) -> tuple[str | None, str | None]:
        """(the prefix of a unit `text` names with its number, that or else the prefix of
        a type it names without one); None for none."""
        patterns = self._patterns
        with_number = next((p for p, (unit, _) in patterns if unit.fullmatch(text)), None)
        if with_number is not None:
            return with_number, with_number
        return None, next((p for p, (_, kind) in patterns if kind.fullmatch(text)), None)

    def annotate(self, text: str) -> str:
        """`text` stripped with its hint after `MARK`, or as it is when it has none."""
        hint = self.status(text) if _RECORD.fullmatch(text) else self.question_hint(text)
        return text if hint is None else f"{text.strip()} {MARK} {hint}"

    def status(self, record: str) -> str:
        """A record's hint: `record_hint`, and the values it holds of a valid code."""
        key = _KEY.sub(segment.KEY_REPLACEMENT, record).upper()
        hint = self.record_hint(key)
        return " ".join([hint, *self.values(record, key.partition(":")[2])]) \
            if hint == VALID else hint

    def annotate_context(self, context: str, text: str | None = None) -> str:
        """A follow-up's context stripped, with what each of its records is after `MARK`
        (see `context_items`), or as it is: without `contexts` hints, for a turn `text`
        with a hint of its own (it is about what it names), or a context not of the form
        `context.Context.text` writes."""
        if not self.contexts or (text is not None and self.annotate(text) != text):
            return context
        items = self.context_items(context.strip())
        return context if items is None else f"{context.strip()} {MARK} {items}"

    def context_items(self, context: str) -> str | None:
        """The hint of a context "LINE >> FOCUS" ("LINE", "FOCUS"), or None.

        One item a record: its position when the line has two or more ("FIRST", "SECOND
        LAST"), its equipment's name, unit number and code, `SUBJECT` when "it" may mean it,
        and its `record_hint` (without values: the record holds them); the code's meaning
        when it is the only subject. A focus that picks no record of the line (a code, or a
        unit and its code) is one more item, a subject.
        """
        line, mark, focus = context.partition(FOCUS)
        records = line.split(faultcodes.RECORD_SEPARATOR)
        if not all(_RECORD.fullmatch(record) for record in records):
            if mark or not re.fullmatch(FOCUS_PATTERN, line):
                return None
            records, focus = [], line
        elif mark and not re.fullmatch(FOCUS_PATTERN, focus):
            return None
        parts = [_PARTS.fullmatch(record).groups() for record in records]
        picked = [bool(focus) and _picks(focus, part) for part in parts]
        # as `Context.subjects`: the records the focus picks, else a focus that names a
        # code, else (no focus, or a unit outside the line) every record
        outside = not any(picked) and (":" in focus or _CODE.fullmatch(focus) is not None)
        subjects = picked if any(picked) else [not outside] * len(parts)
        alone = sum(subjects) + outside == 1
        items = [self._item(part, _position(index, len(parts)), subjects[index], alone)
                 for index, part in enumerate(parts)]
        if outside:
            items.append(self._focus_item(focus))
        return ITEM_SEPARATOR.join(items) or None

    def _item(self, part: tuple[str, str, str], position: str, subject: bool,
              alone: bool) -> str:
        prefix, unit, code = part[0].upper(), part[1], part[2].upper()
        name = self.names[prefix][0] if prefix in self.names else prefix
        said = self.named(code) if subject and alone and code in self.equipment else code
        return " ".join(word for word in (position, name, unit, SUBJECT if subject else "",
                                          said, self.record_hint(f"{prefix}:{code}")) if word)

    def _focus_item(self, focus: str) -> str:
        """The item of a focus outside the line: a record's, or a code's question hint."""
        if ":" in focus:
            return self._item(_PARTS.fullmatch(focus).groups(), "", True, True)
        return f"{SUBJECT} {self.question_hint(focus, typed=False)}"

    @functools.cached_property
    def _patterns(self) -> tuple[tuple[str, tuple[re.Pattern, re.Pattern]], ...]:
        """(prefix, (`unit_pattern`, `type_pattern`)) compiled, prefixes in order."""
        return tuple((prefix, (re.compile(unit_pattern(prefix, spelled)),
                               re.compile(type_pattern(spelled))))
                     for prefix, spelled in sorted(self.names.items()))

    @functools.cached_property
    def meaning_patterns(self) -> tuple[tuple[str, str], ...]:
        """(code, `meaning_pattern`) of each code with a meaning, catalog order; none
        without `question_hints` (the graph reads the same patterns)."""
        if not self.question_hints:
            return ()
        return tuple((code, meaning_pattern(self.meanings[code]))
                     for code in self.equipment if self.meanings.get(code, "").strip())

    @functools.cached_property
    def _meanings_compiled(self) -> tuple[tuple[str, re.Pattern], ...]:
        return tuple((code, re.compile(pattern)) for code, pattern in self.meaning_patterns)

    def to_json(self) -> dict:
        return {"codes": [{"code": code, "equipment": list(on), "params": list(self.params[code]),
                           **({"meaning": self.meanings[code]} if code in self.meanings else {})}
                          for code, on in self.equipment.items()],
                "names": {prefix: list(names) for prefix, names in sorted(self.names.items())},
                **({"contexts": True} if self.contexts else {}),
                **({"question_hints": True} if self.question_hints else {})}

    @classmethod
    def from_json(cls, entry: Mapping) -> CatalogHints:
        codes = [(str(c["code"]).upper(), tuple(str(p).upper() for p in c["equipment"]),
                  tuple(str(k).upper() for k in c["params"])) for c in entry["codes"]]
        names = {str(prefix).upper(): tuple(str(n).lower() for n in spelled)
                 for prefix, spelled in entry["names"].items()}
        if not all(names.values()):
            raise ValueError("every prefix needs a name")
        meanings = {str(c["code"]).upper(): " ".join(str(c["meaning"]).split())
                    for c in entry["codes"] if c.get("meaning")}
        return cls({code: on for code, on, _ in codes}, {code: keys for code, _, keys in codes},
                   names, meanings, entry.get("contexts") is True,
                   entry.get("question_hints") is True)


def _picks(focus: str, part: tuple[str, str, str]) -> bool:
    """Whether a context's focus (a code, a unit or both) picks the record of `part`."""
    if _CODE.fullmatch(focus):
        return part[2].upper() == focus
    label, _, code = focus.partition(":")
    return (label[:2] == part[0].upper() and (label[2:].lstrip("0") or "0") == part[1]
            and code in ("", part[2].upper()))


def _position(index: int, count: int) -> str:
    """"FIRST", "SECOND LAST", ... of a line's record; "" in a line of one record."""
    if count < 2:
        return ""
    words = [ORDINAL_WORDS[index]] if index < len(ORDINAL_WORDS) else []
    return " ".join(words + [LAST_WORD] * (index == count - 1))


def load_hints(bundle_dir: str | Path) -> CatalogHints | None:
    """The hints of a bundle or data directory, or None when it has no `HINTS_FILE`.

    Raises:
        ValueError: the file exists but is not valid (one line).
    """
    path = Path(bundle_dir) / HINTS_FILE
    if not path.is_file():
        return None
    try:
        return CatalogHints.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not valid catalog hints ({error})") from None
