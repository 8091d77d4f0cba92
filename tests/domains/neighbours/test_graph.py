"""`GraphNeighbours`: the export's neighbours are the runtime's, to the byte."""

from __future__ import annotations

import random

import tensorflow as tf

from assistant.domains.neighbours import index as index_lib
from assistant.domains.neighbours.graph import GraphNeighbours
from assistant.domains.neighbours.index import NeighbourIndex

ODD = ["", "   ", " U+26AA\t", "U+0041", "é", "U+00E9 é", "\0U+0041", "U+" + "F" * 40,
       "P" * index_lib.KEY_BYTES + "9", "ＡＢＣ", "U+1F6", "x"]


def _random_sources(rng: random.Random, count: int) -> list[str]:
    digits = "0123456789ABCDEF"
    return [f"U+{''.join(rng.choice(digits) for _ in range(rng.choice((4, 4, 5))))}"
            for _ in range(count)]


def _annotate(module: GraphNeighbours, texts: list[str]) -> list[str]:
    return [text.decode("utf-8") for text in module.annotate(tf.constant(texts, tf.string)).numpy()]


def test_the_graph_reads_every_text_as_the_index_does():
    rng = random.Random(0)
    sources = [*_random_sources(rng, 300), "P" * index_lib.KEY_BYTES + "1", "U+1F60"]
    index = NeighbourIndex.from_pairs((s, f"NAME OF {s}") for s in sources)
    queries = ODD + _random_sources(rng, 300) + sources[:50]  # some are train sources
    expected = index.read(queries)
    assert _annotate(GraphNeighbours(index), queries) == expected
    assert sum(text.endswith("NAME OF " + text.split(" ~ ")[0]) for text in expected) == 0


def test_an_empty_index_reads_texts_stripped():
    module = GraphNeighbours(NeighbourIndex((), ()))
    assert _annotate(module, [" U+0041 ", "x"]) == ["U+0041", "x"]


def test_no_units_are_no_units():
    index = NeighbourIndex.from_pairs([("U+0041", "A"), ("U+0042", "B")])
    assert _annotate(GraphNeighbours(index), []) == []


def test_a_one_pair_index_reads_its_own_source_alone():
    index = NeighbourIndex.from_pairs([("U+0041", "A")])
    assert _annotate(GraphNeighbours(index), ["U+0041", "U+0042"]) == [
        "U+0041", "U+0042 ~ U+0041 : A"]


def test_an_upper_case_graph_reads_as_the_index():
    index = NeighbourIndex.from_pairs([("U+00E9", "É"), ("u+00ea", "Ê"), ("ab", "x")],
                                      case="upper")
    texts = ["u+00e9", " U+00EA", "AB", "é u+00eb", ""]
    assert _annotate(GraphNeighbours(index), texts) == index.read(texts)
