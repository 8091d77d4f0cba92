"""What a warehouse conversation is about: the context a follow-up question is read in.

After `CV07:E217 T=85; SN02:W301 N=12`, "how do I fix it?" is about one of those records,
and "what about the sorter?" about the sorter's. A `Context` holds what the next turn may
refer to: the conversation's last fault line (its records, in the canonical grammar) and the
focus, the record, code or unit the last question named. Its text is what the chat passes
to a model trained with context, and what the corpus builder writes before a follow-up:

    CV07:E217 T=85; SN02:W301 N=12             a fault line: "it" is one of its records
    CV07:E217 T=85; SN02:W301 N=12 >> W301     ... after a question about W301: "it" is W301
    E217                                       a question named a code, and no line came

`remember` moves a context on by one turn: a fault line replaces it; a question that names
a code, a unit or an equipment type (or says "the second one") that picks one record of the
line makes that record the focus; a question about something outside the line makes that the
focus; anything else (small talk, "how do I fix it?") leaves it as it was. `subjects` says
what "it" may mean: the focus's record(s), else every record of the line; more than one and
a reply must ask which (`ask_which`, "Which one: E217 on conveyor 7 or W301 on sorter 2?").
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from assistant.domains.warehouse import faultcodes
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.faultcodes import FaultRecord
from assistant.domains.warehouse.mentions import extract_codes

FOCUS_MARK = " >> "  # between the line and the focus in a context's text
ASK_WHICH = "Which one:"  # how a reply that asks which subject is meant starts
ORDINALS = ("first", "second", "third", "fourth")  # "the second one": a record by position
LAST = "last"


@dataclasses.dataclass(frozen=True)
class Context:
    """What "it" may refer to in the next turn.

    Attributes:
        records: the last fault line's records (none: no line yet).
        focus: what the last question named, canonical: a code ("E217"), a record without
            its values ("CV07:E217") or a unit ("CV07"); "" when none.
    """

    records: tuple[FaultRecord, ...] = ()
    focus: str = ""

    @property
    def text(self) -> str:
        """The canonical text: "CV07:E217 T=85; SN02:W301 N=12 >> W301" ("" for none).
        A focus that picks every record of the line says nothing and is left out."""
        line = faultcodes.RECORD_SEPARATOR.join(record.format() for record in self.records)
        if not self.focus or (self.records and self.subjects() == self.records):
            return line
        return f"{line}{FOCUS_MARK}{self.focus}" if line else self.focus

    def subjects(self) -> tuple[FaultRecord, ...]:
        """What "it" may mean: the records the focus picks, else the focus itself (a code
        alone has prefix "" and unit 0), else every record of the line."""
        if not self.focus:
            return self.records
        picked = tuple(record for record in self.records if _picks(self.focus, record))
        if picked:
            return picked
        focus = _focus_record(self.focus)
        return (focus,) if focus is not None else self.records


def parse_context(text: str, detector: Detector | None = None) -> Context:
    """The context of a text: `Context.text` read back, or any earlier message read as
    `remember` reads a turn (a ticket's earlier message, a context typed by hand)."""
    head, mark, focus = text.strip().partition(FOCUS_MARK.strip())
    head, focus = head.strip(), focus.strip().upper()
    records = _canonical(head)
    if records is not None and (not mark or _focus_record(focus) or _UNIT.fullmatch(focus)):
        return Context(records, focus if mark else "")
    if not mark and (_focus_record(head.upper()) or _UNIT.fullmatch(head.upper())):
        return Context((), head.upper())
    return remember(Context(), text, detector or Detector({}))


def remember(context: Context, text: str, detector: Detector) -> Context:
    """The context after `text` was said in `context` (see the module docstring)."""
    detections = detector.detect(text)
    if detections and detector.is_fault_line(text, detections):
        return Context(tuple(detection.record for detection in detections))
    named = _named(context, text, detector, detections)
    if named is None:
        return context
    mentions, codes, units, picked = named
    if len(picked) == 1:
        return Context(context.records, f"{picked[0].label}:{picked[0].code}")
    focus = _named_focus(mentions, codes, units)
    return Context(context.records, focus) if focus else context


def picks(context: Context, text: str, detector: Detector) -> tuple[FaultRecord, ...] | None:
    """The records of the context's line that a turn which is not a fault line names by
    code, unit, equipment type or place ("what about the sorter?" -> the sorter's records):
    () when it names something the line does not hold, None when it names nothing."""
    named = _named(context, text, detector, detector.detect(text))
    return None if named is None else tuple(named[3])


def _named(context: Context, text: str, detector: Detector, detections: list):
    """(mentions, codes, units, records of the line picked) of what a turn names, or None."""
    mentions = [(d.record.prefix, d.record.unit, d.record.code) for d in detections]
    codes = list(dict.fromkeys(extract_codes(text)))
    units = set(detector.named_units(text)) | {(p, u) for p, u, _ in mentions}
    prefixes = detector.named_prefixes(text) if not (codes or units) else set()
    ordinal = _ordinal(text, len(context.records)) if not (codes or units or prefixes) else None
    if not (codes or units or prefixes or ordinal is not None):
        return None
    records = context.records
    if mentions:
        picked = [r for r in records if (r.prefix, r.unit, r.code) in mentions]
    elif codes or units:
        picked = [r for r in records if (not codes or r.code in codes)
                  and (not units or (r.prefix, r.unit) in units)]
    elif prefixes:
        picked = [r for r in records if r.prefix in prefixes]
    else:
        picked = [records[ordinal]]
    return mentions, codes, units, picked


def describe(subjects: Sequence[FaultRecord], names: Mapping[str, str]) -> str:
    """"E217 on conveyor 7 or W301 on sorter 2" ("" for no subjects)."""
    return _join_or([mention(subject, names) for subject in subjects])


def ask_which(subjects: Sequence[FaultRecord], names: Mapping[str, str]) -> str:
    """The reply that asks which subject "it" is: "Which one: E217 on conveyor 7 or W301 on
    sorter 2?"."""
    return f"{ASK_WHICH} {describe(subjects, names)}?"


def mention(subject: FaultRecord, names: Mapping[str, str]) -> str:
    """A subject in words: "E217 on conveyor 7", "E217 on XX07" (a prefix the catalog does
    not name), "E217" (a code alone)."""
    if not subject.prefix:
        return subject.code
    name = names.get(subject.prefix)
    where = f"{name} {subject.unit}" if name else subject.label
    return f"{subject.code} on {where}"


_CODE = re.compile(r"[A-Z][0-9]{3}")
_UNIT = re.compile(r"[A-Z]{2}[0-9]{2}")
_WORDS = re.compile(r"[a-z]+")
# "the second one", "ok, second please": an ordinal after "the" or opening a clause, in a
# short text ("what do I do first?" picks nothing)
_ORDINAL = re.compile(rf"(?:^|[,:;]\s*|\bthe\s+)({'|'.join((*ORDINALS, LAST))})\b")
_MOST_ORDINAL_WORDS = 8


def _picks(focus: str, record: FaultRecord) -> bool:
    if _CODE.fullmatch(focus):
        return record.code == focus
    if _UNIT.fullmatch(focus):
        return record.label == focus
    return f"{record.label}:{record.code}" == focus


def _focus_record(focus: str) -> FaultRecord | None:
    """The record a focus names: a code alone (prefix "") or a unit and its code."""
    if _CODE.fullmatch(focus):
        return FaultRecord("", 0, focus)
    label, _, code = focus.partition(":")
    if _UNIT.fullmatch(label) and _CODE.fullmatch(code):
        return FaultRecord(label[:2], int(label[2:]), code)
    return None


def _named_focus(mentions, codes: list[str], units: set) -> str:
    """The focus a question names that no single record of the line is: one record it
    mentions, one code (on one unit, if it names one), or ""."""
    if len(mentions) == 1:
        prefix, unit, code = mentions[0]
        return f"{prefix}{unit:02d}:{code}"
    if len(codes) == 1:
        if len(units) == 1:
            prefix, unit = next(iter(units))
            return f"{prefix}{unit:02d}:{codes[0]}"
        return codes[0]
    return ""


def _ordinal(text: str, count: int) -> int | None:
    """The record "the second one" (or "the last") picks, if `count` records have it."""
    text = text.strip().lower()
    match = _ORDINAL.search(text)
    if not count or match is None or len(_WORDS.findall(text)) > _MOST_ORDINAL_WORDS:
        return None
    word = match.group(1)
    if word == LAST:
        return count - 1
    return ORDINALS.index(word) if ORDINALS.index(word) < count else None


def _canonical(text: str) -> tuple[FaultRecord, ...] | None:
    """The records of a line in the canonical grammar, of any length (a context keeps every
    record of a long paste), or None."""
    if not text or not faultcodes.looks_like_fault_line(text):
        return None
    try:
        return tuple(record for part in text.split(";") if part.strip()
                     for record in faultcodes.parse_line(part))
    except ValueError:
        return None


def _join_or(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
