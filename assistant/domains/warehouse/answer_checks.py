"""Catalog agreement of answers to questions: check (d) of
`assistant.domains.warehouse.faithfulness`.

An answer that lists the codes of an equipment type, the equipment a code applies to, a
code's meaning, or how to fix a code on a unit states catalog facts; each statement is
compared with the bundle's code table. The wording comes from the bundle too
(`faithfulness.json`, "message_phrases"), so a catalog with other answer templates simply
gets no such flags:

- "codes_of" ("Codes for the"): "Codes for the lift: E108, E201 and W205." must list
  exactly the lift's codes, in the catalog's order;
- "equipment_of" ("Equipment that can raise"): "Equipment that can raise E108: conveyor and
  sorter." must list exactly the equipment of E108, in the catalog's order, and E108 must
  be a catalog code;
- "means": "E217 means motor over-temperature." must give the catalog meaning;
- "fix" ("To fix") and "not_valid_for" ("is not valid for"): "To fix E217 on Conveyor 7,
  ..." claims that E217 applies to conveyors; "E217 is not valid for Dock door 3" claims it
  does not;
- "severity" ("code"): "E702 is a fault code." must give the catalog's severity, and E702
  must be a catalog code ("C311 is a critical code." for a code the catalog lacks is a
  confident guess).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Protocol

_CODE = r"[A-Za-z][0-9]{3}"
_LIST_SPLIT = re.compile(r",\s*|\s+and\s+")


class _Entry(Protocol):  # `catalog_checks.CatalogCode`
    equipment: frozenset[str]
    meaning: str
    severity: str
    rank: int
    equipment_order: tuple[str, ...]


def answer_flags(
    reply: str,
    code_table: Mapping[str, _Entry],
    equipment_names: Mapping[str, str],
    phrases: Mapping[str, str],
) -> list[str]:
    """Flags for the catalog statements of an answer (see the module docstring), in order:
    "codes of the lift: E224, W233 missing", "E811 listed for the label printer, not one of
    its codes", "E108 cannot be raised by the charger", "equipment of E108: conveyor missing",
    "W281 is not in the catalog, the reply says what it is", "meaning of E217 wrong",
    "E706 on DD19 told as not valid", "Q104 is not in the catalog, the reply says how to fix
    it", "E706 on DD19 told how to fix, where it is not valid", "C311 is not in the catalog,
    the reply gives its severity", "severity of E702 wrong".
    """
    catalog = _Catalog(code_table, equipment_names)
    flags: list[str] = []
    for kind, check in _CHECKS:
        if kind in phrases:
            flags += check(reply, re.escape(phrases[kind]), catalog)
    return flags


class _Catalog:
    """The code table and equipment names, with a name -> prefix map and a name regex
    (`equipment_names_regex`)."""

    def __init__(self, code_table: Mapping[str, _Entry], equipment_names: Mapping[str, str]):
        self.codes = code_table
        self.names = equipment_names
        self.by_name, self.name_pattern = equipment_names_regex(tuple(equipment_names.items()))


def _code_list_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    flags = []
    pattern = rf"{phrase}\s+({catalog.name_pattern}):([^.]*)"
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        prefix = catalog.by_name[match.group(1).lower()]
        name = catalog.names[prefix]
        listed = [code.upper() for code in re.findall(_CODE, match.group(2))]
        told_wrong = len(flags)
        expected = [code for code, entry in catalog.codes.items() if prefix in entry.equipment]
        missing = [code for code in expected if code not in listed]
        if missing:
            flags.append(f"codes of the {name}: {', '.join(missing)} missing")
        flags += [f"{code} listed for the {name}, not one of its codes"
                  for code in listed if code not in expected]
        ordered = sorted(expected, key=lambda code: catalog.codes[code].rank)
        repeated = len(set(listed)) < len(listed)  # check (b)'s to flag, not the order's
        known = all(catalog.codes[code].rank >= 0 for code in expected)
        if len(flags) == told_wrong and known and not repeated and listed != ordered:
            flags.append(f"codes of the {name} not in the catalog's order")
    return flags


def _equipment_list_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    flags = []
    for match in re.finditer(rf"{phrase}\s+({_CODE}):([^.]*)", reply, flags=re.IGNORECASE):
        code = match.group(1).upper()
        entry = catalog.codes.get(code)
        if entry is None:
            flags.append(f"{code} is not in the catalog, the reply says what it is")
            continue
        listed = [item.strip().lower() for item in _LIST_SPLIT.split(match.group(2))]
        told_wrong = len(flags)
        flags += [f"{code} cannot be raised by the {item}" for item in listed
                  if catalog.by_name.get(item) not in entry.equipment]
        flags += [f"equipment of {code}: {item} repeated" for item in
                  dict.fromkeys(item for i, item in enumerate(listed) if item in listed[:i])]
        told = {catalog.by_name.get(item) for item in listed}
        missing = [catalog.names[prefix] for prefix in sorted(entry.equipment)
                   if prefix not in told and prefix in catalog.names]
        if missing:
            flags.append(f"equipment of {code}: {', '.join(missing)} missing")
        ordered = [catalog.names[prefix].lower() for prefix in entry.equipment_order
                   if prefix in catalog.names]
        if entry.equipment_order and len(flags) == told_wrong and listed != ordered:
            flags.append(f"equipment of {code} not in the catalog's order")
    return flags


def _meaning_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    flags = []
    pattern = rf"(?<![0-9A-Za-z])({_CODE})\s+{phrase}\s+([^.]*)\."
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        code, meaning = match.group(1).upper(), match.group(2).strip().lower()
        entry = catalog.codes.get(code)
        if entry is None:
            flags.append(f"{code} is not in the catalog, the reply says what it is")
        elif meaning != entry.meaning.lower():
            flags.append(f"meaning of {code} wrong")
    return flags


def _not_valid_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    pattern = rf"({_CODE})\s+{phrase}\s+({catalog.name_pattern})\s+([0-9]+)"
    flags = []
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        code, prefix, label = _unit_claim(match, catalog.by_name)
        entry = catalog.codes.get(code)
        if entry is not None and prefix in entry.equipment:
            flags.append(f"{code} on {label} told as not valid")
    return flags


def _fix_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    pattern = rf"{phrase}\s+({_CODE})(?:\s+on\s+({catalog.name_pattern})\s+([0-9]+))?"
    flags = []
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        code, prefix, label = _unit_claim(match, catalog.by_name)
        entry = catalog.codes.get(code)
        if entry is None:
            flags.append(f"{code} is not in the catalog, the reply says how to fix it")
        elif prefix is not None and prefix not in entry.equipment:
            flags.append(f"{code} on {label} told how to fix, where it is not valid")
    return flags


def _severity_flags(reply: str, phrase: str, catalog: _Catalog) -> list[str]:
    flags = []
    pattern = rf"(?<![0-9A-Za-z])({_CODE})\s+is\s+an?\s+([a-z]+)\s+{phrase}(?![0-9A-Za-z])"
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        code, told = match.group(1).upper(), match.group(2).lower()
        entry = catalog.codes.get(code)
        if entry is None:
            flags.append(f"{code} is not in the catalog, the reply gives its severity")
        elif entry.severity and told != entry.severity.lower():
            flags.append(f"severity of {code} wrong")
    return flags


# (message_phrases key, check), in the order of the flags.
_CHECKS = (
    ("codes_of", _code_list_flags),
    ("equipment_of", _equipment_list_flags),
    ("means", _meaning_flags),
    ("not_valid_for", _not_valid_flags),
    ("fix", _fix_flags),
    ("severity", _severity_flags),
)


def _unit_claim(match: re.Match, by_name: Mapping[str, str]) -> tuple[str, str | None, str]:
    """(code, prefix or None, unit label) of a match with groups code, name and unit."""
    code, name, unit = match.group(1).upper(), match.group(2), match.group(3)
    if name is None:
        return code, None, ""
    prefix = by_name[name.lower()]
    return code, prefix, f"{prefix}{int(unit):02d}"


@functools.lru_cache(maxsize=16)
def equipment_names_regex(items: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], str]:
    """For (prefix, name) pairs of a catalog: name (lower case) -> prefix, and a regex
    alternation of the names, longest first ("label printer" before "printer").

    Cached: the checks run on every hypothesis; do not change the returned dict."""
    by_name = {name.lower(): prefix for prefix, name in items}
    return by_name, "|".join(map(re.escape, sorted(by_name, key=len, reverse=True)))
