"""Grounding of a reply in any input: what the input names, and the rules of
`assistant.domains.warehouse.faithfulness` that need it beyond the canonical grammar.

`read_source` reads an input liberally (`detector`): its records in any spelling, whether
it is a fault line (records and separators only) or a question, and the units and
equipment types it names by prefix, name or alias. On that reading:

- `answer_codes`: an answer to a question may name a catalog code the input lacks only in a
  list of an equipment type's codes ("Codes for the sorter: E108, W301."), and
  `codes_named_by_meaning`: any input may name a code by its catalog meaning ("how do I
  fix path blocked on AG52?" is about W602);
- `equipment_flags`: a list of an equipment type's codes is for a type the input names;
- `action_flags`: a sentence that tells how to fix a code on a unit ("To fix E217 on
  Conveyor 7, ...", or a record's sentence) tells the catalog's action for that code and
  that equipment ("stop the conveyor ...", not "stop the lift ..."), and "To fix E217, ..."
  the action for a unit. It needs the actions in the code table (`CatalogCode.action`;
  files written before they existed skip this rule);
- `without_panel_text`: a code followed by its catalog meaning, as panels print it, is a
  record (its meaning is not read as words of a question);
- `meaning_flags`: an input without records that names a code by its meaning is answered
  about that code (the reply names it).

What kind of answer a question wants is `assistant.domains.warehouse.questions`'.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping

from assistant.domains.warehouse import answer_checks, detector, faultcodes
from assistant.domains.warehouse.context import ASK_WHICH
from assistant.domains.warehouse.mentions import extract_codes, named_units, unique


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the checks read in an input.

    Attributes:
        records: the records found (`detector`), or None when there are none.
        fault_line: the input holds records and separators only (check (c) applies).
        units: (prefix, unit) of every unit the input names, as a record or otherwise.
        prefixes: the equipment types the input names, with or without a unit.
    """

    records: tuple[faultcodes.FaultRecord, ...] | None
    fault_line: bool
    units: frozenset[tuple[str, int]] = frozenset()
    prefixes: frozenset[str] = frozenset()


def read_source(
    source: str,
    equipment_names: Mapping[str, str] | None,
    equipment_aliases: Mapping[str, Iterable[str]] | None = None,
) -> Reading:
    """Reads `source` liberally when the catalog's names are known; without them only a
    line in the canonical grammar has records (`faultcodes.parse_line`)."""
    if not equipment_names:
        records = _canonical_records(source)
        return Reading(records, records is not None)
    return _read(source, *detector.catalog_key(equipment_names, equipment_aliases))


def with_context(reading: Reading, context: Reading) -> Reading:
    """`reading` of a turn with the units and equipment types of its context's reading
    added: a reply may name them. The turn's records (and whether it is a fault line) stay
    its own."""
    return dataclasses.replace(reading, units=reading.units | context.units,
                               prefixes=reading.prefixes | context.prefixes)


def allowed_reply_codes(
    source: str,
    reply: str,
    reading: Reading,
    allowed_codes: Collection[str] | None,
    equipment_names: Mapping[str, str] | None,
    code_table: Mapping | None,
    phrases: Mapping[str, str],
) -> set[str]:
    """The codes a reply may name beyond those the input writes: the codes the input names
    by meaning, and for an input without records those of `answer_codes`."""
    codes = codes_named_by_meaning(source, code_table)
    if reading.records is None:
        codes |= set(answer_codes(reply, allowed_codes, equipment_names, phrases) or ())
    return codes


def codes_without_unit(reply: str, reading: Reading, phrases: Mapping[str, str]) -> list[str]:
    """The codes of a question's records whose unit the reply need not name: those it says
    are not in the catalog ("E999 is not in the fault catalog" names no unit)."""
    if reading.fault_line or "not_in_catalog" not in phrases:
        return []
    return codes_called_unknown(reply, phrases["not_in_catalog"])


def answer_codes(
    reply: str,
    allowed_codes: Collection[str] | None,
    equipment_names: Mapping[str, str] | None,
    phrases: Mapping[str, str],
) -> Collection[str] | None:
    """The codes an answer to a question (an input without records) may name beyond the
    input's: those of `allowed_codes` it lists for an equipment type, when the bundle
    gives that wording ("codes_of"); else `allowed_codes` as they are."""
    if not allowed_codes or not equipment_names or "codes_of" not in phrases:
        return allowed_codes
    listed = {code for _, codes in _code_lists(reply, equipment_names, phrases["codes_of"])
              for code in codes}
    return {code for code in map(str.upper, allowed_codes) if code in listed}


def codes_named_by_meaning(source: str, code_table: Mapping | None) -> set[str]:
    """The codes whose catalog meaning the input gives instead of the code ("how do I fix
    path blocked on AG52?" names W602): a reply may name them."""
    if not code_table:
        return set()
    text = f" {_words(source)} "
    return {code for code, entry in code_table.items()
            if entry.meaning.strip() and f" {_words(entry.meaning)} " in text}


def without_panel_text(source: str, code_table: Mapping | None) -> str:
    """`source` without the catalog meaning a panel prints after a code ("LF3 E422 - LOAD
    SENSOR FAULT" read as "LF3 E422"): such a line reads as the fault line it is, parameters
    after the text or not. Other words are kept (the detector reads unknown alarm text only
    when parameters follow)."""
    if not code_table:
        return source
    for code in unique(extract_codes(source)):
        entry = code_table.get(code)
        if entry is not None and entry.meaning.strip():
            source = _panel_text_pattern(code, entry.meaning).sub(r"\1", source)
    return source


@functools.lru_cache(maxsize=512)
def _panel_text_pattern(code: str, meaning: str) -> re.Pattern:
    words = r"[^0-9A-Za-z]+".join(map(re.escape, _words(meaning).split()))
    return re.compile(rf"(?<![0-9A-Za-z])({code})\s*(?:[-:]\s*)?{words}(?![0-9A-Za-z])",
                      flags=re.IGNORECASE)


def meaning_flags(source: str, reply: str, code_table: Mapping | None) -> list[str]:
    """An input without records that names codes by their catalog meaning ("scanner offline,
    what now?") asks about one of them: a reply that names none ("I'm doing well.", a list
    of another type's codes, "I93 is not in the fault catalog") is flagged
    "code E407 (scanner offline) missing from reply"."""
    codes = sorted(codes_named_by_meaning(source, code_table))
    if not codes or set(extract_codes(reply)) & set(codes):
        return []
    meanings = unique(code_table[code].meaning for code in codes)
    return [f"code {' or '.join(codes)} ({'; '.join(meanings)}) missing from reply"]


def subject_flags(source: str, reply: str, code_table: Mapping | None,
                  equipment_names: Mapping[str, str] | None) -> list[str]:
    """An input without records asks about what it names: `meaning_flags`, then, for one
    that names a code, a unit or an equipment type by its name ("What can the barcode
    scanner throw?"; an alias alone, "my printer is not printing", may be small talk), a
    reply that names no code and no equipment at all ("I like to think of myself as
    self-employed.") is flagged "the input asks about the barcode scanner; the reply names
    none of it" (a reply about other codes or equipment gets the flags of those)."""
    flags = meaning_flags(source, reply, code_table)
    asked = reply.lower()
    if flags or not equipment_names or extract_codes(reply) or any(
            name.lower() in asked for name in equipment_names.values()):
        return flags
    reading = read_source(source, equipment_names)
    told = source.lower()
    codes = set(extract_codes(source)) | codes_named_by_meaning(source, code_table)
    named = sorted(prefix for prefix in {unit for unit, _ in reading.units} | {
        prefix for prefix in reading.prefixes if prefix in equipment_names
        and re.search(rf"(?<![a-z]){re.escape(equipment_names[prefix].lower())}(?![a-z])", told)}
        if prefix in equipment_names)
    if not codes and not named:
        return []
    what = [*sorted(codes), *(f"the {equipment_names[prefix]}" for prefix in named)]
    return [f"the input asks about {' or '.join(what)}; the reply names none of it"]


def ask_which_flags(source: str, reply: str, turn: Reading,
                    equipment_names: Mapping[str, str] | None) -> list[str]:
    """A question back ("Which one: E217 on conveyor 7 or W301 on sorter 2?") is for a turn
    that could mean either subject of its context. A turn that names a code, or an equipment
    type, that none of the asked subjects has ("is C311 serious?", "what codes does the
    palletizer report?") asks about that instead: flagged "the turn asks about C311; the
    reply asks which of others". `turn`: the reading of the turn alone, without context."""
    if not reply.startswith(ASK_WHICH):
        return []
    flags = []
    codes, asked = unique(extract_codes(source)), set(extract_codes(reply))
    if codes and not asked & set(codes):
        flags.append(f"the turn asks about {' and '.join(codes)}; the reply asks which of "
                     "others")
    prefixes = turn.prefixes | {prefix for prefix, _ in turn.units}
    asked_prefixes = {prefix for prefix, _ in named_units(reply, equipment_names)}
    if prefixes and equipment_names and not prefixes & asked_prefixes:
        names = sorted(equipment_names.get(prefix, prefix) for prefix in prefixes)
        flags.append(f"the turn asks about the {' and '.join(names)}; the reply asks which "
                     "of others")
    return flags


def codes_called_unknown(reply: str, phrase: str) -> list[str]:
    """The codes the reply says are not in the catalog (its answer need not name a unit)."""
    pattern = rf"(?<![0-9A-Za-z])([A-Za-z][0-9]{{3}})\s+{re.escape(phrase)}"
    return unique(code.upper() for code in re.findall(pattern, reply, flags=re.IGNORECASE))


def units_called_unknown(reply: str, equipment_names: Mapping[str, str] | None,
                         phrases: Mapping[str, str]) -> list[str]:
    """"Stacker crane 67 is in the catalog, the reply says it is not" (a unit of a catalog
    equipment type) and "S 13 told as not in the catalog" (words and a number): only a code
    is told as "not in the fault catalog" (an unknown prefix is "not in the catalog")."""
    if (not equipment_names or "not_in_catalog" not in phrases
            or phrases["not_in_catalog"].lower() not in reply.lower()):
        return []
    by_name, _ = answer_checks.equipment_names_regex(tuple(equipment_names.items()))
    pattern = rf"([A-Za-z]+(?: [A-Za-z]+)*) ([0-9]{{1,3}}) {re.escape(phrases['not_in_catalog'])}"
    flags = []
    for match in re.finditer(pattern, reply, flags=re.IGNORECASE):
        words, number = match.group(1).split(), match.group(2)
        named = next((" ".join(words[i:]) for i in range(len(words))
                      if " ".join(words[i:]).lower() in by_name), None)
        if named is not None:
            flags.append(f"{named} {number} is in the catalog, the reply says it is not")
        else:  # "S 13", "That 23": only a code is told as not in the catalog
            flags.append(f"{words[-1]} {number} told as not in the catalog")
    return unique(flags)


def equipment_flags(
    reply: str,
    reading: Reading,
    equipment_names: Mapping[str, str] | None,
    phrases: Mapping[str, str],
) -> list[str]:
    """"equipment barcode scanner not in input": a list of the codes of a type the input
    does not name (an answer about another machine); then `units_called_unknown`."""
    called = units_called_unknown(reply, equipment_names, phrases) + _unknown_without_code(
        reply, phrases)
    if not equipment_names or "codes_of" not in phrases:
        return called
    return unique(f"equipment {equipment_names[prefix]} not in input"
                  for prefix, _ in _code_lists(reply, equipment_names, phrases["codes_of"])
                  if prefix not in reading.prefixes) + called


def _unknown_without_code(reply: str, phrases: Mapping[str, str]) -> list[str]:
    """"Shuttle 23 reported unknown code Shuttle 23": the phrase not followed by a code."""
    phrase = phrases.get("unknown_code")
    if not phrase or phrase.lower() not in reply.lower():
        return []
    pattern = rf"{re.escape(phrase)}(?!\s+[A-Za-z][0-9]{{3}}(?![0-9A-Za-z]))"
    found = re.search(pattern, reply, flags=re.IGNORECASE)
    return [f"no code after \"{phrase}\""] if found else []


def action_flags(
    reply: str,
    code_table: Mapping,
    equipment_names: Mapping[str, str],
    phrases: Mapping[str, str],
) -> list[str]:
    """"action for E217 on CV07 is not the catalog's" (a sentence of a unit and a code valid
    there) and "action for E217 is not the catalog's" (a "To fix E217, ..." answer). A
    question back ("Which one: E217 on conveyor 7 or ...?", `context.ASK_WHICH`) tells no
    action."""
    fix = phrases.get("fix", "").lower()
    flags = []
    for sentence in _SENTENCE_BREAK.split(reply):
        if sentence.startswith(ASK_WHICH):
            continue
        told = " ".join(sentence.lower().split())
        units = named_units(sentence, equipment_names)
        for code in extract_codes(sentence):
            entry = code_table.get(code)
            if entry is None or not getattr(entry, "action", ""):
                continue
            if units:
                prefix, unit = units[0]
                if prefix not in entry.equipment:
                    continue  # told as not valid there: check (c) and (d) judge it
                name, where = equipment_names[prefix], f" on {prefix}{unit:02d}"
            elif fix and told.startswith(f"{fix} {code.lower()}"):
                name, where = "unit", ""
            else:
                continue
            expected = " ".join(entry.action.replace("{equipment}", name).lower().split())
            if expected.rstrip(".") not in told:
                flags.append(f"action for {code}{where} is not the catalog's")
    return flags


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


@functools.lru_cache(maxsize=1024)
def _read(
    source: str,
    names: tuple[tuple[str, str], ...],
    aliases: tuple[tuple[str, tuple[str, ...]], ...],
) -> Reading:
    """`read_source` for one catalog, cached: the check reads the same input for every
    hypothesis of its beam."""
    reader = detector.detector(names, aliases)
    detections = reader.detect(source)
    records = tuple(detection.record for detection in detections) or None
    named = reader.named_units(source)
    codes = set(extract_codes(source))
    if records is None and len(named) == 1 and len(codes) == 1:
        # "SH82 down with E224, what now": one unit and one code, in words the detector's
        # patterns do not know, are still a question about that code on that unit.
        (prefix, unit), code = next(iter(named)), codes.pop()
        records = (faultcodes.FaultRecord(prefix, unit, code),)
    units = {(record.prefix, record.unit) for record in records or ()} | set(named)
    return Reading(records, reader.is_fault_line(source, detections), frozenset(units),
                   frozenset(reader.named_prefixes(source)))


@functools.lru_cache(maxsize=4096)  # the catalog's meanings, and the input of every hypothesis
def _words(text: str) -> str:
    """Lower-case words and numbers of `text`, one space apart ("Over-temperature!" ->
    "over temperature")."""
    return " ".join(re.findall(r"[0-9a-z]+", text.lower()))


def _canonical_records(source: str) -> tuple[faultcodes.FaultRecord, ...] | None:
    if not faultcodes.looks_like_fault_line(source):
        return None
    try:
        return faultcodes.parse_line(source)
    except ValueError:
        return None


def _code_lists(
    reply: str, equipment_names: Mapping[str, str], phrase: str
) -> list[tuple[str, list[str]]]:
    """(prefix, codes) of every "Codes for the <name>: <codes>." of the reply."""
    by_name, alternatives = answer_checks.equipment_names_regex(tuple(equipment_names.items()))
    pattern = rf"{re.escape(phrase)}\s+({alternatives})(?![A-Za-z])([^.]*)"
    return [(by_name[match.group(1).lower()], extract_codes(match.group(2)))
            for match in re.finditer(pattern, reply, flags=re.IGNORECASE)]
