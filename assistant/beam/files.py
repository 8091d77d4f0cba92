"""`convert`'s records in a Beam pipeline: read with their file and line number, written as
one file in input order or as shards.

Reading (`ReadRecords`): Beam matches the file pattern (`fileio.MatchFiles`, any Beam file
system: local paths, gs://, s3://, ...) and opens each file (`fileio.ReadMatches`, a known
compression such as .gz by its extension); each file is then read from its first byte to its
last by `convert`'s own readers (`assistant.cli.convert.formats`), so a record gets its line
number, the encoding rules (byte-order marks, invalid UTF-8 answered and flagged) and the
format's flags exactly as `convert` gives them. That is why a file is not split between
workers: a split would not know its line numbers. Reading is cheap next to decoding, and a
`Reshuffle` spreads the records of a large file over every worker before they are answered.

Writing (`WriteRows`), rows keyed by (file, record number):

- `num_shards=1`: one file in input order (files in path order, then records). Rows are
  grouped in chunks of `CHUNK_RECORDS` consecutive records and sorted within each chunk, in
  parallel; one writer then appends the chunks in order, looking each up in a map side input
  (runners that support it read it by key, not whole), to a temporary file beside the target
  that replaces it when complete (a local target: `assistant.core.atomic_files`).
- otherwise Beam's `WriteToText` with that many shards (0: the runner chooses), named
  `PREFIX-SSSSS-of-NNNNN.jsonl` for `-o PREFIX.jsonl`; rows are in no order there, and each
  carries its file and line number.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.textio import WriteToText
from apache_beam.pvalue import AsList, AsMultiMap

from assistant.beam.handler import LOCAL_SCHEME
from assistant.cli.convert.formats import FormatError, Record, open_reader
from assistant.cli.convert.lines import InputError
from assistant.core.atomic_files import atomic_open

CHUNK_RECORDS = 4096  # consecutive records sorted together for an ordered single file

SortKey = tuple[str, int]  # (file, record number): the input order
Row = tuple[SortKey, str]  # an output line (without its newline) and where it belongs


class ReadRecords(beam.PTransform):
    """PBegin -> (file, Record) of every file `pattern` matches, each record once.

    Args:
        pattern: a file or glob, of any Beam file system.
        fmt: "txt" or "jsonl" (see `assistant.cli.convert.formats`).
        column: the JSON Lines field to answer (default: the first of source, text, input
            in each file's first object); for txt it only names the text's key.
    """

    def __init__(self, pattern: str, fmt: str = "txt", column: str | None = None) -> None:
        super().__init__()
        self.pattern, self.fmt, self.column = pattern, fmt, column

    def expand(self, pbegin):
        return (
            pbegin
            | "Match" >> fileio.MatchFiles(self.pattern)
            | "Open" >> fileio.ReadMatches()
            | "Read" >> beam.FlatMap(read_file, self.fmt, self.column)
            | "Spread" >> beam.Reshuffle()
        )


def read_file(
    readable: fileio.ReadableFile, fmt: str, column: str | None
) -> Iterator[tuple[str, Record]]:
    """The records of one matched file, in order, each with the file's path.

    Raises:
        ValueError: the file cannot be read at all, or a read failed (naming the file).
    """
    path = readable.metadata.path
    with readable.open() as stream:
        try:
            for record in open_reader(fmt, stream, column):
                yield path, record
        except FormatError as error:
            raise ValueError(f"{path}: {error}") from None
        except InputError as error:
            raise ValueError(f"{path}: {error}") from error


class WriteRows(beam.PTransform):
    """Rows -> the output file(s); a PCollection of the paths written (ordered: one).

    Args:
        output: the file to write (num_shards=1), else the shards' name: its extension,
            if any, ends each shard's name.
        num_shards: 1 for one file in input order, N for N shards, 0: the runner chooses.
    """

    def __init__(self, output: str, num_shards: int = 1) -> None:
        super().__init__()
        self.output, self.num_shards = output, num_shards

    def expand(self, rows):
        if self.num_shards != 1:
            prefix, suffix = posixpath.splitext(self.output)
            return (
                rows
                | "Lines" >> beam.Values()
                | "Shards"
                >> WriteToText(prefix, file_name_suffix=suffix, num_shards=self.num_shards)
            )
        chunks = (
            rows
            | "Chunk" >> beam.Map(_chunk_key)
            | "Group" >> beam.GroupByKey()
            | "Sort" >> beam.MapTuple(_sorted_text)
        )
        return (
            rows.pipeline
            | "Target" >> beam.Create([self.output])
            | "Write"
            >> beam.FlatMap(
                write_in_order,
                keys=AsList(chunks | "Keys" >> beam.Keys()),
                texts=AsMultiMap(chunks),
            )
        )


def write_in_order(
    output: str, keys: list[tuple[str, int]], texts: dict[tuple[str, int], list[str]]
) -> Iterator[str]:
    """Writes every chunk's text in key order to `output`, replacing it when complete;
    yields `output`."""
    ordered = sorted(keys)
    if FileSystems.get_scheme(output) is LOCAL_SCHEME:
        with atomic_open(output, "w", encoding="utf-8", newline="") as handle:
            for key in ordered:
                handle.writelines(texts[key])
    else:
        directory, name = FileSystems.split(output)
        partial = FileSystems.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        with FileSystems.create(partial) as handle:
            for key in ordered:
                for text in texts[key]:
                    handle.write(text.encode("utf-8"))
        FileSystems.rename([partial], [output])
    yield output


def _chunk_key(row: Row) -> tuple[tuple[str, int], Row]:
    (path, number), _ = row
    return (path, (number - 1) // CHUNK_RECORDS), row


def _sorted_text(key: tuple[str, int], rows: Iterable[Row]) -> tuple[tuple[str, int], str]:
    """The chunk's lines in record order, each ended by a newline."""
    return key, "".join(line + "\n" for _, line in sorted(rows, key=lambda row: row[0]))
