"""Ready transforms: `AnswerRecords` answers `convert`'s records with RunInference, and
`ConvertFiles` converts files end to end, as `python -m assistant convert --runner` does.

    handler = AssistantModelHandler("gs://bucket/bundles/warehouse", options={"beam_width": 8})
    pipeline | ConvertFiles("gs://bucket/logs/*.txt", "gs://bucket/out/replies.jsonl", handler)

Every input record gets exactly one output record, as `convert` writes it in JSON Lines (the
input object, or `{"source": text}` for txt, plus reply, score and flags), with two keys more:
`input_file` (the path it was read from) and `line_number` (its 1-based line there). The rules
for what is flagged are `convert`'s (`assistant.cli.convert.pipeline.record_result`): a record
with nothing to answer (no text, empty, over `MAX_INPUT_CHARS`) is flagged without reaching the
model; an answered one carries the reading problems, then the reply's error or the domain's
flags. A batch whose inference raised (a bug, not a bad input: `reply_batch` turns those into
error replies) is not retried forever nor dropped: RunInference's dead-letter output gives its
records back, each flagged `not answered: <the exception>`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from assistant.beam.files import ReadRecords, Row, WriteRows
from assistant.beam.handler import METRICS_NAMESPACE, AssistantModelHandler
from assistant.cli.convert.formats import DEFAULT_COLUMNS, Record, Result
from assistant.cli.convert.pipeline import input_problem, record_result
from assistant.cli.convert.writers import json_line, json_object

FILE_KEY = "input_file"  # the output key of the file a record was read from
LINE_KEY = "line_number"  # the output key of its 1-based line in that file
RECORDS_COUNTER, FLAGGED_COUNTER = "records", "flagged"  # in METRICS_NAMESPACE

Located = tuple[str, Record]  # a record and the path of its file
Answered = tuple[str, Record, Result]

_records = Metrics.counter(METRICS_NAMESPACE, RECORDS_COUNTER)
_flagged = Metrics.counter(METRICS_NAMESPACE, FLAGGED_COUNTER)


class AnswerRecords(beam.PTransform):
    """(file, Record) -> (file, Record, Result), exactly one per record, in no order.

    Counts every record and every flagged one (Beam counters `records` and `flagged` in
    `METRICS_NAMESPACE`).

    Args:
        handler: the model handler (batching, loading and options are its own).
        inference_args: options over the handler's for this transform's batches.
    """

    def __init__(
        self, handler: AssistantModelHandler, inference_args: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.handler, self.inference_args = handler, dict(inference_args or {})

    def expand(self, records):
        asked, skipped = records | "Route" >> beam.Partition(_route, 2)
        inference = RunInference(
            KeyedModelHandler(self.handler), inference_args=self.inference_args or None
        )
        answered, failed = (
            asked | "Text" >> beam.Map(_keyed) | "Answer" >> inference.with_exception_handling()
        )
        return (
            (
                answered | "Result" >> beam.MapTuple(_answered),
                failed.failed_inferences | "Failed" >> beam.FlatMap(_failed_batch),
                skipped | "Unanswered" >> beam.Map(_unanswered),
            )
            | "Merge" >> beam.Flatten()
            | "Count" >> beam.Map(_count)
        )


class ConvertFiles(beam.PTransform):
    """PBegin -> the files written: `pattern`'s records answered, as JSON Lines at `output`.

    Args:
        pattern: the input file or glob (any Beam file system).
        output: the output file (`num_shards=1`: in input order) or the shards' name.
        handler: the model handler.
        fmt: the input format, "txt" or "jsonl".
        column: the JSON Lines field to answer, or the key of a txt line's text.
        num_shards: 1: one file in input order; N: N shards; 0: the runner chooses.
    """

    def __init__(
        self,
        pattern: str,
        output: str,
        handler: AssistantModelHandler,
        fmt: str = "txt",
        column: str | None = None,
        num_shards: int = 1,
    ) -> None:
        super().__init__()
        self.pattern, self.output, self.handler = pattern, output, handler
        self.fmt, self.column, self.num_shards = fmt, column, num_shards

    def expand(self, pbegin):
        return (
            pbegin
            | "Read" >> ReadRecords(self.pattern, self.fmt, self.column)
            | "Answer" >> AnswerRecords(self.handler)
            | "Format" >> beam.Map(to_row, self.column or DEFAULT_COLUMNS[0])
            | "Write" >> WriteRows(self.output, self.num_shards)
        )


def to_row(answered: Answered, column: str) -> Row:
    """The output line of an answered record (convert's JSON Lines object plus its file and
    line number), keyed by its place in the input."""
    path, record, result = answered
    obj = json_object(record, result, column)
    obj[FILE_KEY] = path
    obj[LINE_KEY] = record.line
    return (path, record.number), json_line(obj)


def _route(item: Located, partitions: int) -> int:
    """0: the record goes to the model; 1: it has nothing the model could answer."""
    text = item[1].text
    return 0 if text is not None and input_problem(text) is None else 1


def _keyed(item: Located) -> tuple[Located, str]:
    """The record's text, keyed by the record (RunInference's KeyedModelHandler keeps it)."""
    return item, item[1].text


def _answered(item: Located, prediction: PredictionResult) -> Answered:
    path, record = item
    return path, record, record_result(record, prediction.inference)


def _unanswered(item: Located) -> Answered:
    path, record = item
    return path, record, record_result(record, None)


def _failed_batch(failure: tuple[list[tuple[Located, str]], tuple]) -> Iterator[Answered]:
    """Every record of a batch whose inference raised, flagged with the exception."""
    batch, (_, message, _) = failure
    for (path, record), _text in batch:
        yield path, record, Result("", None, (*record.problems, f"not answered: {message}"))


def _count(answered: Answered) -> Answered:
    _records.inc()
    if answered[2].flags:
        _flagged.inc()
    return answered
