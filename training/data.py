"""Training pairs: reading TSV/JSONL files, the deterministic split, and tf.data pipelines."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.core import constants
from assistant.core.tokenizer import normalize_source

_SURROGATE = re.compile("[\ud800-\udfff]")


class DataError(ValueError):
    """A data file cannot be read; the message starts with `FILE:LINE:` where it can."""


@dataclasses.dataclass(frozen=True)
class Pair:
    """One training example."""

    source: str
    target: str
    category: str = ""  # e.g. "single", "prompt" (JSONL only); used by evaluation


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """Reads `source<TAB>target` lines (.tsv, .txt) or JSON objects (.jsonl, .json lines).

    Blank lines are skipped. JSONL objects need string fields "source" and "target" and
    may carry a string "category"; other fields are ignored.

    Raises:
        DataError: `FILE:LINE: what is wrong` for the first malformed row, or
            `FILE: ...` when the file cannot be read at all.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        parse = _parse_jsonl_line
    elif suffix in (".tsv", ".txt", ".tab"):
        parse = _parse_tsv_line
    else:
        raise DataError(f"{path}: unknown data format {suffix!r} (use .tsv or .jsonl)")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    pairs = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{path}:{number}: invalid UTF-8 at byte {error.start}") from None
        try:
            pairs.append(parse(text))
        except ValueError as error:
            raise DataError(f"{path}:{number}: {error}") from None
    if not pairs:
        raise DataError(f"{path}: no pairs found")
    return pairs


def split_pairs(
    pairs: Sequence[Pair], valid_fraction: float = 0.05, test_fraction: float = 0.05
) -> dict[str, list[Pair]]:
    """Splits by a hash of the source, so equal sources always land in the same split.

    Returns:
        {"train": [...], "valid": [...], "test": [...]} in input order within each split.
    """
    splits: dict[str, list[Pair]] = {"train": [], "valid": [], "test": []}
    for pair in pairs:
        digest = hashlib.sha256(pair.source.encode("utf-8")).digest()
        position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
        if position < test_fraction:
            splits["test"].append(pair)
        elif position < test_fraction + valid_fraction:
            splits["valid"].append(pair)
        else:
            splits["train"].append(pair)
    return splits


@dataclasses.dataclass
class EncodedPairs:
    """Token ids of a list of pairs, without BOS/EOS; lengths cut to the configured maxima."""

    sources: list[np.ndarray]
    targets: list[np.ndarray]
    truncated: int  # how many pairs had a side cut to the maximum length

    def __len__(self) -> int:
        return len(self.sources)

    def target_tokens(self) -> int:
        """Real target tokens per epoch: target pieces plus one EOS per pair."""
        return sum(len(t) + 1 for t in self.targets)


def encode_pairs(
    pairs: Iterable[Pair],
    tokenizer,
    max_source_length: int,
    max_target_length: int,
    source_case: str = "keep",
) -> EncodedPairs:
    """Tokenizes pairs; a target keeps room for its EOS within `max_target_length`.

    Sources are normalized as at inference (`assistant.core.tokenizer.normalize_source`).
    """
    pairs = list(pairs)
    source_ids = tokenizer.encode_batch([normalize_source(p.source, source_case) for p in pairs])
    target_ids = tokenizer.encode_batch([p.target for p in pairs])
    sources, targets, truncated = [], [], 0
    for source, target in zip(source_ids, target_ids, strict=True):
        if len(source) > max_source_length or len(target) > max_target_length - 1:
            truncated += 1
        sources.append(np.asarray(source[:max_source_length], dtype=np.int32))
        targets.append(np.asarray(target[: max_target_length - 1], dtype=np.int32))
    return EncodedPairs(sources, targets, truncated)


def make_batches(
    data: EncodedPairs, batch_size: int, seed: int | None, bucket_width: int = 4,
    pad_lengths: tuple[int, ...] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Groups pairs of similar length into padded batches (length bucketing).

    Pairs are sorted by (target length, source length) within buckets of `bucket_width`
    target tokens after a seeded shuffle, cut into batches, and the batches shuffled, so
    an epoch's order is a pure function of `seed` (None: no shuffling, for evaluation).
    Each batch is padded to its own longest sequence, or, with `pad_lengths`, its source
    and target lengths to the smallest of `pad_lengths` that holds them and its rows to
    `batch_size`: then every batch has one of a few shapes, and an XLA-compiled step
    compiles once per shape. Padding is masked out of the loss, so the loss is the same.

    Returns:
        A list of (source, target_in, target_out) int32 arrays: source (batch, src_len),
        target_in = BOS + target (batch, tgt_len), target_out = target + EOS (batch, tgt_len).
    """
    order = np.arange(len(data))
    rng = np.random.default_rng(seed) if seed is not None else None
    if rng is not None:
        rng.shuffle(order)
    target_lengths = np.array([len(t) for t in data.targets])
    source_lengths = np.array([len(s) for s in data.sources])
    keys = target_lengths[order] // bucket_width * 10_000 + source_lengths[order]
    order = order[np.argsort(keys, kind="stable")]
    batches = [
        _pad_batch(
            [data.sources[i] for i in order[start : start + batch_size]],
            [data.targets[i] for i in order[start : start + batch_size]],
            pad_lengths,
            batch_size,
        )
        for start in range(0, len(order), batch_size)
    ]
    if rng is not None:
        permutation = rng.permutation(len(batches))
        batches = [batches[i] for i in permutation]
    return batches


def _pad_batch(sources, targets, pad_lengths=None, batch_size: int = 0):
    batch = len(sources)
    source_len = max(len(s) for s in sources)
    target_len = max(len(t) for t in targets) + 1
    if pad_lengths:
        source_len, target_len = _padded(source_len, pad_lengths), _padded(target_len, pad_lengths)
        batch = max(batch, batch_size)
    source = np.full((batch, source_len), constants.PAD_ID, np.int32)
    target_in = np.full((batch, target_len), constants.PAD_ID, np.int32)
    target_out = np.full((batch, target_len), constants.PAD_ID, np.int32)
    for row, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        source[row, : len(src)] = src
        target_in[row, 0] = constants.BOS_ID
        target_in[row, 1 : len(tgt) + 1] = tgt
        target_out[row, : len(tgt)] = tgt
        target_out[row, len(tgt)] = constants.EOS_ID
    return source, target_in, target_out


def _parse_tsv_line(text: str) -> Pair:
    fields = text.split("\t")
    if len(fields) != 2:
        raise ValueError(f"expected 2 tab-separated fields (source, target), found {len(fields)}")
    return _checked_pair(fields[0], fields[1], "")


def _parse_jsonl_line(text: str) -> Pair:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON at column {error.colno}: {error.msg.removesuffix(' at')} "
                         "(each line must be one JSON object)") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    for key in ("source", "target"):
        if key not in record:
            raise ValueError(f"missing field {key!r}")
        if not isinstance(record[key], str):
            raise ValueError(f"field {key!r} must be a string, not {type(record[key]).__name__}")
    category = record.get("category", "")
    if not isinstance(category, str):
        raise ValueError("field 'category' must be a string")
    return _checked_pair(record["source"], record["target"], category)


def _checked_pair(source: str, target: str, category: str) -> Pair:
    if not source.strip():
        raise ValueError("empty source")
    if not target.strip():
        raise ValueError("empty target")
    for name, text in (("source", source), ("target", target)):
        if lone := _SURROGATE.search(text):  # a JSON "\ud800": UTF-8 cannot hold it
            raise ValueError(f"{name} holds a lone surrogate (U+{ord(lone.group()):04X} at "
                             f"character {lone.start()}), which is not Unicode text")
    return Pair(source.strip(), target.strip(), category)


def _padded(length: int, pad_lengths: tuple[int, ...]) -> int:
    """The smallest of `pad_lengths` >= `length` (`length` itself beyond the largest)."""
    return next((size for size in sorted(pad_lengths) if size >= length), length)
