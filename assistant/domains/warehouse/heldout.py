"""The variation families of what operators type, and the ones training never sees.

Operators do not type the canonical grammar (`faultcodes`): they separate records with
commas or "and", write "CV 7" or "conveyor 7", leave out the colon, add the unit to a value,
paste alarm-log lines with timestamps, and ask in their own words. Each such way of writing
is a *family* (`FAMILIES`); a variant reads exactly as its canonical spelling would.

The corpus builder (`corpus`, `sampler`, `phrasings`) writes the families that are not in
`HELD_OUT` into every split; the held-out families appear only in the realistic evaluation
set (`realistic`), so it measures spellings the model never saw. The builder reads this
module to leave them out (`trainable`, `HELD_OUT_ALIASES`) and rejects any source in which
`held_out_families` finds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# family -> what it looks like; the order is the report order.
FAMILIES: Mapping[str, str] = {
    "sep_comma": "records separated by a comma: CV07:E217 T=85, SN02:W301 N=12",
    "sep_pipe": "records separated by |",
    "sep_slash": "records separated by /",
    "sep_tab": "records separated by a tab (a spreadsheet or alarm-list copy)",
    "sep_and": 'records separated by "and" or "&"',
    "sep_space": "records separated by spaces only",
    "sep_newline": "one record per line (a paste of the alarm list)",
    "unit_space": "a space between prefix and unit: CV 7:E217, CV 07:E217",
    "unit_hyphen": "a hyphen between prefix and unit: CV-07:E217",
    "unit_underscore": "an underscore between prefix and unit (PLC tag style): CV_07:E217",
    "unit_lower": "all lower case: cv7:e217 t=85",
    "no_colon": "no colon between unit and code: SN13 C501 S=24",
    "alias_name": "the equipment's name instead of its prefix: conveyor 7 E217, AGV 4: W102",
    "alias_short": "another alias from the catalog: conv 7, scanner 33, crane 2",
    "alias_belt": 'the alias "belt" for a conveyor: belt 7 E217',
    "value_unit": "values written with their unit: T=85°C, T=85C, B=8 %, N=12 jams",
    "many_records": "more than 4 records on one line (5-8)",
    "timestamp": "alarm-log lines that start with a time or date: 03:12:44 CV07:E217 T=85",
    "panel_text": "the panel's alarm text after the code: CV07 E217 MOTOR OVER-TEMPERATURE T=85",
    "ask_casual": "a question in casual words: whats E217, W301 how bad, codes for the lift?",
    "ask_by_meaning": "a fix asked for by the code's meaning: battery low on AGV 4, what now?",
    "ask_code_on_unit": '"<CODE> on <UNIT>, what do I do?"',
    "combined": "several of the spellings above in one line",
}

# Never in the training corpus (any split): one separator, one unit spelling, one alias and
# one question pattern.
HELD_OUT: tuple[str, ...] = ("sep_slash", "unit_underscore", "alias_belt", "ask_code_on_unit")
HELD_OUT_ALIASES: Mapping[str, tuple[str, ...]] = {"CV": ("belt",)}  # prefix -> aliases
HELD_OUT_SEPARATOR = "/"
HELD_OUT_UNIT_JOINER = "_"
CODE_ON_UNIT_QUESTION = "{code} on {eq}, what do I do?"


def trainable(families: Iterable[str]) -> tuple[str, ...]:
    """`families` without the held-out ones, in the given order."""
    return tuple(family for family in families if family not in HELD_OUT)


def trainable_aliases(prefix: str, aliases: Iterable[str]) -> tuple[str, ...]:
    """The aliases of equipment type `prefix` the corpus may use."""
    held_out = HELD_OUT_ALIASES.get(prefix, ())
    return tuple(alias for alias in aliases if alias not in held_out)


def held_out_families(source: str) -> list[str]:
    """The held-out families `source` shows, in `HELD_OUT` order (empty for a source the
    corpus may hold).

    A "/" inside a unit such as "mm/s" is not a separator, and "belt" followed by "slip"
    (the catalog's "belt slip") is not the alias.
    """
    found = []
    if HELD_OUT_SEPARATOR in _UNIT_WITH_SLASH.sub("", source):
        found.append("sep_slash")
    if _UNDERSCORE_UNIT.search(source):
        found.append("unit_underscore")
    if any(pattern.search(source) for pattern in _HELD_OUT_ALIAS_PATTERNS):
        found.append("alias_belt")
    if _CODE_ON_UNIT.search(source):
        found.append("ask_code_on_unit")
    return found


# ---------------------------------------------------------------------------------------
# Private helpers.

_UNIT_WITH_SLASH = re.compile(r"(?<![A-Za-z])[A-Za-z]{1,3}/[A-Za-z]{1,3}(?![A-Za-z0-9])")
_UNDERSCORE_UNIT = re.compile(rf"[A-Za-z]{re.escape(HELD_OUT_UNIT_JOINER)}\s*[0-9]")
_HELD_OUT_ALIAS_PATTERNS = tuple(
    re.compile(rf"\b{re.escape(alias)}s?(?![A-Za-z])(?!\s+slip)", re.IGNORECASE)
    for aliases in HELD_OUT_ALIASES.values()
    for alias in aliases
)
_CODE_ON_UNIT = re.compile(r"\b[A-Za-z][0-9]{3}\s+on\s+[^?]+?\bwhat do i do\b", re.IGNORECASE)
