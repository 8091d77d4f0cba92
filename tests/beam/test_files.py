"""Reading records with their file and line number; writing one ordered file or shards."""

import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from assistant.beam import files
from assistant.beam.files import ReadRecords, WriteRows
from assistant.cli.convert.formats import open_reader
from tests.cli.convert.fakes import write

TXT = b"a\n\n  \nbad \xff\r\nlast"
JSONL = b'{"text": "q", "k": 1}\nnot json\n[1]\n\n{"other": 2}\n{"text": "r"}\n'


def run(build) -> None:
    with beam.Pipeline("DirectRunner") as pipeline:
        build(pipeline)


def read_expected(path, fmt, column=None):
    with path.open("rb") as stream:
        return [(str(path), record) for record in open_reader(fmt, stream, column)]


def test_records_are_convert_s_with_their_file_txt_and_jsonl(tmp_path):
    one, two = write(tmp_path / "one.txt", TXT), write(tmp_path / "two.txt", b"x\ny\n")
    source = write(tmp_path / "in.jsonl", JSONL)
    texts = read_expected(one, "txt") + read_expected(two, "txt")
    assert [record.line for _, record in texts] == [1, 2, 3, 4, 5, 1, 2]
    assert texts[3][1].problems == ("invalid UTF-8 (bytes replaced by U+FFFD)",)
    jsonl = read_expected(source, "jsonl", "text")
    assert [record.problems[:1] for _, record in jsonl] == [
        (),
        ("invalid JSON: Expecting value at column 1",),
        ("not a JSON object but an array",),
        ("empty line",),
        ("missing field 'text'",),
        (),
    ]

    def matches(expected):
        def check(actual):
            assert sorted(actual, key=lambda item: (item[0], item[1].number)) == expected

        return check

    def build(pipeline):
        txt = pipeline | "Txt" >> ReadRecords(str(tmp_path / "*.txt"))
        assert_that(txt, matches(texts), label="CheckTxt")
        read = pipeline | "Jsonl" >> ReadRecords(str(source), "jsonl", "text")
        assert_that(read, matches(jsonl), label="CheckJsonl")

    run(build)


def test_a_file_that_cannot_be_read_fails_naming_it(tmp_path):
    write(tmp_path / "ok.txt", "fine\n")
    bad = write(tmp_path / "bad.txt", "utf-16 without a mark\n".encode("utf-16-le"))
    with pytest.raises(Exception, match=f"{bad}: looks like UTF-16 without a byte-order mark"):
        run(lambda p: p | ReadRecords(str(tmp_path / "*.txt")))


def rows(files_and_counts):
    made = [
        ((name, number), f"{name}:{number}")
        for name, count in files_and_counts
        for number in range(1, count + 1)
    ]
    shuffled = made[:]
    random.Random(0).shuffle(shuffled)
    return made, shuffled


def test_one_file_in_input_order_replaces_the_target(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_RECORDS", 3)  # several chunks per file
    expected, shuffled = rows([("b.txt", 7), ("a.txt", 5), ("c.txt", 1)])
    target = write(tmp_path / "out.jsonl", "previous\n")
    empty = tmp_path / "empty.jsonl"

    def build(pipeline):
        pipeline | "Rows" >> beam.Create(shuffled) | "Write" >> WriteRows(str(target))
        pipeline | "None" >> beam.Create([]) | "WriteNone" >> WriteRows(str(empty))

    run(build)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines == [line for _, line in sorted(expected)]
    assert lines[:2] == ["a.txt:1", "a.txt:2"] and lines[-1] == "c.txt:1"
    assert empty.read_bytes() == b""  # no rows: an empty file
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty.jsonl", "out.jsonl"]


def test_a_remote_file_is_written_whole_then_renamed(remote, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_RECORDS", 2)
    expected, shuffled = rows([("x", 5)])
    run(lambda p: p | beam.Create(shuffled) | WriteRows("fakefs://out/r.jsonl"))
    assert (remote / "out" / "r.jsonl").read_text().splitlines() == [line for _, line in expected]
    assert [path.name for path in (remote / "out").iterdir()] == ["r.jsonl"]


def test_shards_hold_every_row_once(tmp_path):
    expected, shuffled = rows([("a", 40), ("b", 9)])
    run(lambda p: p | beam.Create(shuffled) | WriteRows(str(tmp_path / "out.jsonl"), 3))
    shards = sorted(path.name for path in tmp_path.iterdir())
    assert shards == [f"out-0000{index}-of-00003.jsonl" for index in range(3)]
    written = [line for name in shards for line in (tmp_path / name).read_text().splitlines()]
    assert sorted(written) == sorted(line for _, line in expected)
