"""The unicodedata corpus: seeded, split by code point, and its nearest-neighbour baseline."""

from __future__ import annotations

import json
import unicodedata

from training import unicode_corpus


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_corpus_is_seeded_split_by_code_point_and_named_by_unicodedata(tmp_path):
    counts = unicode_corpus.build(tmp_path / "a", size=800, seed=1)
    unicode_corpus.build(tmp_path / "b", size=800, seed=1)
    for split in ("train", "valid", "test"):
        assert (tmp_path / "a" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "b" / f"{split}.jsonl").read_bytes()
    assert sum(counts.values()) == 800 and counts["test"] > 10 and counts["train"] > 600
    rows = {split: read(tmp_path / "a" / f"{split}.jsonl") for split in counts}
    for split, pairs in rows.items():
        for pair in pairs:
            code_point = int(pair["source"][2:], 16)
            assert pair["target"] == unicodedata.name(chr(code_point))
            assert unicode_corpus.split_of(code_point) == split
    assert {p["category"] for p in rows["train"]} == set(unicode_corpus.BLOCK_KINDS)


def test_the_nearest_neighbour_answers_with_the_closest_train_name(tmp_path):
    for split, points in (("train", [0x41, 0x43, 0x4E00]), ("test", [0x42, 0x4E01])):
        (tmp_path / f"{split}.jsonl").write_text("".join(
            json.dumps({"source": f"U+{cp:04X}", "target": unicodedata.name(chr(cp))}) + "\n"
            for cp in points), encoding="utf-8")
    scores = unicode_corpus.nearest_neighbour(tmp_path)
    assert scores["pairs"] == 2 and scores["exact"] == 0.0  # B gets A's name, 4E01 4E00's
    assert 0.0 < scores["chrf"] < 100.0
