"""`convert`'s formats: plain lines, CSV, TSV and JSON Lines; records and their readers.

Readers turn a binary stream into `Record`s one at a time (never the whole file); writers
(`writers`) write one output record per input record. The rules, as CSV and JSON Lines
users expect them:

- Input is UTF-8, or UTF-16/UTF-32 when it starts with their byte-order mark (BOM); a UTF-8
  BOM is dropped (`assistant.cli.convert.lines`). A line with bytes that are not valid in the
  encoding is decoded with U+FFFD replacements, answered anyway, and flagged.
- txt: one record per line (`\\n` or `\\r\\n`); an empty line is a record (flagged later as
  empty input), so output line N always answers input line N.
- csv / tsv: a header row is required. Quoting follows Python's `csv` excel dialect (tsv:
  excel-tab), so quoted fields may hold the delimiter, quotes and newlines. A row that breaks
  the quoting rules is kept and flagged ("malformed CSV: ..."), its raw text in the text
  column; a row with too few fields is padded and flagged; one with too many is cut to the
  header's width and flagged. A blank line is a record with empty fields. A field may hold
  up to `MAX_FIELD_CHARS` characters (a text over the model's limit is flagged later).
- jsonl: one JSON object per line. A line that is not valid JSON, or not an object, is kept
  as `{"raw": "<the line>"}` and flagged; so is a blank line. `NaN`, `Infinity` and numbers
  too large for a float are not JSON: they become null (flagged), so the output stays JSON.
  A text with a lone surrogate escape (`"\\udcff"`) is answered with U+FFFD in its place
  (flagged); the object is written back with the escape.
- The text to answer is the `--column` (csv, tsv) or `--field` (jsonl): by default the first
  of `source`, `text`, `input` present (in the header, or in the first JSON object), or the
  only column of a one-column CSV. For txt input the name only labels the input column of a
  csv/tsv/jsonl output (default `source`).

Output: txt gets the reply alone on one line (line breaks in it become spaces; a record with
no reply gets an empty line). csv/tsv get the input columns plus `reply`, `score`, `flags`
(flags joined by "; "; the columns are overwritten in place if the input has them already,
so a converted file can be converted again); `\\n` line ends, a BOM only if the input had
one. jsonl gets the input object plus `reply`, `score` (null when there is none), `flags`
(a list), and `alternatives` (the n-best list) when more than one was asked for. Across
formats, txt and jsonl input written as csv/tsv hold the text column only.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from assistant.cli.convert.lines import EncodingError, Lines

FORMATS = ("txt", "csv", "tsv", "jsonl")
EXTENSIONS = {".txt": "txt", ".text": "txt", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
              ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Extensions that look like something we read but are not; refused with a hint.
REFUSED_EXTENSIONS = {
    ".json": "a .json file is not JSON Lines; rename it .jsonl or give --format jsonl",
    ".gz": "compressed input is not read; decompress it or pipe it: zcat FILE | ... convert -",
    ".bz2": "compressed input is not read; decompress it or pipe it to convert -",
    ".xz": "compressed input is not read; decompress it or pipe it to convert -",
    ".zip": "compressed input is not read; decompress it first",
    ".xlsx": "spreadsheets are not read; save the sheet as CSV (UTF-8)",
    ".xls": "spreadsheets are not read; save the sheet as CSV (UTF-8)",
}
DEFAULT_COLUMNS = ("source", "text", "input")  # the first present is answered by default
OUTPUT_KEYS = ("reply", "score", "flags")
RAW_KEY = "raw"  # holds the line of a JSON Lines record that is not a JSON object
FLAG_SEPARATOR = "; "  # between flags in one csv/tsv field and in stderr reports
INVALID_UTF8 = "invalid UTF-8 (bytes replaced by U+FFFD)"
BOM = "\ufeff"
# Python's csv default is 131,072; a longer field is valid CSV. This bound only keeps an
# unterminated quote from reading a whole large file into one field.
MAX_FIELD_CHARS = 64 * 1024 * 1024


class FormatError(ValueError):
    """The input cannot be read at all (no header, unknown column); one line."""


@dataclasses.dataclass
class Record:
    """One input record.

    Attributes:
        number: 1-based position among the records.
        line: the 1-based line of the input where the record starts.
        text: what to answer; None when there is nothing to answer (missing column,
            invalid JSON).
        problems: what was wrong while reading it; the record is flagged with these.
        row: csv/tsv fields, exactly as many as the header has.
        obj: the JSON object of a jsonl record.
        raw: the line of a jsonl record that is not a JSON object.
    """

    number: int
    line: int
    text: str | None
    problems: tuple[str, ...] = ()
    row: list[str] | None = None
    obj: dict[str, Any] | None = None
    raw: str | None = None


@dataclasses.dataclass(frozen=True)
class Result:
    """What is written for one record: the reply (empty if none), its score and flags."""

    reply: str
    score: float | None
    flags: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()  # (text, score), best first


def format_from_path(path: str | Path) -> str | None:
    """The format a file name implies, or None for an unknown (or no) extension.

    Raises:
        FormatError: the extension names a format that is refused (.json, .gz, .xlsx, ...).
    """
    suffix = Path(path).suffix.lower()
    if suffix in REFUSED_EXTENSIONS:
        raise FormatError(f"{path}: {REFUSED_EXTENSIONS[suffix]}")
    return EXTENSIONS.get(suffix)


def open_reader(fmt: str, stream: IO[bytes], column: str | None = None) -> Reader:
    """A record reader of format `fmt` over a binary stream; reads the header (csv, tsv) or the
    first line (jsonl) at once to choose the text column.

    Raises:
        FormatError: no header row, or `column` is not in it, or no default column fits.
    """
    try:
        lines = Lines(stream)
    except EncodingError as error:
        raise FormatError(str(error)) from None
    if fmt == "txt":
        return TextReader(lines, column)
    if fmt in ("csv", "tsv"):
        return TableReader(lines, fmt, column)
    if fmt == "jsonl":
        return JsonlReader(lines, column)
    raise FormatError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


class Reader:
    """Iterates `Record`s. `column` is the text column, `header` the csv/tsv header (None for
    txt and jsonl), `bytes_read` and `had_bom` describe the input read so far."""

    column: str
    header: list[str] | None = None

    def __init__(self, lines: Lines) -> None:
        self._lines = lines
        self._invalid = _invalid_encoding(lines.encoding)

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    @property
    def had_bom(self) -> bool:
        return self._lines.had_bom

    def __iter__(self) -> Iterator[Record]:
        raise NotImplementedError


class TextReader(Reader):
    """One record per line."""

    def __init__(self, lines: Lines, column: str | None) -> None:
        super().__init__(lines)
        self.column = column or DEFAULT_COLUMNS[0]

    def __iter__(self) -> Iterator[Record]:
        for number, (text, valid) in enumerate(self._lines, start=1):
            problems = () if valid else (self._invalid,)
            yield Record(number, number, _strip_newline(text), problems)


class TableReader(Reader):
    """CSV (excel dialect) or TSV (excel-tab dialect) with a header row."""

    def __init__(self, lines: Lines, fmt: str, column: str | None) -> None:
        super().__init__(lines)
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
        self.name = fmt.upper()
        self._pending: list[tuple[str, bool]] = []  # lines read for the current row
        self._rows = csv.reader(self._feed(), dialect="excel-tab" if fmt == "tsv" else "excel",
                                strict=True)
        try:
            header = next(self._rows)
        except StopIteration:
            raise FormatError(f"empty input: a {self.name} file needs a header row") from None
        except csv.Error as error:
            raise FormatError(f"malformed {self.name} header row: {error}") from None
        self._pending.clear()
        self.header = header
        self.column = _choose_column(column, header, "column")
        self._index = header.index(self.column)

    def __iter__(self) -> Iterator[Record]:
        width = len(self.header)
        number = 0
        while True:
            error = None
            try:
                row = next(self._rows)
            except StopIteration:
                return
            except csv.Error as exc:
                error, row = exc, None
            number += 1
            pending, self._pending = self._pending, []
            line = self._lines.number - len(pending) + 1
            problems = [] if all(valid for _, valid in pending) else [self._invalid]
            if row is None:
                problems.append(_csv_problem(self.name, error))
                values = [""] * width
                values[self._index] = _strip_newline("".join(text for text, _ in pending))
                yield Record(number, line, None, tuple(problems), row=values)
                continue
            if row and len(row) != width:
                extra = " (extra fields dropped)" if len(row) > width else ""
                problems.append(f"row has {len(row)} fields, the header has {width}{extra}")
            if not row:  # a blank line: a record whose fields are all empty
                text = ""
            elif self._index < len(row):
                text = row[self._index]
            else:
                text = None
                problems.append(f"missing column {self.column!r}")
            values = (row + [""] * width)[:width]
            yield Record(number, line, text, tuple(problems), row=values)

    def _feed(self) -> Iterator[str]:
        for text, valid in self._lines:
            self._pending.append((text, valid))
            yield text


class JsonlReader(Reader):
    """One JSON object per line."""

    def __init__(self, lines: Lines, field: str | None) -> None:
        super().__init__(lines)
        self._iter = iter(lines)
        self._first = next(self._iter, None)
        first = _parse_json(self._first[0]) if self._first is not None else None
        if field is None and isinstance(first, dict):
            field = _choose_column(None, list(first), "field", where="line 1")
        self.column = field or DEFAULT_COLUMNS[0]

    def __iter__(self) -> Iterator[Record]:
        if self._first is None:
            return
        pending = [self._first]
        self._first = None
        number = 0
        for text, valid in _chain(pending, self._iter):
            number += 1
            problems = [] if valid else [self._invalid]
            raw = _strip_newline(text)
            if not raw.strip():
                yield Record(number, number, None, (*problems, "empty line"), raw=raw)
                continue
            try:
                value, replaced = _loads(raw)
            except (ValueError, RecursionError) as error:
                problems.append(_json_problem(error))
                yield Record(number, number, None, tuple(problems), raw=raw)
                continue
            if not isinstance(value, dict):
                problems.append(f"not a JSON object but {_json_type(value)}")
                yield Record(number, number, None, tuple(problems), raw=raw)
                continue
            if replaced:
                problems.append(f"not JSON: {', '.join(replaced)} (read as null)")
            text_value, problem = self._text(value)
            if problem:
                problems.append(problem)
            yield Record(number, number, text_value, tuple(problems), obj=value)

    def _text(self, value: dict[str, Any]) -> tuple[str | None, str | None]:
        """The text to answer of an object, and what is wrong with it (or None)."""
        text = value.get(self.column)
        if self.column not in value:
            return None, f"missing field {self.column!r}"
        if not isinstance(text, str):
            return None, f"field {self.column!r} is {_json_type(text)}, not a string"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape: no text can hold it
            fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return fixed, f"field {self.column!r} has a lone surrogate (replaced by U+FFFD)"
        return text, None


def _choose_column(column: str | None, names: list[str], kind: str, where: str = "header") -> str:
    if column is not None:
        if column not in names:
            raise FormatError(f"no {kind} {column!r} in the {where} (found: {_listing(names)})")
        return column
    for name in DEFAULT_COLUMNS:
        if name in names:
            return name
    if len(names) == 1 and kind == "column":
        return names[0]
    choices = ", ".join(repr(name) for name in DEFAULT_COLUMNS)
    raise FormatError(f"no {choices} {kind} in the {where}; choose one with --{kind} "
                      f"(found: {_listing(names)})")


def _listing(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") or "none"


def _parse_json(text: str) -> Any:
    try:
        return _loads(text)[0]
    except (ValueError, RecursionError):
        return None


def _loads(text: str) -> tuple[Any, list[str]]:
    """The JSON value of `text`, and the non-JSON numbers (NaN, Infinity, 1e999) in it,
    which are read as None."""
    replaced: list[str] = []

    def constant(name: str) -> None:
        replaced.append(name)

    def number(literal: str) -> float | None:
        value = float(literal)
        if math.isfinite(value):
            return value
        replaced.append(literal)
        return None

    return json.loads(text, parse_constant=constant, parse_float=number), replaced


def _json_problem(error: ValueError | RecursionError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error.msg.removesuffix(' at')} at column {error.colno}"
    if isinstance(error, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {str(error).split(';')[0]}"  # e.g. an integer of 5,000 digits


def _csv_problem(name: str, error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return (f"a field over {MAX_FIELD_CHARS:,} characters (not read); check the {name} "
                "for an unterminated quote")
    return f"malformed {name}: {error}"


def _invalid_encoding(encoding: str) -> str:
    if encoding == "utf-8":
        return INVALID_UTF8
    label = encoding.upper().rsplit("-", 1)[0]  # "utf-16-le" -> "UTF-16"
    return f"invalid {label} (bytes replaced by U+FFFD)"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
