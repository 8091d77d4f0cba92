"""`convert --context-column/--context-field`: each record answered in its ticket's context.

`convert` answers every record on its own. A ticket export often holds the ticket's earlier
message beside the one to answer; naming that column (csv, tsv: `--context-column`) or field
(jsonl: `--context-field`) answers each record as a follow-up said after it: the earlier
message goes through the bundle domain's `remember` (the warehouse keeps its fault line, or
the code and unit it named, in the form its corpus writes contexts) and the record's text
is answered with `reply_batch(texts, contexts=...)`. A record whose context is empty,
missing or not text is answered on its own, as without the option.

This module knows nothing of the convert command's other options; `command.py` wires it
(`add_arguments`, `context_name`, `RecordContexts`) and `pipeline.convert` calls it per
window.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from assistant.cli.args import UsageError

COLUMN_FORMATS = ("csv", "tsv")  # --context-column
FIELD_FORMATS = ("jsonl",)  # --context-field


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `--context-column` and `--context-field` to the `convert` parser."""
    parser.add_argument("--context-column", metavar="NAME",
                        help="csv/tsv: answer each row after the earlier message in this "
                             "column (a follow-up in its ticket's context); default: every "
                             "row on its own")
    parser.add_argument("--context-field", metavar="NAME",
                        help="jsonl: the same with this field of each object")


def context_name(args: argparse.Namespace, in_format: str) -> str | None:
    """The column or field that holds each record's context, or None.

    Raises:
        UsageError: one line: the option does not fit the input format, or both are given.
    """
    column = getattr(args, "context_column", None)
    field = getattr(args, "context_field", None)
    if column is not None and field is not None:
        raise UsageError("give --context-column (csv, tsv) or --context-field (jsonl), "
                         "not both")
    if column is not None and in_format not in COLUMN_FORMATS:
        raise UsageError(f"--context-column needs csv or tsv input, not {in_format} "
                         "(jsonl: --context-field)")
    if field is not None and in_format not in FIELD_FORMATS:
        raise UsageError(f"--context-field needs jsonl input, not {in_format} "
                         "(csv, tsv: --context-column)")
    name = column if column is not None else field
    if name is not None and not name.strip():
        raise UsageError("the context column or field name is empty")
    return name


class RecordContexts:
    """`contexts(record) -> context or None`: a record's context for `reply_batch`.

    Args:
        name: the context column (csv, tsv) or field (jsonl).
        header: the csv/tsv header row (`Reader.header`); None for jsonl.
        remember: `remember(context, text) -> context` of the bundle's domain
            (`Domain.remember`): the earlier message is read as the turn before.

    Raises:
        ValueError: one line: the header has no such column.
    """

    def __init__(self, name: str, header: Sequence[str] | None,
                 remember: Callable[[str, str], str]) -> None:
        self.name = name
        self.remember = remember
        self._index = None
        if header is not None:
            if name not in header:
                shown = ", ".join(repr(column) for column in list(header)[:10])
                raise ValueError(f"no context column {name!r} in the header (found: {shown})")
            self._index = list(header).index(name)

    def __call__(self, record: Any) -> str | None:
        if self._index is not None:
            row = getattr(record, "row", None) or []
            earlier = row[self._index] if self._index < len(row) else None
        else:
            earlier = (getattr(record, "obj", None) or {}).get(self.name)
        if not isinstance(earlier, str) or not earlier.strip():
            return None
        return self.remember("", earlier) or None

    def contexts(self, records: Sequence[Any]) -> list[str | None]:
        """The context of each record, in order."""
        return [self(record) for record in records]
