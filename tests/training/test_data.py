import json

import numpy as np
import pytest

from assistant.core import constants
from training.data import (
    DataError,
    EncodedPairs,
    Pair,
    make_batches,
    read_pairs,
    split_pairs,
)


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reads_tsv_and_jsonl(tmp_path):
    tsv = write(tmp_path / "a.tsv", "CV07:E217 T=85\tConveyor 7 is hot.\n\nhello\tHi!\r\n")
    assert read_pairs(tsv) == [Pair("CV07:E217 T=85", "Conveyor 7 is hot."), Pair("hello", "Hi!")]
    jsonl = write(
        tmp_path / "a.jsonl",
        json.dumps({"source": "hi", "target": "Hello!", "category": "smalltalk", "extra": 1})
        + "\n",
    )
    assert read_pairs(jsonl) == [Pair("hi", "Hello!", "smalltalk")]


def test_bom_is_ignored(tmp_path):
    path = write(tmp_path / "bom.tsv", "\ufeffa\tb\n")
    assert read_pairs(path) == [Pair("a", "b")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.tsv", "ok\tfine\nonly one field\n", r"bad.tsv:2: expected 2 tab-separated fields"),
        ("bad.tsv", "a\tb\tc\n", r"bad.tsv:1: expected 2 tab-separated fields .*found 3"),
        ("bad.tsv", "a\tb\n\t target\n", r"bad.tsv:2: empty source"),
        ("bad.tsv", "a\t   \n", r"bad.tsv:1: empty target"),
        (
            "bad.jsonl",
            '{"source": "a", "target": "b"}\n{"source": "a"\n',
            r"bad.jsonl:2: invalid JSON",
        ),
        ("bad.jsonl", '{"source": "a"}\n', r"bad.jsonl:1: missing field 'target'"),
        (
            "bad.jsonl",
            '{"source": "a", "target": 3}\n',
            r"bad.jsonl:1: field 'target' must be a str",
        ),
        ("bad.jsonl", '["a", "b"]\n', r"bad.jsonl:1: expected a JSON object, found list"),
        (
            "bad.jsonl",
            '{"source": "a", "target": "b"}\n{"source": "x\\ud800", "target": "b"}\n',
            r"bad.jsonl:2: source holds a lone surrogate \(U\+D800 at character 1\), which "
            r"is not Unicode text$",
        ),
        ("empty.tsv", "\n\n", r"empty.tsv: no pairs found"),
        ("pairs.csv", "a,b\n", r"pairs.csv: unknown data format '.csv'"),
    ],
)
def test_malformed_rows_give_file_and_line(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message):
        read_pairs(write(tmp_path / name, content))


def test_invalid_utf8_gives_file_and_line(tmp_path):
    path = write(tmp_path / "bytes.tsv", b"a\tb\nc\xff\td\n", mode="wb")
    with pytest.raises(DataError, match=r"bytes.tsv:2: invalid UTF-8 at byte 1"):
        read_pairs(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope.tsv: cannot read"):
        read_pairs(tmp_path / "nope.tsv")


def test_split_is_deterministic_and_by_source():
    pairs = [Pair(f"source {i % 300}", f"target {i}") for i in range(1200)]
    splits = split_pairs(pairs, 0.1, 0.1)
    assert splits == split_pairs(pairs, 0.1, 0.1)
    assert sum(len(v) for v in splits.values()) == 1200
    sources = {name: {p.source for p in split} for name, split in splits.items()}
    assert not sources["train"] & sources["valid"]
    assert not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]
    assert 0.05 < len(splits["valid"]) / 1200 < 0.15


def test_batches_pad_per_batch_and_add_bos_eos():
    data = EncodedPairs(
        sources=[np.array([5, 6], np.int32), np.array([7], np.int32), np.array([8, 9, 10])],
        targets=[np.array([11], np.int32), np.array([12, 13], np.int32), np.array([14, 15, 16])],
        truncated=0,
    )
    batches = make_batches(data, batch_size=2, seed=None, bucket_width=1)
    assert len(batches) == 2
    source, target_in, target_out = batches[0]
    np.testing.assert_array_equal(source, [[5, 6], [7, 0]])
    np.testing.assert_array_equal(
        target_in, [[constants.BOS_ID, 11, 0], [constants.BOS_ID, 12, 13]]
    )
    np.testing.assert_array_equal(
        target_out, [[11, constants.EOS_ID, 0], [12, 13, constants.EOS_ID]]
    )
    assert batches[1][0].shape == (1, 3)
    assert data.target_tokens() == 9


def test_batch_order_depends_only_on_seed():
    rng = np.random.default_rng(0)
    data = EncodedPairs(
        [rng.integers(4, 50, rng.integers(1, 9)) for _ in range(100)],
        [rng.integers(4, 50, rng.integers(1, 20)) for _ in range(100)],
        0,
    )
    first = make_batches(data, 8, seed=3)
    again = make_batches(data, 8, seed=3)
    other = make_batches(data, 8, seed=4)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert not all(
        a[0].shape == b[0].shape and np.array_equal(a[0], b[0])
        for a, b in zip(first, other, strict=True)
    )
    assert sum(b[0].shape[0] for b in first) == 100
