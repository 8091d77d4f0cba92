"""Catalog hints: what the catalog says of a record, written after it for the model to read.

A fault record's reply depends on two facts the model otherwise has to remember from
training: whether the catalog knows the record's code on its equipment (a valid code, a
code of other equipment, a code no equipment has, an equipment the catalog lacks) and which
of the record's `KEY=value` parameters the reply tells. A model trained with hints reads
them after the record, so it copies what the catalog says instead of recalling it:

    "SN41:E108 V=154 D=118"  ->  "SN41:E108 V=154 D=118 § OK V"
    "LF99:W311"              ->  "LF99:W311 § UNKNOWN CODE"

Only a unit that is one record as operators type it (`segment.RECORD_PATTERN`: a unit of a
split line, or a one-record line) gets a hint; anything else is read as typed. The hints
come from the bundle's `HINTS_FILE`, which the corpus builder writes from the catalog and
training copies into the bundle: a bundle without it (trained before hints) reads every
input as typed. The runtime (`WarehouseDomain.model_text`), training (the sources of a data
directory with the file) and the export (`graph_segment.HintAnnotator`, the same rules in
TensorFlow ops) all write the same text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path

from assistant.domains.warehouse import segment
from assistant.domains.warehouse.catalog import Catalog

HINTS_FILE = "record_hints.json"  # in data directories and bundles
MARK = "§"  # between a record and its hint; operators do not type it
VALID = "OK"  # followed by the catalog's parameter keys for the code, in catalog order
NOT_VALID = "NOT VALID"  # a catalog code, not on this equipment
UNKNOWN_CODE = "UNKNOWN CODE"  # a code of no equipment
UNKNOWN_EQUIPMENT = "NO EQUIPMENT"  # a prefix the catalog lacks

_RECORD = re.compile(segment.RECORD_PATTERN)
_KEY = re.compile(segment.KEY_PATTERN, re.DOTALL)


@dataclasses.dataclass(frozen=True)
class RecordHints:
    """The catalog facts hints are written from.

    Attributes:
        params: "PREFIX:CODE" of every code valid on its equipment -> the catalog's
            parameter keys of the code (upper case, catalog order; empty: none).
        codes: every code of the catalog.
        prefixes: every equipment prefix of the catalog.
    """

    params: Mapping[str, tuple[str, ...]]
    codes: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> RecordHints:
        params = {f"{prefix}:{code}": tuple(p.name.upper() for p in entry.params)
                  for code, entry in catalog.entries.items() for prefix in entry.equipment}
        return cls(params, frozenset(catalog.entries), frozenset(catalog.equipment))

    def hint(self, key: str) -> str:
        """The hint of a record whose `segment.record_key` is `key` ("SN:E108")."""
        prefix, _, code = key.upper().partition(":")
        if key.upper() in self.params:
            return " ".join([VALID, *self.params[key.upper()]])
        if prefix not in self.prefixes:
            return UNKNOWN_EQUIPMENT
        return NOT_VALID if code in self.codes else UNKNOWN_CODE

    def table(self) -> dict[str, str]:
        """The hint of every key of a catalog prefix and a catalog code (the export's
        lookup table; a key outside it has an unknown code or an unknown prefix)."""
        return {f"{prefix}:{code}": self.hint(f"{prefix}:{code}")
                for prefix in sorted(self.prefixes) for code in sorted(self.codes)}

    def annotate(self, text: str) -> str:
        """`text` stripped, with its hint after `MARK` when it is one record; else as is."""
        if not _RECORD.fullmatch(text):
            return text
        return f"{text.strip()} {MARK} {self.hint(_KEY.sub(segment.KEY_REPLACEMENT, text))}"

    def to_json(self) -> dict:
        return {"params": {key: list(keys) for key, keys in sorted(self.params.items())},
                "codes": sorted(self.codes), "prefixes": sorted(self.prefixes)}

    @classmethod
    def from_json(cls, entry: Mapping) -> RecordHints:
        params = {str(key).upper(): tuple(str(k).upper() for k in keys)
                  for key, keys in entry["params"].items()}
        return cls(params, frozenset(str(c).upper() for c in entry["codes"]),
                   frozenset(str(p).upper() for p in entry["prefixes"]))


def load_hints(bundle_dir: str | Path) -> RecordHints | None:
    """The hints of a bundle or data directory, or None when it has no `HINTS_FILE`.

    Raises:
        ValueError: the file exists but is not valid (one line).
    """
    path = Path(bundle_dir) / HINTS_FILE
    if not path.is_file():
        return None
    try:
        return RecordHints.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not valid record hints ({error})") from None
