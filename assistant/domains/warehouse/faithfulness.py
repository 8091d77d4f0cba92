"""Faithfulness flags: what a reply invents, drops or tells against the catalog.

Cheap string checks; the catalog facts they need (allow-lists, equipment names, the code
table and the messages' wording) come from the bundle's `faithfulness.json`, so runtime code
never reads training/:

(a) Hallucination, for every input: each number and each fault code in the reply must occur
    in the input, or in an allow-list. The allow-list for numbers holds the fixed wording
    of the catalog ("wait 30 seconds"), built once with `allowed_numbers_from_catalog` and
    carried by the model bundle (runtime code does not read training/). The allow-list for
    codes is for non-fault inputs only (a question such as "what codes can a sorter raise?"
    is answered with catalog codes): for fault lines every code in the reply must come from
    the line itself.
(b) Coverage, for fault lines only: each record's code and unit number must appear in the
    reply, and no code more often than the line has it (a record told twice). An answer to
    any other input names no code twice (a list of codes that loops).
(b') Units, for every input when equipment names are known: each unit the reply names
    ("Dock door 9") must be named in the input too ("DD09", "dock door 9"); a question about
    conveyor 9 answered for dock door 9 is wrong even if every number matches.
(c) Catalog agreement, for fault lines, when the bundle carries the catalog's code table:
    the sentence that tells a record must give the code's meaning if the code applies to
    that equipment, and must not give it if it does not ("Shuttle 40 fault E504: safety
    relay fault" is wrong when E504 is not a shuttle code); it must tell the values of the
    code's catalog parameters the line gives and no other number (but the unit and the
    code's fixed wording); and, when the bundle gives the wording, an invalid or unknown
    code must be reported as such. Meanings and wording are matched as text. An answer to
    a question must not call a catalog code unknown.
(d) Catalog agreement of answers, when the bundle carries the code table and the answers'
    wording: a list of an equipment type's codes or of a code's equipment must be the
    catalog's, a meaning must be the code's, and a fix must be for a code valid there
    (`assistant.domains.warehouse.answer_checks`).

Numbers are compared as numbers are written in messages: an integer loses its leading
zeros ("07" matches "7"), a decimal keeps its digits ("85.0" does not match "85", because
messages copy values exactly). The digits of a code ("E217") and of a unit label ("CV07"
gives 7) are handled as such, never as stray numbers 217 or 07.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping

from assistant.domains.warehouse import answer_checks, faultcodes

BUNDLE_FILE = "faithfulness.json"  # allow-lists and equipment names, in data dirs and bundles


@dataclasses.dataclass(frozen=True)
class CatalogCode:
    """What check (c) needs of one catalog code: where it applies and what it means."""

    equipment: frozenset[str]  # prefixes, e.g. {"CV", "SN"}
    meaning: str  # e.g. "safety relay fault", as messages write it
    params: frozenset[str] = frozenset()  # the KEYs messages tell the values of, e.g. {"T"}
    numbers: frozenset[str] = frozenset()  # numbers of its fixed wording ("wait 30 seconds")
    # (KEY, phrase) pairs: how a message tells a parameter, e.g. ("T", "motor at {value} °C")
    phrases: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict:
        """The entry as `faithfulness.json` stores it under "code_table"."""
        return {
            "equipment": sorted(self.equipment),
            "meaning": self.meaning,
            "params": sorted(self.params),
            "numbers": sorted(self.numbers),
            "phrases": dict(self.phrases),
        }

    @classmethod
    def from_json(cls, entry: Mapping) -> CatalogCode:
        """Reads `to_json`'s form; "params", "numbers" and "phrases" may be missing (older
        files)."""
        return cls(
            frozenset(entry["equipment"]),
            str(entry["meaning"]),
            frozenset(entry.get("params", ())),
            frozenset(entry.get("numbers", ())),
            tuple(sorted((str(k), str(v)) for k, v in entry.get("phrases", {}).items())),
        )


def check_reply(
    source: str,
    reply: str,
    allowed_numbers: Collection[str] | None = None,
    allowed_codes: Collection[str] | None = None,
    equipment_names: Mapping[str, str] | None = None,
    code_table: Mapping[str, CatalogCode] | None = None,
    message_phrases: Mapping[str, str] | None = None,
) -> list[str]:
    """Lists faithfulness problems of `reply` as short human-readable flags.

    Args:
        source: the user's input: a fault line, a question or small talk.
        reply: the assistant's reply to it.
        allowed_numbers: numbers a reply may contain beyond those in the source (the
            catalog's fixed wording, see `allowed_numbers_from_catalog`).
        allowed_codes: codes a reply to a non-fault input may contain beyond those in the
            source (see `allowed_codes_from_catalog`); ignored for fault lines.
        equipment_names: prefix -> equipment name (the catalog's `equipment` map). When
            given, a record's unit counts as present only if the reply names it
            ("conveyor 7" for CV07); otherwise the unit number alone suffices.
        code_table: code -> `CatalogCode`, for check (c); needs `equipment_names`.
        message_phrases: for check (c), the wording a message of a record uses when its code
            is not valid for the equipment ("not_valid") or not in the catalog
            ("unknown_code"), e.g. {"unknown_code": "reported unknown code"}, and the
            wording of an answer that a code is not in the catalog ("not_in_catalog"),
            which must not be said of a catalog code (needs `code_table`); for check (d),
            the answers' wording ("codes_of", "equipment_of", "means", "fix",
            "not_valid_for"; see `answer_checks`).

    Returns:
        Flags in this order, without duplicates: "number 86 not in input",
        "code E218 not in input", "unit DD09 not in input", "E805 is in the catalog, the
        reply says it is not", then for fault lines "code E217 missing from reply",
        "unit CV07 missing from reply", "code E217 repeated in reply", and per record
        "meaning of E217 missing for CV07", "E504 explained for SH40, where it is not
        valid", "E508 on CV38 not reported as an unknown code", "T=85 missing for CV07",
        "D=96 told for LP40, not a parameter of W811" or "56 told for AG32, not a value of
        its record", and for answers the flags of `answer_checks.answer_flags` ("codes of
        the lift: E224 missing", ...). An empty list means no problem was found.
    """
    records = _fault_records(source)
    flags = [
        f"number {number} not in input"
        for number in hallucinated_numbers(source, reply, allowed_numbers)
    ]
    codes_allowed = None if records is not None else allowed_codes
    flags += [
        f"code {code} not in input" for code in hallucinated_codes(source, reply, codes_allowed)
    ]
    if equipment_names:
        flags += [f"unit {label} not in input"
                  for label in hallucinated_units(source, reply, equipment_names)]
    if code_table is not None and message_phrases and "not_in_catalog" in message_phrases:
        flags += [f"{code} is in the catalog, the reply says it is not"
                  for code in _denied_codes(reply, code_table, message_phrases["not_in_catalog"])]
    reply_codes = extract_codes(reply)
    if records is not None:
        reply_numbers = set(extract_numbers(reply))
        for record in records:
            if record.code not in reply_codes:
                flags.append(f"code {record.code} missing from reply")
            if not _names_unit(reply, reply_numbers, record, equipment_names):
                flags.append(f"unit {record.label} missing from reply")
        source_codes = [record.code for record in records]
    else:
        source_codes = extract_codes(source)
    # No code more often than the input has it, and an answer names a code once (a list of
    # codes, each once); a fault line's invented code is flagged as such, not as repeated.
    flags += [f"code {code} repeated in reply" for code in reply_codes
              if reply_codes.count(code) > max(source_codes.count(code), 1)
              and (records is None or code in source_codes)]
    if records is not None and code_table is not None and equipment_names is not None:
        flags += _catalog_flags(reply, records, code_table, equipment_names, message_phrases)
    if records is None and code_table is not None and equipment_names and message_phrases:
        flags += answer_checks.answer_flags(reply, code_table, equipment_names, message_phrases)
    return _unique(flags)


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
    return _unique(number for number in extract_numbers(reply) if number not in known)


def dropped_numbers(source: str, reply: str) -> list[str]:
    """Numbers in `source` missing from `reply` (unique, in order).

    For fault lines this includes values of parameters the catalog does not list for that
    code (and of unknown codes), which messages leave out on purpose; evaluation that wants
    only real drops should compare against the reference reply instead:
    `set(dropped_numbers(source, reply)) - set(dropped_numbers(source, reference))`.
    """
    present = set(extract_numbers(reply))
    return _unique(number for number in extract_numbers(source) if number not in present)


def hallucinated_codes(
    source: str, reply: str, allowed_codes: Collection[str] | None = None
) -> list[str]:
    """Codes in `reply` found neither in `source` nor in `allowed_codes` (unique, in order)."""
    known = set(extract_codes(source))
    known.update(code.upper() for code in allowed_codes or ())
    return _unique(code for code in extract_codes(reply) if code not in known)


def hallucinated_units(
    source: str, reply: str, equipment_names: Mapping[str, str]
) -> list[str]:
    """Unit labels ("DD09") the reply names ("Dock door 9") that the source does not name.

    The source may name a unit by label ("DD09", "dd 9") or by name ("dock door 9").
    """
    named = set(_named_units_in_order(source, equipment_names))
    named |= _labelled_units(source, equipment_names)
    return _unique(
        f"{prefix}{unit:02d}" for prefix, unit in _named_units_in_order(reply, equipment_names)
        if (prefix, unit) not in named
    )


def allowed_numbers_from_catalog(catalog: Mapping) -> set[str]:
    """Numbers in the catalog's fixed wording, e.g. {"30", "10"} from "wait 30 seconds".

    Args:
        catalog: the fault catalog as loaded from YAML (a mapping with `equipment` and
            `codes`). Every string in it is scanned: meanings, actions, value phrases and
            equipment names. Numeric fields (ranges) are not text and are skipped; the
            digits of codes are never numbers.

    Returns:
        Normalised number strings, to pass to `check_reply(..., allowed_numbers=...)`.
    """
    return {number for text in _strings(catalog) for number in extract_numbers(text)}


def allowed_codes_from_catalog(catalog: Mapping) -> set[str]:
    """Every code the catalog defines, for `check_reply(..., allowed_codes=...)`."""
    return {str(entry["code"]).upper() for entry in catalog.get("codes", ())}


def code_table_from_catalog(catalog: Mapping) -> dict[str, CatalogCode]:
    """The catalog's code -> (equipment, meaning) table, for `check_reply(..., code_table=...)`."""
    return {
        str(entry["code"]).upper(): CatalogCode(
            frozenset(str(prefix).upper() for prefix in entry["equipment"]),
            str(entry["meaning"]),
            frozenset(str(param["name"]).upper() for param in entry.get("params") or ()),
            frozenset(
                number
                for text in _strings([entry.get("meaning"), entry.get("action"),
                                      [param.get("phrase") for param in entry.get("params") or ()]])
                for number in extract_numbers(text.replace("{value}", " "))
            ),
            tuple(sorted(
                (str(param["name"]).upper(), str(param["phrase"]))
                for param in entry.get("params") or () if param.get("phrase")
            )),
        )
        for entry in catalog.get("codes", ())
    }


_CODE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z][0-9]{3}(?![0-9A-Za-z])")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _fault_records(source: str) -> tuple[faultcodes.FaultRecord, ...] | None:
    if not faultcodes.looks_like_fault_line(source):
        return None
    try:
        return faultcodes.parse_line(source)
    except ValueError:
        return None


def _catalog_flags(
    reply: str,
    records: Iterable[faultcodes.FaultRecord],
    code_table: Mapping[str, CatalogCode],
    equipment_names: Mapping[str, str],
    message_phrases: Mapping[str, str] | None,
) -> list[str]:
    """Check (c): each record's sentence tells what the catalog says of that record.

    A record is judged by the reply sentences that hold both its code and its named unit;
    a record with no such sentence is already flagged by the coverage check. A code that
    applies to the equipment must be told with its meaning and the values of the catalog
    parameters the line gives, and no other number but the unit and its fixed wording; a
    code that does not apply (or is not in the catalog) must not be explained, must be told
    with `message_phrases` ("not_valid", "unknown_code") when those are given, and with no
    number but the unit.
    """
    sentences = _SENTENCE_BREAK.split(reply)
    phrases = {kind: phrase.lower() for kind, phrase in (message_phrases or {}).items()}
    flags = []
    for record in records:
        if record.prefix not in equipment_names:
            continue  # "Equipment QQ 12 is not in the catalog": the unit check covers it
        told = [
            sentence.lower() for sentence in sentences
            if record.code in extract_codes(sentence)
            and _names_unit_by_name(sentence, record, equipment_names)
        ]
        if not told:
            continue
        entry = code_table.get(record.code)
        applies = entry is not None and record.prefix in entry.equipment
        explained = entry is not None and any(entry.meaning.lower() in s for s in told)
        kind = "valid" if applies else "not_valid" if entry is not None else "unknown_code"
        if applies and not explained:
            flags.append(f"meaning of {record.code} missing for {record.label}")
        elif explained and not applies:
            flags.append(f"{record.code} explained for {record.label}, where it is not valid")
        elif kind in phrases and not any(phrases[kind] in s for s in told):
            reported_as = "not valid there" if kind == "not_valid" else "an unknown code"
            flags.append(f"{record.code} on {record.label} not reported as {reported_as}")
        values = {key: normalize_number(value) for key, value in record.params}  # last wins
        numbers = _unique(number for sentence in told for number in extract_numbers(sentence))
        if applies:
            flags += _value_flags(record, values, numbers, entry.params, entry.numbers)
            flags += _phrase_flags(record, values, numbers, entry.phrases, told)
        else:
            flags += _value_flags(record, values, numbers, (), ())
    return flags


def _phrase_flags(
    record: faultcodes.FaultRecord,
    values: Mapping[str, str],
    numbers: Collection[str],
    phrases: Iterable[tuple[str, str]],
    told: list[str],
) -> list[str]:
    """A parameter of the line is told with its catalog phrase and unit ("off by 15.0 %",
    not "off by 15.0 mm"), and a phrase is not told for a parameter the line lacks.

    `values`: the record's KEY -> normalised value; `numbers`: the numbers of the sentences
    `told` that tell the record."""
    flags = []
    for key, phrase in phrases:
        found = {
            normalize_number(number)
            for sentence in told for number in _phrase_pattern(phrase.lower()).findall(sentence)
        }
        if key in values and values[key] not in found and values[key] in numbers:
            flags.append(f"{key}={values[key]} not told as \"{phrase}\" for {record.label}")
        elif key not in values and found:
            flags.append(f"\"{phrase}\" told for {record.label}, which has no {key}")
    return flags


@functools.lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str) -> re.Pattern:
    """A catalog phrase ("off by {value} %") as a regex whose group is the value."""
    before, _, after = phrase.partition("{value}")
    number = r"([0-9]+(?:\.[0-9]+)?)"
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(before)}{number}{re.escape(after)}")


def _denied_codes(reply: str, code_table: Mapping[str, CatalogCode], phrase: str) -> list[str]:
    """Catalog codes the reply says are not in the catalog ("E805 is not in the ...")."""
    pattern = rf"(?<![0-9A-Za-z])([A-Za-z][0-9]{{3}})\s+{re.escape(phrase)}"
    found = (match.upper() for match in re.findall(pattern, reply, flags=re.IGNORECASE))
    return _unique(code for code in found if code in code_table)


def _value_flags(
    record: faultcodes.FaultRecord,
    values: Mapping[str, str],
    numbers: list[str],
    used: Collection[str],
    fixed_numbers: Collection[str],
) -> list[str]:
    """The record's sentences, whose numbers are `numbers` (in order), tell the values of
    the parameters `used` (catalog keys), and no number but those, the unit and the code's
    `fixed_numbers`. `values`: the record's KEY -> normalised value."""
    wanted = {value for key, value in values.items() if key in used}
    flags = [
        f"{key}={value} missing for {record.label}"
        for key, value in values.items() if key in used and value not in numbers
    ]
    justified = wanted | set(fixed_numbers) | {str(record.unit)}
    stray = {value: key for key, value in reversed(values.items()) if key not in used}
    for number in numbers:
        if number in justified:
            continue
        if number in stray:
            flags.append(
                f"{stray[number]}={number} told for {record.label}, "
                f"not a parameter of {record.code}"
            )
        else:
            flags.append(f"{number} told for {record.label}, not a value of its record")
    return flags


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def _named_units_in_order(
    text: str, equipment_names: Mapping[str, str]
) -> list[tuple[str, int]]:
    """(prefix, unit) of every "<equipment name> <number>" in `text`, in order."""
    by_name, pattern = _name_pattern(tuple(equipment_names.items()))
    return [
        (by_name[match.group(1).lower()], int(match.group(2)))
        for match in pattern.finditer(text)
    ]


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


def _names_unit(
    reply: str,
    reply_numbers: set[str],
    record: faultcodes.FaultRecord,
    equipment_names: Mapping[str, str] | None,
) -> bool:
    if equipment_names is None:
        return str(record.unit) in reply_numbers
    return _names_unit_by_name(reply, record, equipment_names)


def _names_unit_by_name(
    text: str, record: faultcodes.FaultRecord, equipment_names: Mapping[str, str]
) -> bool:
    """Whether `text` names the record's unit: "Conveyor 7" (or "conveyor 07") for CV07."""
    # A prefix the catalog lacks is repeated as it is: "Equipment QQ 12 is not in the catalog".
    name = equipment_names.get(record.prefix, record.prefix)
    unit = str(record.unit)
    return any(match.group(1) == unit for match in _unit_pattern(name).finditer(text))


def _strings(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_checker(path) -> Callable[[str, str], list[str]] | None:
    """Reads a `BUNDLE_FILE` and returns `check(source, reply) -> flags` bound to it.

    Returns None when the file does not exist (a bundle trained on other data). The code
    table (check (c)) is optional: files written before it existed lack it.

    Raises:
        ValueError: the file exists but is not valid.
    """
    import json
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        allowed_numbers = frozenset(settings["allowed_numbers"])
        allowed_codes = frozenset(settings["allowed_codes"])
        names = dict(settings["equipment_names"])
        code_table = None
        if "code_table" in settings:
            code_table = {
                str(code): CatalogCode.from_json(entry)
                for code, entry in settings["code_table"].items()
            }
        phrases = {str(k): str(v) for k, v in settings.get("message_phrases", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a valid faithfulness file ({error})") from None

    def check(source: str, reply: str) -> list[str]:
        return check_reply(
            source, reply, allowed_numbers, allowed_codes, names, code_table, phrases
        )

    return check
