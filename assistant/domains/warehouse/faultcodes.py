"""The fault-line input language: parsing, the canonical spelling and a cheap detector.

A fault line holds 1-4 records separated by `;`:

    CV07:E217 T=85; SN02:W301 N=12

A record is `<PREFIX><unit>:<code>` followed by optional `KEY=value` parameters:

- PREFIX: two letters naming the equipment type (`CV` conveyor, `SN` sorter, ...). The
  parser does not check prefixes or codes against the catalog; that is the message's job.
- unit: 1-99, written with or without a leading zero (`CV7` and `CV07` are the same unit).
- code: a letter and three digits (`E217`).
- KEY=value: KEY is 1-8 letters; value is an unsigned integer or decimal (`85`, `2.5`).
  Values are kept as the exact digit strings typed (`85.0` stays `85.0`, `085` stays `085`),
  because the model copies them digit by digit. Parameters are separated by spaces (commas
  are accepted too); a key may appear once per record.

Case and extra spaces do not matter (`cv 7 : e217  t = 85` is valid), and one trailing `;`
is allowed. The canonical spelling is upper case, a two-digit unit, one space between
parameters and `; ` between records: `CV07:E217 T=85; SN02:W301 N=12`. Messages name the
unit as a plain number ("Conveyor 7"), see `FaultRecord.unit`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

MAX_RECORDS = 4  # records per line
MIN_UNIT = 1
MAX_UNIT = 99
PREFIX_LENGTH = 2
MAX_KEY_LENGTH = 8

RECORD_SEPARATOR = "; "  # canonical separator between records


class FaultLineError(ValueError):
    """A line that looks like fault records but breaks the grammar; the message says where."""


@dataclasses.dataclass(frozen=True)
class FaultRecord:
    """One parsed record of a fault line.

    Attributes:
        prefix: equipment prefix in upper case, e.g. "CV".
        unit: unit number 1-99, e.g. 7 for "CV07" or "CV7".
        code: fault code in upper case, e.g. "E217".
        params: (KEY, value) pairs in input order; KEY in upper case, value exactly as typed.
    """

    prefix: str
    unit: int
    code: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """The canonical unit label, e.g. "CV07"."""
        return f"{self.prefix}{self.unit:02d}"

    def param(self, key: str) -> str | None:
        """The value typed for `key` (any case), or None."""
        key = key.upper()
        return next((value for name, value in self.params if name == key), None)

    def format(self) -> str:
        """The canonical spelling, e.g. "CV07:E217 T=85"."""
        parts = [f"{self.label}:{self.code}"]
        parts.extend(f"{key}={value}" for key, value in self.params)
        return " ".join(parts)


def parse_line(text: str) -> tuple[FaultRecord, ...]:
    """Parses a fault line into its records.

    Args:
        text: e.g. "CV07:E217 T=85; sn2:w301 n=12".

    Returns:
        The records in input order (1 to `MAX_RECORDS`).

    Raises:
        FaultLineError: (a ValueError) naming the record and what is wrong, e.g.
            "record 2 'SN02 W301': missing ':' between unit and code (expected e.g. 'CV07:E217')".
    """
    if not text.strip():
        raise FaultLineError("empty line: expected records like 'CV07:E217 T=85'")
    parts = text.split(";")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # one trailing ';' is allowed
    if len(parts) > MAX_RECORDS:
        raise FaultLineError(f"{len(parts)} records in one line; at most {MAX_RECORDS} are allowed")
    return tuple(parse_record(part, position) for position, part in enumerate(parts, start=1))


def parse_record(text: str, position: int = 1) -> FaultRecord:
    """Parses one record such as "CV07:E217 T=85".

    Args:
        text: the record, without `;`.
        position: its 1-based place in the line, used in error messages.

    Raises:
        FaultLineError: what is wrong with the record.
    """
    body = text.strip()
    if not body:
        raise FaultLineError(f"record {position} is empty")
    where = f"record {position} {body!r}"
    head, colon, tail = body.partition(":")
    if not colon:
        raise FaultLineError(
            f"{where}: missing ':' between unit and code (expected e.g. 'CV07:E217')"
        )
    prefix, unit = _parse_unit(head.strip(), where)
    tokens = _EQUALS_SPACES.sub("=", tail).replace(",", " ").split()
    if not tokens:
        raise FaultLineError(f"{where}: missing fault code after ':' (expected e.g. 'E217')")
    code = tokens[0]
    if not _CODE.fullmatch(code):
        raise FaultLineError(
            f"{where}: {code!r} is not a fault code (expected a letter and three digits, "
            "e.g. 'E217')"
        )
    params = _parse_params(tokens[1:], where)
    return FaultRecord(prefix=prefix, unit=unit, code=code.upper(), params=params)


def format_line(records: Iterable[FaultRecord]) -> str:
    """The canonical spelling of a line: "CV07:E217 T=85; SN02:W301 N=12"."""
    return RECORD_SEPARATOR.join(record.format() for record in records)


def canonicalize(text: str) -> str:
    """Parses `text` and writes it back canonically (raises FaultLineError if malformed)."""
    return format_line(parse_line(text))


def looks_like_fault_line(text: str) -> bool:
    """A cheap test for "the user meant to type fault records".

    True when the text starts like a record: two letters and a unit number followed by
    `:` and a letter with a digit ("CV07:E2...", "cv 7 : e217"), or by a space and a full
    code ("CV07 E217", a record missing its colon). The line may still be malformed:
    `parse_line` then says why. Questions ("what does E217 mean?") and chat are False.
    """
    return bool(_LOOKS_WITH_COLON.match(text) or _LOOKS_WITHOUT_COLON.match(text))


_UNIT = re.compile(r"([A-Za-z]+)\s*([0-9]+)")
_CODE = re.compile(r"[A-Za-z][0-9]{3}")
_KEY = re.compile(rf"[A-Za-z]{{1,{MAX_KEY_LENGTH}}}")
_VALUE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_EQUALS_SPACES = re.compile(r"\s*=\s*")
_LOOKS_WITH_COLON = re.compile(r"\s*[A-Za-z]{2}\s?[0-9]{1,3}\s*:\s*[A-Za-z][0-9]")
_LOOKS_WITHOUT_COLON = re.compile(r"\s*[A-Za-z]{2}[0-9]{1,3}\s+[A-Za-z][0-9]{3}(?![0-9A-Za-z])")


def _parse_unit(head: str, where: str) -> tuple[str, int]:
    match = _UNIT.fullmatch(head)
    if not match:
        raise FaultLineError(
            f"{where}: {head!r} is not an equipment unit (expected two letters and a unit "
            "number, e.g. 'CV07')"
        )
    prefix, digits = match.groups()
    if len(prefix) != PREFIX_LENGTH:
        raise FaultLineError(
            f"{where}: equipment prefix {prefix!r} must be {PREFIX_LENGTH} letters, e.g. 'CV'"
        )
    unit = int(digits)
    if len(digits) > 2 or not MIN_UNIT <= unit <= MAX_UNIT:
        raise FaultLineError(f"{where}: unit {digits} is out of range {MIN_UNIT}-{MAX_UNIT}")
    return prefix.upper(), unit


def _parse_params(tokens: list[str], where: str) -> tuple[tuple[str, str], ...]:
    params: list[tuple[str, str]] = []
    seen: set[str] = set()
    for token in tokens:
        key, equals, value = token.partition("=")
        if not equals or not key:
            raise FaultLineError(f"{where}: parameter {token!r} is not KEY=value, e.g. 'T=85'")
        if not _KEY.fullmatch(key):
            raise FaultLineError(
                f"{where}: parameter name {key!r} must be 1-{MAX_KEY_LENGTH} letters"
            )
        key = key.upper()
        if not value:
            raise FaultLineError(f"{where}: parameter {key} has no value")
        if not _VALUE.fullmatch(value):
            raise FaultLineError(
                f"{where}: value {value!r} of {key} is not a number (expected e.g. 85 or 2.5)"
            )
        if key in seen:
            raise FaultLineError(f"{where}: parameter {key} is given twice")
        seen.add(key)
        params.append((key, value))
    return tuple(params)
