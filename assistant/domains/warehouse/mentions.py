"""What a text mentions: numbers, fault codes and named units, as the faithfulness checks
compare them (`assistant.domains.warehouse.faithfulness`, checks (a) and (b')).

Numbers are compared as numbers are written in messages: an integer loses its leading
zeros ("07" matches "7"), a decimal keeps its digits ("85.0" does not match "85", because
messages copy values exactly). The digits of a code ("E217") and of a unit label ("CV07"
gives 7) are handled as such, never as stray numbers 217 or 07.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping

from assistant.domains.warehouse import answer_checks, faultcodes


def extract_codes(text: str) -> list[str]:
    """Fault codes (a letter and three digits) in `text`, upper-cased, in order."""
    return [match.upper() for match in _CODE.findall(text)]


def extract_numbers(text: str) -> list[str]:
    """Numbers in `text` outside fault codes, normalised (`normalize_number`), in order.

    "CV07:E217 T=85.0" gives ["7", "85.0"]; "Conveyor 7 ... 85.0 °C." gives ["7", "85.0"].
    """
    without_codes = _CODE.sub(" ", text)
    return [normalize_number(match) for match in _NUMBER.findall(without_codes)]


def normalize_number(text: str) -> str:
    """Drops leading zeros of the integer part: "07" -> "7", "007.50" -> "7.50", "0" -> "0"."""
    whole, point, fraction = text.partition(".")
    return (whole.lstrip("0") or "0") + point + fraction


def hallucinated_numbers(
    source: str, reply: str, allowed_numbers: Collection[str] | None = None
) -> list[str]:
    """Numbers in `reply` found neither in `source` nor in `allowed_numbers` (unique, in order)."""
    known = set(extract_numbers(source))
    known.update(normalize_number(number) for number in allowed_numbers or ())
    return unique(number for number in extract_numbers(reply) if number not in known)


def dropped_numbers(source: str, reply: str) -> list[str]:
    """Numbers in `source` missing from `reply` (unique, in order).

    For fault lines this includes values of parameters the catalog does not list for that
    code (and of unknown codes), which messages leave out on purpose; evaluation that wants
    only real drops should compare against the reference reply instead:
    `set(dropped_numbers(source, reply)) - set(dropped_numbers(source, reference))`.
    """
    present = set(extract_numbers(reply))
    return unique(number for number in extract_numbers(source) if number not in present)


def hallucinated_codes(
    source: str, reply: str, allowed_codes: Collection[str] | None = None
) -> list[str]:
    """Codes in `reply` found neither in `source` nor in `allowed_codes` (unique, in order)."""
    known = set(extract_codes(source))
    known.update(code.upper() for code in allowed_codes or ())
    return unique(code for code in extract_codes(reply) if code not in known)


def hallucinated_units(
    source: str, reply: str, equipment_names: Mapping[str, str]
) -> list[str]:
    """Unit labels ("DD09") the reply names ("Dock door 9") that the source does not name.

    The source may name a unit by label ("DD09", "dd 9") or by name ("dock door 9").
    """
    named = set(named_units(source, equipment_names))
    named |= _labelled_units(source, equipment_names)
    return invented_units(reply, equipment_names, named)


def invented_units(
    reply: str, equipment_names: Mapping[str, str], named: Collection[tuple[str, int]]
) -> list[str]:
    """Unit labels ("DD09") the reply names ("Dock door 9") that are not among the
    (prefix, unit) pairs `named` by the input (unique, in order)."""
    return unique(
        f"{prefix}{unit:02d}" for prefix, unit in named_units(reply, equipment_names)
        if (prefix, unit) not in named
    )


# `messages.render_record`'s sentence for a unit of a type the catalog lacks.
_UNKNOWN_EQUIPMENT = re.compile(r"(?<![A-Za-z])Equipment ([A-Za-z]{1,8}) ([0-9]{1,4}) is not in "
                                r"the catalog", flags=re.IGNORECASE)


def unknown_units_flags(text: str, reply: str) -> list[str]:
    """"Equipment CANL 62 is not in the catalog" after `PL62:I230`: a unit told as not in
    the catalog is one that `text` (the input, with its context) names as typed: its
    letters, then its number ("XP 85", "dt-31", "NN_12", "QQ012")."""
    return unique(f"unit {match.group(1)} {match.group(2)} not in input"
                  for match in _UNKNOWN_EQUIPMENT.finditer(reply)
                  if not re.search(rf"(?<![A-Za-z]){match.group(1)}[\s_:-]*0*{match.group(2)}"
                                   r"(?![0-9])", text, flags=re.IGNORECASE))


# A time a log or a panel writes before a record: "03:58", "[03:58:36]", "2024-07-10
# 03:58:36", "28.08.2024 20:43".
_TIME = re.compile(r"(?<![\w=.:])\[?(?:[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]|[0-9]{2}\.[0-9]{2}\."
                   r"[0-9]{4} )?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\]?(?![\w:])")


def without_times(text: str) -> str:
    """`text` with the times and dates of a log written before its records blanked out
    ("[03:58:36] SH81:W102 B=21" -> "  SH81:W102 B=21")."""
    return _TIME.sub(" ", text)


def names_unit_by_name(
    text: str, record: faultcodes.FaultRecord, equipment_names: Mapping[str, str]
) -> bool:
    """Whether `text` names the record's unit: "Conveyor 7" (or "conveyor 07") for CV07."""
    # A prefix the catalog lacks is repeated as it is: "Equipment QQ 12 is not in the catalog".
    name = equipment_names.get(record.prefix, record.prefix)
    unit = str(record.unit)
    return any(match.group(1) == unit for match in _unit_pattern(name).finditer(text))


def named_units(text: str, equipment_names: Mapping[str, str]) -> list[tuple[str, int]]:
    """(prefix, unit) of every "<equipment name> <number>" in `text` ("Dock door 9"), in
    order."""
    by_name, pattern = _name_pattern(tuple(equipment_names.items()))
    return [
        (by_name[match.group(1).lower()], int(match.group(2)))
        for match in pattern.finditer(text)
    ]


def unique(items: Iterable[str]) -> list[str]:
    """`items` without repeats, in the order first met."""
    return list(dict.fromkeys(items))


_CODE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z][0-9]{3}(?![0-9A-Za-z])")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _labelled_units(text: str, equipment_names: Mapping[str, str]) -> set[tuple[str, int]]:
    """(prefix, unit) of every unit label ("CV07", "cv 7") in `text`."""
    pattern = _label_pattern(tuple(equipment_names))
    return {
        (match.group(1).upper(), int(match.group(2))) for match in pattern.finditer(text)
    }


# The checker runs on every hypothesis of every reply: patterns are compiled once per
# catalog (the `re` module's own cache is too small for one pattern per unit).
@functools.lru_cache(maxsize=16)
def _name_pattern(items: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], re.Pattern]:
    by_name, alternatives = answer_checks.equipment_names_regex(items)
    pattern = rf"(?<![0-9A-Za-z])({alternatives})\s+([0-9]{{1,2}})(?![0-9.])"
    return by_name, re.compile(pattern, flags=re.IGNORECASE)


@functools.lru_cache(maxsize=16)
def _label_pattern(prefixes: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(map(re.escape, prefixes))
    pattern = rf"(?<![0-9A-Za-z])({alternatives})\s*([0-9]{{1,2}})(?![0-9])"
    return re.compile(pattern, flags=re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _unit_pattern(name: str) -> re.Pattern:
    """'<name> <number>', the number without one leading zero in group 1."""
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(name)}\s+0?([0-9]+)", flags=re.IGNORECASE)
