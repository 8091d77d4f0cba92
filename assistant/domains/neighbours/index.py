"""The nearest train pair of a source, by comparing the bytes of the sources.

A model trained on pairs of its own (codes and their names, part numbers and their
descriptions) can only guess a reply it never saw. Its nearest train pair is a good first
draft: `U+26AA` is `MEDIUM WHITE CIRCLE` and its neighbour `U+26AB` is `MEDIUM BLACK
CIRCLE`. A model that reads the draft after its source (`read`) and copies from it (copy
attention) edits the draft instead of guessing (retrieve and edit: Hashimoto et al. 2018;
Bulte and Tezcan 2019, "Neural Fuzzy Repair").

Nearness compares the first `KEY_BYTES` UTF-8 bytes of two sources, for short code-like
sources, by in turn:
1. the longest common prefix (longer is nearer);
2. the difference of their lengths in bytes, capped at `LENGTH_CAP` (smaller is nearer);
3. the difference of their first differing bytes (smaller is nearer: `U+26AA` is nearer
   `U+26AB` than `U+26AF`);
4. the order of the index (earlier is nearer), which is sorted by source.
A train source equal to the query is never its neighbour: a train pair is read with
another pair, as a new input will be. The export computes the same in its graph
(`assistant.domains.neighbours.graph`); both use `scores` on byte arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.core.tokenizer import normalize_source

KEY_BYTES = 32  # bytes of a source compared; the rest do not count
LENGTH_CAP = 1023  # length differences above this count as this
# score = prefix * PREFIX_WEIGHT - length difference * LENGTH_WEIGHT - byte difference
PREFIX_WEIGHT = 1 << 20
LENGTH_WEIGHT = 1 << 10
SAME_SOURCE = -(1 << 30)  # the score of a train source equal to the query: never chosen
DRAFT_MARK = " ~ "  # between a source and its neighbour's source
REPLY_MARK = " : "  # between the neighbour's source and its target
_CHUNK = 64  # queries scored at once (bounds the (queries, keys, bytes) arrays)


class NeighboursFileError(ValueError):
    """A neighbours file is missing or not valid."""


@dataclasses.dataclass(frozen=True)
class NeighbourIndex:
    """Train pairs, sorted by source, to find a source's nearest pair in.

    Attributes:
        sources: the train sources as the model reads them (`normalize_source`: stripped,
            and upper-cased with `case="upper"`), sorted; duplicates kept once, with their
            first target.
        targets: the target of each source.
        case: the model's `source_case`, which texts are written in before the search.
    """

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    case: str = "keep"  # the model's `source_case`: sources and texts compared so written

    def __post_init__(self) -> None:
        if list(self.sources) != sorted(set(self.sources)) or len(self.targets) != len(
                self.sources):
            raise ValueError("an index holds each source once, sorted, with one target each "
                             "(use NeighbourIndex.from_pairs)")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], case: str = "keep") -> NeighbourIndex:
        """The index of (source, target) pairs; of a source given twice the first target."""
        first: dict[str, str] = {}
        for source, target in pairs:
            first.setdefault(normalize_source(source, case), target)
        ordered = sorted(first)
        return cls(tuple(ordered), tuple(first[source] for source in ordered), case)

    @classmethod
    def load(cls, path: str | os.PathLike, case: str = "keep") -> NeighbourIndex:
        """Reads a JSON-lines file of {"source": ..., "target": ...} objects (`save`).

        Raises:
            NeighboursFileError: one line naming the file and what is wrong.
        """
        path = Path(path)
        try:
            # "\n" only: a text may hold U+2028 and the other breaks `splitlines` knows
            lines = path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise NeighboursFileError(f"{path}: cannot read ({type(error).__name__})") from None
        pairs = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                pairs.append((entry["source"], entry["target"]))
            except (ValueError, KeyError, TypeError):
                raise NeighboursFileError(f"{path}:{number}: not a {{\"source\", \"target\"}} "
                                  "object") from None
            if not all(isinstance(text, str) for text in pairs[-1]):
                raise NeighboursFileError(f"{path}:{number}: source and target must be text")
        return cls.from_pairs(pairs, case)

    def to_jsonl(self) -> str:
        """The index as `load` reads it."""
        return "".join(json.dumps({"source": s, "target": t}, ensure_ascii=False) + "\n"
                       for s, t in zip(self.sources, self.targets, strict=True))

    def nearest(self, queries: Sequence[str]) -> list[int | None]:
        """The index of each query's nearest other source, or None when there is none."""
        if not self.sources:
            return [None] * len(queries)
        keys, key_lengths = self._keys
        position = self._positions
        chosen: list[int | None] = []
        for start in range(0, len(queries), _CHUNK):
            part = queries[start:start + _CHUNK]
            rows, lengths = byte_rows(part)
            score = scores(rows, lengths, keys, key_lengths)  # (chunk, keys)
            for i, query in enumerate(part):
                if query in position:
                    score[i, position[query]] = SAME_SOURCE
            best = score.argmax(axis=1)
            chosen += [None if score[i, j] == SAME_SOURCE else int(j) for i, j in enumerate(best)]
        return chosen

    @functools.cached_property
    def _keys(self) -> tuple[np.ndarray, np.ndarray]:
        return byte_rows(self.sources)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {source: i for i, source in enumerate(self.sources)}

    def read(self, texts: Sequence[str]) -> list[str]:
        """Each text as the model reads it: normalized (`normalize_source` in the index's
        case) and followed by its nearest pair (`draft`), or alone when it is empty or the
        index has no other source."""
        return [text if j is None else draft(text, self.sources[j], self.targets[j])
                for text, j in self._neighbours(texts)]

    def replies(self, texts: Sequence[str]) -> list[str | None]:
        """The target of each text's nearest pair, as `read` finds it (None where `read`
        writes the text alone)."""
        return [None if j is None else self.targets[j] for _, j in self._neighbours(texts)]

    def _neighbours(self, texts: Sequence[str]) -> list[tuple[str, int | None]]:
        """Each text normalized, with its nearest pair's index (None: empty, or none)."""
        stripped = [normalize_source(text, self.case) for text in texts]
        return [(text, j if text else None)
                for text, j in zip(stripped, self.nearest(stripped), strict=True)]


def draft(text: str, source: str, target: str) -> str:
    """A text followed by a neighbour's source and target."""
    return f"{text}{DRAFT_MARK}{source}{REPLY_MARK}{target}"


def byte_rows(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (texts, KEY_BYTES): the first bytes, zero-padded; int32 (texts,): the byte
    lengths, whole)."""
    rows = np.zeros((len(texts), KEY_BYTES), np.uint8)
    lengths = np.zeros(len(texts), np.int32)
    for i, text in enumerate(texts):
        data = text.encode("utf-8", "surrogateescape")
        lengths[i] = len(data)
        data = data[:KEY_BYTES]
        rows[i, :len(data)] = np.frombuffer(data, np.uint8)
    return rows, lengths


def scores(rows: np.ndarray, lengths: np.ndarray, keys: np.ndarray,
           key_lengths: np.ndarray) -> np.ndarray:
    """int32 (queries, keys): how near each key is each query (higher is nearer), without
    the same-source rule. The graph computes the same with TensorFlow ops."""
    compared = np.minimum(np.minimum(lengths, KEY_BYTES)[:, None],
                          np.minimum(key_lengths, KEY_BYTES)[None, :])  # (queries, keys)
    differ = rows[:, None, :] != keys[None, :, :]  # (queries, keys, KEY_BYTES)
    differ |= np.arange(KEY_BYTES)[None, None, :] >= compared[:, :, None]
    differ = np.concatenate([differ, np.ones((*differ.shape[:2], 1), bool)], axis=2)
    prefix = differ.argmax(axis=2).astype(np.int32)  # (queries, keys)
    at = np.minimum(prefix, KEY_BYTES - 1)  # (queries, keys): the first differing byte
    query_byte = rows[np.arange(len(rows))[:, None], at].astype(np.int32)
    key_byte = keys[np.arange(len(keys))[None, :], at].astype(np.int32)
    gap = np.where(prefix < KEY_BYTES, np.abs(query_byte - key_byte), 0)
    length_gap = np.minimum(np.abs(lengths[:, None] - key_lengths[None, :]), LENGTH_CAP)
    return (prefix * PREFIX_WEIGHT - length_gap * LENGTH_WEIGHT - gap).astype(np.int32)
