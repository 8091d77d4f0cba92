"""Writers of `convert`'s output formats: one output record per input record."""

from __future__ import annotations

import csv
import json
import math
from typing import IO

from assistant.cli.convert.formats import (
    BOM,
    FLAG_SEPARATOR,
    FORMATS,
    OUTPUT_KEYS,
    RAW_KEY,
    Reader,
    Record,
    Result,
)


def open_writer(fmt: str, handle: IO[str], reader: Reader, bom: bool = False) -> Writer:
    """A writer of format `fmt` to a text handle opened with newline=""; csv/tsv write their
    header (and `bom`, if set) at once."""
    if fmt == "txt":
        return TextWriter(handle)
    if fmt in ("csv", "tsv"):
        return TableWriter(handle, fmt, reader, bom)
    if fmt == "jsonl":
        return JsonlWriter(handle, reader)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


class Writer:
    """Writes one output record per `write` call."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def write(self, record: Record, result: Result) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        self.handle.flush()


class TextWriter(Writer):
    """The reply alone on one line."""

    def write(self, record: Record, result: Result) -> None:
        self.handle.write(one_line(result.reply) + "\n")


class TableWriter(Writer):
    """The input columns (or the text column) plus reply, score and flags."""

    def __init__(self, handle: IO[str], fmt: str, reader: Reader, bom: bool = False) -> None:
        super().__init__(handle)
        self._column = reader.column
        header = list(reader.header) if reader.header is not None else [reader.column]
        self._width = len(header)
        header += [key for key in OUTPUT_KEYS if key not in header]
        self._positions = [header.index(key) for key in OUTPUT_KEYS]
        self._header_width = len(header)
        self._csv = csv.writer(handle, dialect="excel-tab" if fmt == "tsv" else "excel",
                               lineterminator="\n")
        if bom:
            handle.write(BOM)
        self._csv.writerow(header)

    def write(self, record: Record, result: Result) -> None:
        if record.row is not None:
            values = list(record.row)
        else:
            values = [record.text if record.text is not None else (record.raw or "")]
        values += [""] * (self._header_width - len(values))
        outputs = (result.reply, _format_score(result.score), FLAG_SEPARATOR.join(result.flags))
        for position, value in zip(self._positions, outputs, strict=True):
            values[position] = value
        self._csv.writerow(values)


class JsonlWriter(Writer):
    """The input object (or one made of the record) plus reply, score and flags."""

    def __init__(self, handle: IO[str], reader: Reader) -> None:
        super().__init__(handle)
        self._column = reader.column
        self._header = reader.header

    def write(self, record: Record, result: Result) -> None:
        obj = json_object(record, result, self._column, self._header)
        self.handle.write(json_line(obj) + "\n")


def json_object(record: Record, result: Result, column: str,
                header: list[str] | None = None) -> dict:
    """The JSON Lines output object of a record: the input object (or one made of the
    record: its `header` fields, its raw line, or its text under `column`) plus reply,
    score, flags and, with more than one, the alternatives."""
    if record.obj is not None:
        obj = dict(record.obj)
    elif record.row is not None and header is not None:
        obj = dict(zip(header, record.row, strict=True))
    elif record.raw is not None:
        obj = {RAW_KEY: record.raw}
    else:
        obj = {column: record.text}
    obj["reply"] = result.reply
    obj["score"] = _json_score(result.score)
    obj["flags"] = list(result.flags)
    if len(result.alternatives) > 1:
        obj["alternatives"] = [{"text": text, "score": _json_score(value)}
                               for text, value in result.alternatives]
    return obj


def json_line(obj: dict) -> str:
    """`obj` as one line of strict JSON: never NaN or Infinity (they become null), UTF-8
    text as is, and lone surrogates (which UTF-8 cannot hold) as escapes."""
    try:
        line = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a non-finite float: null, as the score of no reply
        line = json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(_finite(obj), allow_nan=False)
    return line


def one_line(text: str) -> str:
    """`text` with every line break (as `str.splitlines` sees them) replaced by a space."""
    return " ".join(text.splitlines()) if text else ""


def _json_score(score: float | None) -> float | None:
    return round(score, 4) if score is not None and math.isfinite(score) else None


def _finite(value):
    """`value` (JSON data) with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _format_score(score: float | None) -> str:
    return f"{score:.4f}" if score is not None and math.isfinite(score) else ""
