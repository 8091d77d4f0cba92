"""Batch conversion as a library: every record answered and written, in bounded memory.

`convert` reads records lazily, `window` at a time; each window goes to `reply_batch` (for
`Assistant.reply_batch`, which sorts it by length for padding-efficient batches and returns
input order) and is written before the next is read, so memory does not grow with the file.
The output has exactly one record per input record, in input order. It knows nothing of
tensors or of the command line (`assistant.cli.convert.command` is the command).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from assistant.cli.convert.formats import Record, Result
from assistant.cli.convert.writers import Writer

WINDOW_BATCHES = 16  # records read (and sorted by length) at a time = this x the batch size
DEFAULT_BATCH_SIZE = 64  # rows decoded together (the largest compiled batch bucket)
MAX_INPUT_CHARS = 4096  # 256 pieces x at most 16 characters per piece: surely too long
# Replies kept by convert's cache: a log's distinct records and lines. Its entries are slim
# (`ReplyCache(slim=True)`: no attention), so the bound holds about 60 MB; the chat's and the
# Python API's default (`cache.DEFAULT_CACHE_SIZE`) keeps full replies.
CONVERT_CACHE_SIZE = 16384
# Rows a decoded batch is padded to at least (`Assistant.min_batch_rows`): fewer compiled
# shapes, so memory stays flat over a long log (1M log lines: peak RSS 1,147 MB against
# 1,086 MB for 10k; with batches of 1-4 rows compiled too, 1,176 against 1,033).
CONVERT_MIN_BATCH_ROWS = 8


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a conversion did."""

    records: int
    flagged: int
    seconds: float
    cache_hits: int | None = None  # records answered by the reply cache; None: no cache
    cache_lookups: int = 0  # records looked up in it
    decoded_units: int = 0  # units (records of split lines, or whole inputs) still decoded

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        text = (f"{self.records:,} records, {self.flagged:,} flagged, {self.seconds:.2f} s, "
                f"{self.rate:,.1f} records/s")
        if self.cache_hits is None:
            return text
        return (f"{text}, cache {self.cache_hits:,} hits of {self.cache_lookups:,}, "
                f"{self.decoded_units:,} units decoded")


def convert(
    records: Iterable[Record],
    reply_batch: Callable[[list[str]], Sequence[Any]],
    writer: Writer,
    window: int = WINDOW_BATCHES * DEFAULT_BATCH_SIZE,
    on_flagged: Callable[[Record, Result], None] | None = None,
    on_window: Callable[[int], None] | None = None,
    contexts: Callable[[list[Record]], list[str | None]] | None = None,
) -> Summary:
    """Answers and writes every record, `window` records at a time, in input order.

    Args:
        records: the input records (read lazily).
        reply_batch: `texts -> replies` in the same order, e.g. a partial of
            `Assistant.reply_batch`; a reply has `text`, `score`, `flags`, `error` and
            `alternatives` (`assistant.runtime.assistant.Reply`).
        writer: where each record's `Result` goes.
        window: records per `reply_batch` call.
        on_flagged: called with each flagged record and its result.
        on_window: called with the number of records written so far after each window.
        contexts: `contexts(records) -> one context per record` (`contexts.RecordContexts`),
            passed to `reply_batch(texts, contexts=...)`; None: every record on its own.

    Returns:
        The counts and the seconds it took.
    """
    started = time.perf_counter()
    count = flagged = 0
    for chunk in _windows(records, window):
        asked = [record for record in chunk
                 if record.text is not None and input_problem(record.text) is None]
        texts = [record.text for record in asked]
        if not asked:
            replies = []
        elif contexts is None:
            replies = reply_batch(texts)
        else:
            replies = reply_batch(texts, contexts=contexts(asked))
        if len(replies) != len(asked):
            raise RuntimeError(f"reply_batch returned {len(replies)} replies for "
                               f"{len(asked)} texts")
        by_record = {id(record): reply for record, reply in zip(asked, replies, strict=True)}
        for record in chunk:
            result = record_result(record, by_record.get(id(record)))
            writer.write(record, result)
            if result.flags:
                flagged += 1
                if on_flagged is not None:
                    on_flagged(record, result)
        count += len(chunk)
        writer.flush()
        if on_window is not None:
            on_window(count)
    return Summary(count, flagged, time.perf_counter() - started)


def input_problem(text: str) -> str | None:
    """Why a record's text is not sent to the model (empty, far too long), or None."""
    if not text.strip():
        return "empty input"
    if len(text) > MAX_INPUT_CHARS:
        return f"input too long: {len(text):,} characters, the limit is {MAX_INPUT_CHARS:,}"
    return None


def record_result(record: Record, reply: Any | None) -> Result:
    """What is written for `record`: its reply (None: it was not answered) and every flag,
    the reading problems first."""
    flags = list(record.problems)
    if reply is None:
        if record.text is not None:
            flags.append(input_problem(record.text) or "not answered")
        return Result("", None, tuple(flags))
    if reply.error is not None:
        return Result("", None, (*flags, reply.error))
    alternatives = tuple((a.text, a.score) for a in getattr(reply, "alternatives", ()))
    return Result(reply.text, reply.score, (*flags, *reply.flags), alternatives)


def _windows(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
