"""`NeighbourIndex`: which train pair a source is read with, and the file it is saved in."""

from __future__ import annotations

import pytest

from assistant.domains.neighbours import index as index_lib
from assistant.domains.neighbours.index import NeighbourIndex, NeighboursFileError

PAIRS = [
    ("U+0042", "LATIN CAPITAL LETTER B"),
    ("U+0041", "LATIN CAPITAL LETTER A"),
    ("U+0045", "LATIN CAPITAL LETTER E"),
    ("U+1F60", "GREEK SMALL LETTER OMEGA WITH PSILI"),
    ("U+1F601", "GRINNING FACE WITH SMILING EYES"),
    ("U+26AB", "MEDIUM BLACK CIRCLE"),
    ("U+0041", "A GIVEN TWICE"),
]


@pytest.fixture
def index():
    return NeighbourIndex.from_pairs(PAIRS)


def test_the_index_is_sorted_and_keeps_the_first_target_of_a_source(index):
    assert index.sources == ("U+0041", "U+0042", "U+0045", "U+1F60", "U+1F601", "U+26AB")
    assert index.targets[0] == "LATIN CAPITAL LETTER A"


@pytest.mark.parametrize(("query", "nearest"), [
    ("U+0043", "U+0042"),  # the longest prefix, then the nearest differing byte (B < E)
    ("U+0044", "U+0045"),
    ("U+0042", "U+0041"),  # never itself; a tie (A and C are 1 away) goes to the first
    ("U+26AA", "U+26AB"),
    ("U+1F600", "U+1F601"),  # the same prefix as U+1F60, and the same length
    ("U+1F6", "U+1F60"),  # the same prefix as both: the nearer length
    ("x", "U+0041"),  # nothing in common: the nearest length, then the first
])
def test_a_source_is_read_with_its_nearest_other_source(index, query, nearest):
    [chosen] = index.nearest([query])
    assert index.sources[chosen] == nearest


def test_bytes_past_the_key_do_not_count():
    head = "P" * index_lib.KEY_BYTES
    index = NeighbourIndex.from_pairs([(head + "1", "one"), (head + "2", "two"), ("Q", "q")])
    assert index.nearest([head + "9"]) == [0]  # both as near: the first
    assert index.nearest([head + "2"]) == [0]  # not itself


def test_read_writes_the_stripped_text_and_its_neighbour(index):
    assert index.read([" U+26AA\t", "U+0044", " "]) == [
        "U+26AA ~ U+26AB : MEDIUM BLACK CIRCLE",
        "U+0044 ~ U+0045 : LATIN CAPITAL LETTER E",
        "",  # nothing to find a neighbour of
    ]


def test_without_another_source_the_text_is_read_as_it_is():
    alone = NeighbourIndex.from_pairs([("U+0041", "A")])
    assert alone.read(["U+0041", " U+0042 "]) == ["U+0041", "U+0042 ~ U+0041 : A"]
    assert NeighbourIndex((), ()).read([" U+0041"]) == ["U+0041"]


def test_the_file_round_trips(index, tmp_path):
    path = tmp_path / "neighbours.jsonl"
    path.write_text(index.to_jsonl(), encoding="utf-8")
    assert NeighbourIndex.load(path) == index
    breaks = NeighbourIndex.from_pairs([("a\u2028b", "c\u2029d\x85e"), ("f\x1cg", "h")])
    path.write_text(breaks.to_jsonl(), encoding="utf-8")
    assert NeighbourIndex.load(path) == breaks


def test_an_index_is_sorted_with_each_source_once():
    with pytest.raises(ValueError, match="each source once, sorted"):
        NeighbourIndex(("b", "a"), ("1", "2"))
    with pytest.raises(ValueError, match="each source once, sorted"):
        NeighbourIndex(("a", "a"), ("1", "2"))


@pytest.mark.parametrize(("text", "message"), [
    ('{"source": "a", "target": "b"}\nnot json\n', ":2: not a {\"source\", \"target\"} object"),
    ('{"source": "a"}\n', ':1: not a {"source", "target"} object'),
    ('{"source": 1, "target": "b"}\n', ":1: source and target must be text"),
])
def test_a_bad_file_is_one_line_naming_its_line(tmp_path, text, message):
    path = tmp_path / "neighbours.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NeighboursFileError) as error:
        NeighbourIndex.load(path)
    assert str(error.value) == f"{path}{message}"


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(NeighboursFileError, match=r"missing\.jsonl: cannot read \("):
        NeighbourIndex.load(tmp_path / "missing.jsonl")


def test_an_upper_case_index_reads_texts_as_an_upper_case_model_does():
    index = NeighbourIndex.from_pairs([("u+0041", "A"), ("U+0042", "B"), (" U+0041", "dup")],
                                      case="upper")
    assert index.sources == ("U+0041", "U+0042")  # normalized keys, "U+0041" once
    # "u+0041" is the train source U+0041: read with another pair, as in training
    assert index.read(["u+0041", "u+0043"]) == ["U+0041 ~ U+0042 : B", "U+0043 ~ U+0042 : B"]
