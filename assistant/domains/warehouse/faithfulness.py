"""Faithfulness flags: what a reply invents, drops or tells against the catalog.

Cheap string checks; the catalog facts they need (allow-lists, equipment names, the code
table and the messages' wording) come from the bundle's `faithfulness.json`, so runtime code
never reads training/:

Every input is read liberally first (`assistant.domains.warehouse.grounding`, with the
`detector`): its records in any spelling ("CV07:E217 T=85, SN02:W301 N=12", "conveyor 7
E217", "SN13 C501 S=24", six records on a line), the record a question names ("E217 on
CV07, what do I do?"), and the units and equipment types it names by prefix, name or
alias. An input whose records are all it holds (besides separators) is a fault line; an
input with records and other words is a question about them. Without equipment names
(`equipment_names=None`) only a line in the canonical grammar has records.

(a) Hallucination, for every input: each number and each fault code in the reply must occur
    in the input, or in an allow-list. The allow-list for numbers holds the fixed wording
    of the catalog ("wait 30 seconds"), built once with `allowed_numbers_from_catalog` and
    carried by the model bundle (runtime code does not read training/). The allow-list for
    codes is for inputs without records only, and (when the bundle gives the answers'
    wording) for the codes an answer lists for an equipment type ("what codes can a sorter
    raise?"): for inputs with records every code in the reply must come from the input.
    An input names a code by its catalog meaning too ("how do I fix path blocked?": W602).
(b) Coverage, for inputs with records: each record's code and unit number must appear in
    the reply, and no code more often than the input has it (a record told twice). An
    answer to any other input names no code twice (a list of codes that loops).
(b') Units and equipment, for every input when equipment names are known: each unit the
    reply names ("Dock door 9") must be named in the input too ("DD09", "dock door 9",
    an alias); a question about conveyor 9 answered for dock door 9 is wrong even if every
    number matches. A list of an equipment type's codes must be for a type the input names.
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
    catalog's, a meaning must be the code's, a fix for a code valid there (`answer_checks`),
    and a question about a code gets the answer of its kind (`questions`).
(e) Actions, for every input, when the code table carries the catalog's actions: a sentence
    that tells a code on a unit where it applies tells the catalog's action for that code
    and that equipment ("stop the conveyor", not "stop the lift", for E217 on a conveyor).

With a context (`check_reply(..., context=...)`, the conversation's last fault line and focus,
`assistant.domains.warehouse.context`), the context is part of the input for (a), (b'), (d)
and (e): a reply to "how do I fix it?" may name E217 and Conveyor 7 when the context holds
`CV07:E217`, and one about anything in neither is flagged. Coverage (b) and (c) ask only
about the records of the turn itself: a follow-up need not tell every record of the line.
(f) The referent, with a context (`referents`): the reply is about what the turn refers to,
    asks which when that is ambiguous, and leaves the context alone for another subject.

Numbers, codes and units are read as `mentions` says (leading zeros dropped, decimals kept,
the digits of codes and unit labels never stray numbers); check (c) and the catalog facts
live in `catalog_checks`. The public names of both are importable from here too.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Iterable, Mapping

from assistant.domains.warehouse import (
    answer_checks,
    catalog_checks,
    faultcodes,
    grounding,
    questions,
    referents,
    reply_form,
)
from assistant.domains.warehouse import detector as detector_lib
from assistant.domains.warehouse.catalog_checks import (
    CatalogCode,
    allowed_codes_from_catalog,
    allowed_numbers_from_catalog,
    code_table_from_catalog,
)
from assistant.domains.warehouse.mentions import (
    dropped_numbers,
    extract_codes,
    extract_numbers,
    hallucinated_codes,
    hallucinated_numbers,
    hallucinated_units,
    invented_units,
    names_unit_by_name,
    normalize_number,
    unique,
    unknown_units_flags,
    without_times,
)

__all__ = [
    "BUNDLE_FILE",
    "CatalogCode",
    "Checker",
    "allowed_codes_from_catalog",
    "allowed_numbers_from_catalog",
    "check_reply",
    "code_table_from_catalog",
    "dropped_numbers",
    "extract_codes",
    "extract_numbers",
    "hallucinated_codes",
    "hallucinated_numbers",
    "hallucinated_units",
    "load_checker",
    "normalize_number",
]

BUNDLE_FILE = "faithfulness.json"  # allow-lists and equipment names, in data dirs and bundles


def check_reply(
    source: str,
    reply: str,
    allowed_numbers: Collection[str] | None = None,
    allowed_codes: Collection[str] | None = None,
    equipment_names: Mapping[str, str] | None = None,
    code_table: Mapping[str, CatalogCode] | None = None,
    message_phrases: Mapping[str, str] | None = None,
    equipment_aliases: Mapping[str, Iterable[str]] | None = None,
    context: str = "",
) -> list[str]:
    """Lists faithfulness problems of `reply` as short human-readable flags.

    Args:
        source: the user's input: a fault line in any spelling, a question or small talk.
        reply: the assistant's reply to it.
        allowed_numbers: numbers a reply may contain beyond those in the source (the
            catalog's fixed wording, see `allowed_numbers_from_catalog`).
        allowed_codes: codes a reply to an input without records may contain beyond those
            in the source (see `allowed_codes_from_catalog`; check (a)).
        equipment_names: prefix -> equipment name (the catalog's `equipment` map). When
            given, inputs are read liberally, and a record's unit counts as present only if
            the reply names it ("conveyor 7" for CV07); otherwise the unit number suffices.
        code_table: code -> `CatalogCode`, for checks (c), (d) and (e); needs `equipment_names`.
        message_phrases: the wording the checks look for: "not_valid", "unknown_code" (c),
            "not_in_catalog", "codes_of", "means", "fix"... (`messages.MESSAGE_PHRASES`).
        equipment_aliases: prefix -> other names of the equipment type ("belt"), in inputs.
        context: the conversation's context of `source` (module docstring); "" for none.

    Returns:
        Flags in this order, without duplicates: "number 86 not in input", "code E218 not in
        input", "unit DD09 not in input", "unit QQ 12 not in input", "equipment barcode scanner
        not in input", "E805 is in the catalog, the reply says it is not", for inputs with
        records "code E217 missing from reply", "unit CV07 missing from reply", "code E217
        repeated in reply", per record of a fault line the flags of
        `catalog_checks.catalog_flags` ("meaning of E217 missing for CV07", ...), for other
        inputs those of `answer_checks.answer_flags` ("codes of the lift: E224 missing", ...),
        then "action for E217 on CV07 is not the catalog's", for an input without records
        "code E407 (scanner offline) missing from reply" or "the input asks about the barcode
        scanner; the reply names none of it", with a context "the turn asks about C311; the
        reply asks which of others" or `referents.check`'s, and "the reply stops mid-sentence".
    """
    turn, reading, grounded = _read(source, context, equipment_names, equipment_aliases, code_table)
    records, phrases = reading.records, message_phrases or {}
    codes_allowed = grounding.allowed_reply_codes(grounded, reply, reading, allowed_codes,
                                                  equipment_names, code_table, phrases)
    flags = _invented_flags(grounded, reply, allowed_numbers, codes_allowed, equipment_names,
                            reading)
    flags += _equipment_and_denied_flags(reply, reading, equipment_names, code_table, phrases)
    unnamed = grounding.codes_without_unit(reply, reading, phrases)
    flags += _coverage_flags(grounded if records is None else source, reply, records,
                             equipment_names, unnamed)
    if code_table is not None and equipment_names:
        flags += _catalog_flags(source, reply, reading, code_table, equipment_names, phrases)
    if context.strip():
        flags += grounding.ask_which_flags(source, reply, turn, equipment_names) or (
            referents.check(source, reply, context, equipment_names, equipment_aliases,
                            code_table, phrases))
    flags += _unfinished_flags(reply)
    return unique(flags)


def reply_bound(source: str, equipment_names: Mapping[str, str],
                code_table: Mapping[str, CatalogCode] | None,
                equipment_aliases: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """The catalog's own message for a fault line whose records are all catalog codes valid
    on their equipment ("Conveyor 7 fault E217: motor over-temperature, motor at 85 °C;
    stop the conveyor and let the motor cool before restarting."), as long as a good reply;
    None for anything else (questions, unknown codes or equipment, a file without actions)."""
    if not code_table or not equipment_names:
        return None
    reading = grounding.read_source(source, equipment_names, equipment_aliases)
    if not reading.fault_line or not reading.records:
        return None
    sentences = []
    for record in reading.records:
        entry, name = code_table.get(record.code), equipment_names.get(record.prefix)
        if entry is None or name is None or record.prefix not in entry.equipment:
            return None
        if not entry.action or not entry.severity:
            return None
        values = dict(record.params)
        told = [phrase.replace("{value}", values[key])
                for key, phrase in entry.phrases if key in values]
        meaning = ", ".join([entry.meaning, *told])
        action = entry.action.replace("{equipment}", name)
        sentences.append(f"{name[:1].upper()}{name[1:]} {record.unit} {entry.severity} "
                         f"{record.code}: {meaning}; {action[:1].lower()}{action[1:]}")
    return " ".join(sentences)


def _unfinished_flags(reply: str) -> list[str]:
    """A reply that names a code ends as a sentence does: one cut at the length limit
    ("... book preventive maintenance with the maintenance team") is flagged "the reply
    stops mid-sentence". (Small talk may end without a stop.)"""
    if extract_codes(reply) and not reply.rstrip().endswith((".", "?", "!")):
        return ["the reply stops mid-sentence"]
    return []


def _catalog_flags(source: str, reply: str, reading: grounding.Reading,
                   code_table: Mapping[str, CatalogCode], equipment_names: Mapping[str, str],
                   phrases: Mapping[str, str]) -> list[str]:
    """The flags that need the code table: a fault line's records against the catalog, or
    an answer's catalog statements; the actions told; what an input without records names."""
    if reading.fault_line:
        flags = catalog_checks.catalog_flags(reply, reading.records, code_table,
                                             equipment_names, phrases)
    else:
        flags = answer_checks.answer_flags(reply, code_table, equipment_names,
                                           phrases) if phrases else []
        flags += catalog_checks.record_sentence_flags(reply, reading.records or (),
                                                      code_table, equipment_names, phrases)
    flags += grounding.action_flags(reply, code_table, equipment_names, phrases)
    if not reading.fault_line:
        flags += questions.action_question_flags(source, reply, phrases, code_table)
    if reading.records is None:
        flags += grounding.subject_flags(source, reply, code_table, equipment_names)
        flags += questions.question_type_flags(source, reply, phrases)
    return flags


@dataclasses.dataclass(frozen=True, eq=False)
class Checker:
    """`checker(source, reply) -> flags`: `check_reply` bound to a bundle's catalog facts."""

    allowed_numbers: frozenset[str]
    allowed_codes: frozenset[str]
    equipment_names: Mapping[str, str]
    code_table: Mapping[str, CatalogCode] | None  # None: a file written before the table
    message_phrases: Mapping[str, str]
    equipment_aliases: Mapping[str, tuple[str, ...]]  # empty: a file written before aliases

    def __call__(self, source: str, reply: str, context: str = "") -> list[str]:
        flags = check_reply(source, reply, self.allowed_numbers, self.allowed_codes,
                            self.equipment_names, self.code_table, self.message_phrases,
                            self.equipment_aliases, context)
        return unique([*flags, *reply_form.form_flags(reply, self.message_phrases, self._caps)])

    @functools.cached_property
    def _caps(self) -> frozenset[str]:
        return reply_form.written_capitals(self.code_table, self.equipment_names)

    def reply_bound(self, source: str) -> str | None:  # `reply_bound` bound to this catalog
        return reply_bound(source, self.equipment_names, self.code_table, self.equipment_aliases)

    def detector(self) -> detector_lib.Detector:
        """The record detector of this catalog (names and aliases), as the check reads."""
        return detector_lib.Detector(self.equipment_names, self.equipment_aliases)


def load_checker(path) -> Checker | None:
    """Reads a `BUNDLE_FILE` and returns the `Checker` bound to it.

    Returns None when the file does not exist (a bundle trained on other data). The code
    table (checks (c)-(e)), its actions (check (e)) and "equipment_aliases" are optional:
    files written before they existed lack them.

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
        code_table = None
        if "code_table" in settings:
            code_table = {
                str(code): CatalogCode.from_json(entry)
                for code, entry in settings["code_table"].items()
            }
        return Checker(
            frozenset(settings["allowed_numbers"]),
            frozenset(settings["allowed_codes"]),
            dict(settings["equipment_names"]),
            code_table,
            {str(k): str(v) for k, v in settings.get("message_phrases", {}).items()},
            {str(prefix): tuple(str(alias).lower() for alias in aliases)
             for prefix, aliases in settings.get("equipment_aliases", {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a valid faithfulness file ({error})") from None


def _read(source: str, context: str, equipment_names: Mapping[str, str] | None,
          equipment_aliases: Mapping[str, Iterable[str]] | None,
          code_table: Mapping[str, CatalogCode] | None
          ) -> tuple[grounding.Reading, grounding.Reading, str]:
    """The reading of `source` alone (a panel's alarm text after a code and a log's times
    before a record left out), the same with its context's units and equipment types, and
    the text a reply is grounded in: the context is input too, but for the coverage of its
    records."""
    reading = grounding.read_source(without_times(grounding.without_panel_text(source,
                                                                            code_table)),
                                    equipment_names, equipment_aliases)
    if not context.strip():
        return reading, reading, source
    in_context = grounding.read_source(context, equipment_names, equipment_aliases)
    return reading, grounding.with_context(reading, in_context), f"{context}\n{source}"


def _equipment_and_denied_flags(reply: str, reading: grounding.Reading,
                                equipment_names: Mapping[str, str] | None,
                                code_table: Mapping[str, CatalogCode] | None,
                                phrases: Mapping[str, str]) -> list[str]:
    """Check (b')'s lists of an equipment type's codes, then the catalog codes the reply
    calls unknown."""
    flags = grounding.equipment_flags(reply, reading, equipment_names, phrases)
    if code_table is not None and "not_in_catalog" in phrases:
        flags += [f"{code} is in the catalog, the reply says it is not" for code in
                  catalog_checks.denied_codes(reply, code_table, phrases["not_in_catalog"])]
    return flags


def _invented_flags(
    source: str,
    reply: str,
    allowed_numbers: Collection[str] | None,
    allowed_codes: Collection[str] | None,
    equipment_names: Mapping[str, str] | None,
    reading: grounding.Reading,
) -> list[str]:
    """Checks (a) and (b'): the numbers, codes and named units of the reply that neither
    the input nor the allow-lists hold, and units told as not in the catalog that the input
    does not name."""
    flags = [
        f"number {number} not in input"
        for number in hallucinated_numbers(source, reply, allowed_numbers)
    ]
    flags += [
        f"code {code} not in input" for code in hallucinated_codes(source, reply, allowed_codes)
    ]
    if equipment_names:
        flags += [f"unit {label} not in input"
                  for label in invented_units(reply, equipment_names, reading.units)]
    return flags + unknown_units_flags(source, reply)


def _coverage_flags(
    source: str,
    reply: str,
    records: tuple[faultcodes.FaultRecord, ...] | None,
    equipment_names: Mapping[str, str] | None,
    unnamed: Collection[str] = (),
) -> list[str]:
    """Check (b): each record of the input (`records`; None for inputs without records) is
    told by code and unit (by code alone for the codes `unnamed`), and no code is told more
    often than the input has it."""
    flags = []
    reply_codes = extract_codes(reply)
    if records is not None:
        reply_numbers = set(extract_numbers(reply))
        for record in records:
            if record.code not in reply_codes:
                flags.append(f"code {record.code} missing from reply")
            if (record.code not in unnamed
                    and not _names_unit(reply, reply_numbers, record, equipment_names)):
                flags.append(f"unit {record.label} missing from reply")
        source_codes = [record.code for record in records]
    else:
        source_codes = extract_codes(source)
    # No code more often than the input has it, and an answer names a code once (a list of
    # codes, each once); a fault line's invented code is flagged as such, not as repeated.
    flags += [f"code {code} repeated in reply" for code in reply_codes
              if reply_codes.count(code) > max(source_codes.count(code), 1)
              and (records is None or code in source_codes)]
    return flags


def _names_unit(
    reply: str,
    reply_numbers: set[str],
    record: faultcodes.FaultRecord,
    equipment_names: Mapping[str, str] | None,
) -> bool:
    if equipment_names is None:
        return str(record.unit) in reply_numbers
    return names_unit_by_name(reply, record, equipment_names)

