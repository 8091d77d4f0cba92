"""Catalog agreement of fault-line replies: check (c) of
`assistant.domains.warehouse.faithfulness` (`catalog_flags`), and the catalog facts the
checks read.

The facts (a `CatalogCode` per code, the allow-lists of numbers and codes) are built from
the catalog by the corpus builder and carried by the bundle's `faithfulness.json`, so
runtime code never reads training/.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from assistant.domains.warehouse import faultcodes
from assistant.domains.warehouse.mentions import (
    extract_codes,
    extract_numbers,
    names_unit_by_name,
    normalize_number,
    unique,
)


@dataclasses.dataclass(frozen=True)
class CatalogCode:
    """What check (c) needs of one catalog code: where it applies and what it means."""

    equipment: frozenset[str]  # prefixes, e.g. {"CV", "SN"}
    meaning: str  # e.g. "safety relay fault", as messages write it
    params: frozenset[str] = frozenset()  # the KEYs messages tell the values of, e.g. {"T"}
    numbers: frozenset[str] = frozenset()  # numbers of its fixed wording ("wait 30 seconds")
    # (KEY, phrase) pairs: how a message tells a parameter, e.g. ("T", "motor at {value} °C")
    phrases: tuple[tuple[str, str], ...] = ()
    # the catalog's action, "{equipment}" for the equipment's name ("Stop the {equipment} ...");
    # "" when the bundle's file predates it (the action check is then off)
    action: str = ""
    # "critical", "fault", "warning" or "info"; "" when the bundle's file predates it (the
    # severity check is then off)
    severity: str = ""
    # its place in the catalog (0 first) and its equipment in the catalog's order, which
    # the answers' lists keep; -1 and () when the bundle's file predates them (the order
    # checks are then off)
    rank: int = -1
    equipment_order: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """The entry as `faithfulness.json` stores it under "code_table"."""
        return {
            "equipment": sorted(self.equipment),
            "meaning": self.meaning,
            "params": sorted(self.params),
            "numbers": sorted(self.numbers),
            "phrases": dict(self.phrases),
            "action": self.action,
            "severity": self.severity,
            "rank": self.rank,
            "equipment_order": list(self.equipment_order),
        }

    @classmethod
    def from_json(cls, entry: Mapping) -> CatalogCode:
        """Reads `to_json`'s form; "params", "numbers", "phrases", "action", "severity",
        "rank" and "equipment_order" may be missing (older files)."""
        return cls(
            frozenset(entry["equipment"]),
            str(entry["meaning"]),
            frozenset(entry.get("params", ())),
            frozenset(entry.get("numbers", ())),
            tuple(sorted((str(k), str(v)) for k, v in entry.get("phrases", {}).items())),
            str(entry.get("action", "")),
            str(entry.get("severity", "")),
            int(entry.get("rank", -1)),
            tuple(str(prefix) for prefix in entry.get("equipment_order", ())),
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
    """The catalog's code -> `CatalogCode` table, for `check_reply(..., code_table=...)`."""
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
            str(entry.get("action") or ""),
            str(entry.get("severity") or ""),
            rank,
            tuple(str(prefix).upper() for prefix in entry["equipment"]),
        )
        for rank, entry in enumerate(catalog.get("codes", ()))
    }


def catalog_flags(
    reply: str,
    records: Iterable[faultcodes.FaultRecord],
    code_table: Mapping[str, CatalogCode],
    equipment_names: Mapping[str, str],
    message_phrases: Mapping[str, str] | None,
    check_values: str = "all",
) -> list[str]:
    """Check (c): each record's sentence tells what the catalog says of that record.

    A record is judged by the reply sentences that hold both its code and its named unit;
    a record with no such sentence is already flagged by the coverage check. A code that
    applies to the equipment must be told with its meaning and the values of the catalog
    parameters the line gives, and no other number but the unit and its fixed wording; a
    code that does not apply (or is not in the catalog) must not be explained, must be told
    with `message_phrases` ("not_valid", "unknown_code") when those are given, and with no
    number but the unit. `check_values="strays"` checks only that no sentence tells the value
    of another parameter of the record as the code's (records read liberally from a line
    that is not a fault line may have lost some values, "D=18 %", but a value the record
    holds under another key is not its catalog value: "41 jams" for `W301 V=41 N=40`).
    """
    if check_values not in ("all", "strays"):
        raise ValueError(f"check_values must be 'all' or 'strays', not {check_values!r}")
    strays = check_values == "strays"
    sentences = _SENTENCE_BREAK.split(reply)
    codes = [frozenset(extract_codes(sentence)) for sentence in sentences]  # once, not per record
    phrases = {kind: phrase.lower() for kind, phrase in (message_phrases or {}).items()}
    flags = []
    for record in records:
        if record.prefix not in equipment_names:
            continue  # "Equipment QQ 12 is not in the catalog": the unit check covers it
        told = [
            sentence.lower() for sentence, named in zip(sentences, codes, strict=True)
            if record.code in named and names_unit_by_name(sentence, record, equipment_names)
        ]
        if not told:
            if record.code in extract_codes(reply) and names_unit_by_name(reply, record,
                                                                          equipment_names):
                flags.append(f"{record.code} not told for {record.label}")  # told elsewhere
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
        numbers = unique(number for sentence in told for number in extract_numbers(sentence))
        if applies:
            flags += _value_flags(record, values, numbers, entry.params, entry.numbers, strays)
            flags += [] if strays else _phrase_flags(record, values, numbers, entry.phrases,
                                                     told)
        else:
            flags += _value_flags(record, values, numbers, (), (), strays)
    return flags


def record_sentence_flags(reply: str, records: Sequence[faultcodes.FaultRecord],
                          code_table: Mapping, equipment_names: Mapping[str, str],
                          phrases: Mapping[str, str]) -> list[str]:
    """The record sentences ("Label printer 41 warning W102: battery low; ...") of a reply
    to an input that holds records but is not a fault line ("LP41 W102 help", a log line
    with its time): each tells what the catalog says of its record, as for a fault line
    (`catalog_flags`), but of its values only that none is another parameter's: "W102
    explained for LP41, where it is not valid", "V=41 told for CV46, not a parameter of
    W301"."""
    heads = [(record, f"{equipment_names[record.prefix]} {record.unit} ".lower())
             for record in records if record.prefix in equipment_names]  # "label printer 41 "
    starts = tuple(head for _, head in heads)
    sentences = [sentence for sentence in _SENTENCE_BREAK.split(reply)
                 if sentence.lower().startswith(starts)]
    if not sentences:
        return []
    joined = " ".join(sentences)
    told = [record for record, head in heads if head in joined.lower()]
    return catalog_flags(joined, told, code_table, equipment_names, phrases,
                         check_values="strays")


def denied_codes(reply: str, code_table: Mapping[str, CatalogCode], phrase: str) -> list[str]:
    """Catalog codes the reply says are not in the catalog ("E805 is not in the ...")."""
    pattern = rf"(?<![0-9A-Za-z])([A-Za-z][0-9]{{3}})\s+{re.escape(phrase)}"
    found = (match.upper() for match in re.findall(pattern, reply, flags=re.IGNORECASE))
    return unique(code for code in found if code in code_table)


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


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
        elif key not in values and (found or any(_phrase_pattern(phrase.lower(), lead=True)
                                                  .search(sentence) for sentence in told)):
            flags.append(f"\"{phrase}\" told for {record.label}, which has no {key}")
    return flags


@functools.lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str, lead: bool = False) -> re.Pattern:
    """A catalog phrase ("off by {value} %") as a regex whose group is the value; `lead`:
    its words before the value and a number, any unit after ("off by 24.05 kg"; a phrase
    that starts with its value matches nothing)."""
    before, _, after = phrase.partition("{value}")
    number = r"([0-9]+(?:\.[0-9]+)?)"
    if lead:
        return re.compile(rf"(?<![0-9A-Za-z]){re.escape(before)}{number}" if before.strip()
                          else r"(?!)")
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(before)}{number}{re.escape(after)}")


def _value_flags(
    record: faultcodes.FaultRecord,
    values: Mapping[str, str],
    numbers: list[str],
    used: Collection[str],
    fixed_numbers: Collection[str],
    strays_only: bool = False,
) -> list[str]:
    """The record's sentences, whose numbers are `numbers` (in order), tell the values of
    the parameters `used` (catalog keys), and no number but those, the unit and the code's
    `fixed_numbers`. `values`: the record's KEY -> normalised value. `strays_only`: only
    that no number is the value of a parameter not `used`."""
    wanted = {value for key, value in values.items() if key in used}
    flags = [] if strays_only else [
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
        elif not strays_only:
            flags.append(f"{number} told for {record.label}, not a value of its record")
    return flags


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
