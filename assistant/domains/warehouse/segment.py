"""Record segmentation: a fault line of several records is answered one record at a time.

The model writes one sentence per record and orders the sentences by severity. Decoding a
record on its own and ordering the sentences by the catalog is far more reliable than decoding
the whole line, where the model must plan the order and sometimes drops or merges a record
(the measurements are in `configs/warehouse_notes.md`).

Rules, shared by the Python runtime (`Assistant.reply_batch`) and the exported graph
(`graph_segment`, used by the export), which must compute the same thing:

- Records may be separated by ";" as the grammar writes them, or as operators and panels
  do: ",", "|", "/", "&", "+", " and ", tabs, new lines or plain spaces. Every such
  separator between the end of a record and the start of the next one (a unit then its
  code: `BOUNDARY_PATTERN`) is first rewritten to ";" (`mark_boundaries`).
- The line is segmented when, split at ";" (one trailing ";" allowed), it has 2 to
  `MAX_SEGMENTS` parts and every part fully matches `RECORD_PATTERN`: a unit in any of the
  spellings operators use ("CV07", "cv 7", "CV-07", "CV_07", "CV#7"), an optional ":" or
  "-", the code, then `KEY=value` parameters, a value optionally followed by its unit
  ("T=85C", "B=20 %"). Anything else (one record, a question, a malformed line, records
  named by equipment names) is decoded whole, as typed (the separators are not rewritten).
- Each part is decoded as typed, stripped of surrounding spaces.
- The sentences are joined with one space, ordered by the rank of the part's `record_key`
  in the bundle's record order (`RecordOrder`: most severe first), then by input order.
  A key the order does not list (unknown code, code not valid for that equipment, unknown
  prefix) takes the default rank.

The record order comes from the bundle's `record_order.json`, which the corpus builder
writes from the catalog; a bundle without it is never segmented.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant.domains.warehouse import faultcodes

# Patterns are written in the syntax Python's `re` and RE2 read alike. Python's `\s` matches
# every Unicode space and RE2's only ASCII ones: the export rewrites `\s` for RE2
# (`assistant.serving.re2.python_re`), so both read these patterns alike.
_UNIT = r"[A-Za-z]{2}\s*[-#_]?\s*0*[0-9]{1,2}"  # CV07, cv 7, CV-07, CV_07, CV#7
_CODE = r"\s*[:-]?\s*[A-Za-z][0-9]{3}"  # ":E217", " E217", "-E217", "E217"
_VALUE_UNIT = r"(?:\s?(?:%|°\s?[CcFf]?)|[A-Za-z]{1,3})"  # 85C, 85 °C, 20%, 19.66kg
_PARAM = (rf"(?:\s*,\s*|\s+)[A-Za-z]{{1,{faultcodes.MAX_KEY_LENGTH}}}\s*=\s*"
          rf"[0-9]+(?:\.[0-9]+)?{_VALUE_UNIT}?")
# One record as typed: unit, code, parameters separated by spaces or commas.
RECORD_PATTERN = rf"\s*{_UNIT}{_CODE}(?:{_PARAM})*[\s,]*"
# A separator other than ";" between the end of a record (its code's or a value's last digit,
# with the value's unit) and the next record's unit and code; `mark_boundaries` rewrites it
# to ";" with `BOUNDARY_REPLACEMENT`. The next record's start is matched (RE2 has no
# look-ahead) and written back. Only a digit ends a record, so "E601 and PL35:E710" never
# reads "and" as the end of a record.
BOUNDARY_PATTERN = (rf"([0-9]{_VALUE_UNIT}?)(?:\s*[,|/&+]\s*|\s+[Aa][Nn][Dd]\s+|\s+)"
                    rf"({_UNIT}{_CODE})")
BOUNDARY_REPLACEMENT = r"\1;\2"
# The record's "PREFIX:CODE" (upper-cased afterwards), as a regex replacement of a record.
KEY_PATTERN = r"^\s*([A-Za-z]{2})\s*[-#_]?\s*[0-9]+\s*[:-]?\s*([A-Za-z][0-9]{3}).*$"
KEY_REPLACEMENT = r"\1:\2"
# Records a line may be segmented into; a longer paste is decoded whole (and flagged when
# its reply misses records). A record takes at least 7 characters.
MAX_SEGMENTS = 256
RECORD_ORDER_FILE = "record_order.json"  # in data directories and bundles
LEGACY_FILE = "faithfulness.json"  # older bundles carry the order in this file's section:
RECORD_ORDER_KEY = "record_order"

_RECORD = re.compile(RECORD_PATTERN)
# a record in the canonical grammar, as a PLC writes it (`template`)
_CANONICAL_KEY = rf"[A-Za-z]{{1,{faultcodes.MAX_KEY_LENGTH}}}"
_CANONICAL_RECORD = re.compile(r"\s*(?P<prefix>[A-Z]{2})(?P<unit>[0-9]{1,3})"
                               r":(?P<code>[A-Z][0-9]{3})"
                               rf"(?P<params>(?: {_CANONICAL_KEY}=[0-9]+(?:\.[0-9]+)?)*)\s*")
_CANONICAL_PARAM = re.compile(rf" ({_CANONICAL_KEY})=([0-9]+(?:\.[0-9]+)?)")
_BOUNDARY = re.compile(BOUNDARY_PATTERN)
_KEY = re.compile(KEY_PATTERN, re.DOTALL)


def mark_boundaries(text: str) -> str:
    """`text` with every separator between two records rewritten to ";".

    One pass of the rewrite misses the boundary right after a record whose unit and code
    the previous match took (the matches of one pass do not overlap); a second pass finds
    those, since two boundaries in a row are never both missed.
    """
    return _BOUNDARY.sub(BOUNDARY_REPLACEMENT, _BOUNDARY.sub(BOUNDARY_REPLACEMENT, text))


def split_line(text: str) -> list[str] | None:
    """The records of a line to decode one by one, stripped, or None to decode it whole."""
    parts = mark_boundaries(text).split(";")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    if not 2 <= len(parts) <= MAX_SEGMENTS:
        return None
    if not all(_RECORD.fullmatch(part) for part in parts):
        return None
    return [part.strip() for part in parts]


def template(text: str) -> tuple[str, tuple[str, ...]] | None:
    """A canonical record ("CV07:E217 T=85 N=3") as ("CV07:E217 T=# N=#", ("85", "3")), or
    None: another spelling, no values, or a value that repeats the unit number or another
    value (a substitution could not tell them apart)."""
    match = _CANONICAL_RECORD.fullmatch(text)
    if match is None or not match.group("params"):
        return None
    pairs = _CANONICAL_PARAM.findall(match.group("params"))
    values = tuple(value for _, value in pairs)
    unit = match.group("unit")
    if len(set(values)) < len(values) or any(
            value.lstrip("0") in (unit, unit.lstrip("0")) for value in values):
        return None
    head = f"{match.group('prefix')}{unit}:{match.group('code')}"
    return " ".join([head, *(f"{name}=#" for name, _ in pairs)]), values


def record_key(record: str) -> str:
    """"CV:E217" for "cv07 : e217 T=85" or "cv-7 e217" (a part accepted by `split_line`)."""
    return _KEY.sub(KEY_REPLACEMENT, record).upper()


@dataclasses.dataclass(frozen=True)
class RecordOrder:
    """Sort ranks of records: `ranks` maps "PREFIX:CODE" to a rank (0 first)."""

    ranks: Mapping[str, int]
    default_rank: int  # for a key not in `ranks`

    def order(self, records: Sequence[str]) -> list[int]:
        """Indices of `records` in reply order: by rank, then input order."""
        ranks = [self.ranks.get(record_key(record), self.default_rank) for record in records]
        return sorted(range(len(records)), key=lambda i: (ranks[i], i))

    def to_json(self) -> dict:
        return {"ranks": dict(sorted(self.ranks.items())), "default_rank": self.default_rank}

    @classmethod
    def from_json(cls, entry: Mapping) -> RecordOrder:
        ranks = {str(key).upper(): int(rank) for key, rank in entry["ranks"].items()}
        return cls(ranks, int(entry["default_rank"]))


def load_record_order(bundle_dir: str | Path) -> RecordOrder | None:
    """The record order of a bundle or data directory, or None when it has none.

    It is `RECORD_ORDER_FILE`; bundles written before that file existed carry it as the
    "record_order" section of `faithfulness.json`.

    Raises:
        ValueError: the file or section exists but is not valid (one line).
    """
    directory = Path(bundle_dir)
    path = directory / RECORD_ORDER_FILE
    try:
        if path.is_file():
            return RecordOrder.from_json(json.loads(path.read_text(encoding="utf-8")))
        path = directory / LEGACY_FILE
        if not path.is_file():
            return None
        settings = json.loads(path.read_text(encoding="utf-8"))
        if RECORD_ORDER_KEY not in settings:
            return None
        return RecordOrder.from_json(settings[RECORD_ORDER_KEY])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a valid record order ({error})") from None
