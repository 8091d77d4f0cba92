"""Reply templates: the canonical message of a fault line and the answers to questions.

Targets are a deterministic function of the source, so a small GRU can learn them exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.domains.warehouse.catalog import SEVERITIES, UNKNOWN_RANK, Catalog
from assistant.domains.warehouse.faultcodes import FaultRecord

QUESTION_TYPES = ("meaning", "action", "action_unit", "severity", "equipment", "codes")
# How a record's sentence says its code is not in the catalog, or not valid for its equipment,
# and how an answer says a code is not in the catalog; the faithfulness check looks for these
# words (`faithfulness.json`, "message_phrases").
MESSAGE_PHRASES = {
    "unknown_code": "reported unknown code",
    "not_valid": "which is not valid for this equipment",
    "not_in_catalog": "is not in the fault catalog",
    # answers whose statements the check compares with the catalog (`answer_checks`)
    "codes_of": "Codes for the",
    "equipment_of": "Equipment that can raise",
    "means": "means",
    "fix": "To fix",
    "not_valid_for": "is not valid for",
    "severity": "code",  # "E702 is a fault code."
}


def render_record(record: FaultRecord, catalog: Catalog) -> str:
    """One record's sentence, e.g. "Sorter 2 warning W301: repeated jams, 12 jams in the last
    hour; check the diverter and guide rails for debris."."""
    name = catalog.equipment.get(record.prefix)
    if name is None:
        return (
            f"Equipment {record.prefix} {record.unit} is not in the catalog; "
            f"report code {record.code} to maintenance."
        )
    unit = f"{_display(name)} {record.unit}"
    entry = catalog.entries.get(record.code)
    if entry is None:
        return f"{unit} {MESSAGE_PHRASES['unknown_code']} {record.code}; report it to maintenance."
    if record.prefix not in entry.equipment:
        return (
            f"{unit} reported code {record.code}, {MESSAGE_PHRASES['not_valid']}; "
            "report it to maintenance."
        )
    values = dict(record.params)
    phrases = [
        p.phrase.replace("{value}", values[p.name]) for p in entry.params if p.name in values
    ]
    meaning = entry.meaning + (", " + _join(phrases) if phrases else "")
    return f"{unit} {entry.severity} {record.code}: {meaning}; {_inline(entry.action, name)}."


def render_reply(records: Sequence[FaultRecord], catalog: Catalog) -> str:
    """The message for a fault line: record sentences, most severe first, then input order."""
    order = sorted(range(len(records)), key=lambda i: (record_rank(records[i], catalog), i))
    return " ".join(render_record(records[i], catalog) for i in order)


def record_rank(record: FaultRecord, catalog: Catalog) -> int:
    """Sort rank of a record (`code_rank` of its prefix and code)."""
    return code_rank(record.prefix, record.code, catalog)


def code_rank(prefix: str, code: str, catalog: Catalog) -> int:
    """Sort rank of `code` on equipment `prefix`: the index of the code's severity in
    `SEVERITIES`, `UNKNOWN_RANK` if the code is not in the catalog or not valid there."""
    entry = catalog.entries.get(code)
    if entry is None or prefix not in entry.equipment:
        return UNKNOWN_RANK
    return SEVERITIES.index(entry.severity)


def answer_question(
    qtype: str, catalog: Catalog, code: str = "", prefix: str = "", unit: int = 0
) -> str:
    """The reply to a question of type `qtype` (one of `QUESTION_TYPES`).

    Args:
        qtype: question type.
        catalog: the fault catalog.
        code: the code asked about (all types but "codes").
        prefix: the equipment asked about ("action_unit" and "codes").
        unit: the unit number ("action_unit").
    """
    if qtype == "codes":
        name = catalog.equipment[prefix]
        return f"{MESSAGE_PHRASES['codes_of']} {name}: {_join(catalog.codes_for(prefix))}."
    entry = catalog.entries.get(code)
    if entry is None:
        return f"{code} {MESSAGE_PHRASES['not_in_catalog']}; report it to maintenance."
    if qtype == "meaning":
        return f"{code} {MESSAGE_PHRASES['means']} {entry.meaning}."
    if qtype == "action":
        return f"{MESSAGE_PHRASES['fix']} {code}, {_inline(entry.action, 'unit')}."
    if qtype == "action_unit":
        name = catalog.equipment[prefix]
        if prefix not in entry.equipment:
            return (f"{code} {MESSAGE_PHRASES['not_valid_for']} {_display(name)} {unit}; "
                    "report it to maintenance.")
        return (f"{MESSAGE_PHRASES['fix']} {code} on {_display(name)} {unit}, "
                f"{_inline(entry.action, name)}.")
    if qtype == "severity":
        article = "an" if entry.severity[0] in "aeiou" else "a"
        return f"{code} is {article} {entry.severity} code."
    if qtype == "equipment":
        names = [catalog.equipment[p] for p in entry.equipment]
        return f"{MESSAGE_PHRASES['equipment_of']} {code}: {_join(names)}."
    raise ValueError(f"unknown question type {qtype!r} (expected one of {QUESTION_TYPES})")


def _display(name: str) -> str:
    return name[:1].upper() + name[1:]


def _inline(action: str, equipment: str) -> str:
    """A catalog action as a clause: placeholder filled, first letter lowered, no period."""
    text = action.replace("{equipment}", equipment).rstrip(".")
    first = text.split(" ", 1)[0]
    return text if first.isupper() and len(first) > 1 else text[:1].lower() + text[1:]


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
