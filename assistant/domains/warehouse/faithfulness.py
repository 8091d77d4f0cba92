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

Numbers, codes and units are read as `assistant.domains.warehouse.mentions` says (leading
zeros dropped, decimals kept, the digits of codes and unit labels never stray numbers);
check (c) and the catalog facts live in `assistant.domains.warehouse.catalog_checks`. The
public names of both are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from assistant.domains.warehouse import answer_checks, catalog_checks, faultcodes
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
    names_unit_by_name,
    normalize_number,
    unique,
)

__all__ = [
    "BUNDLE_FILE",
    "CatalogCode",
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
    codes_allowed = None if records is not None else allowed_codes
    flags = _invented_flags(source, reply, allowed_numbers, codes_allowed, equipment_names)
    if code_table is not None and message_phrases and "not_in_catalog" in message_phrases:
        denied = catalog_checks.denied_codes(reply, code_table, message_phrases["not_in_catalog"])
        flags += [f"{code} is in the catalog, the reply says it is not" for code in denied]
    flags += _coverage_flags(source, reply, records, equipment_names)
    if records is not None and code_table is not None and equipment_names is not None:
        flags += catalog_checks.catalog_flags(
            reply, records, code_table, equipment_names, message_phrases
        )
    if records is None and code_table is not None and equipment_names and message_phrases:
        flags += answer_checks.answer_flags(reply, code_table, equipment_names, message_phrases)
    return unique(flags)


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


def _fault_records(source: str) -> tuple[faultcodes.FaultRecord, ...] | None:
    if not faultcodes.looks_like_fault_line(source):
        return None
    try:
        return faultcodes.parse_line(source)
    except ValueError:
        return None


def _invented_flags(
    source: str,
    reply: str,
    allowed_numbers: Collection[str] | None,
    allowed_codes: Collection[str] | None,
    equipment_names: Mapping[str, str] | None,
) -> list[str]:
    """Checks (a) and (b'): the numbers, codes and named units of the reply that neither
    the input nor the allow-lists hold."""
    flags = [
        f"number {number} not in input"
        for number in hallucinated_numbers(source, reply, allowed_numbers)
    ]
    flags += [
        f"code {code} not in input" for code in hallucinated_codes(source, reply, allowed_codes)
    ]
    if equipment_names:
        flags += [f"unit {label} not in input"
                  for label in hallucinated_units(source, reply, equipment_names)]
    return flags


def _coverage_flags(
    source: str,
    reply: str,
    records: tuple[faultcodes.FaultRecord, ...] | None,
    equipment_names: Mapping[str, str] | None,
) -> list[str]:
    """Check (b): each record of a fault line (`records`; None for other inputs) is told by
    code and unit, and no code is told more often than the input has it."""
    flags = []
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
