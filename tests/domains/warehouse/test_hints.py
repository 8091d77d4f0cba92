"""Catalog hints: what the catalog says of a record, in Python and in the export's graph."""

import json

import pytest

from assistant.domains.warehouse import corpus, hints
from assistant.domains.warehouse.catalog import load_catalog
from assistant.domains.warehouse.domain import WarehouseDomain

CATALOG_HINTS = hints.RecordHints.from_catalog(load_catalog())

ANNOTATED = [
    ("SN41:E108 B=6", "SN41:E108 B=6 § OK V"),  # valid: the code's parameter key
    ("  sn41 : e108 v=154 D=118 ", "sn41 : e108 v=154 D=118 § OK V"),
    ("CV45:E201", "CV45:E201 § OK"),  # a code without parameters
    ("AG19:W811", "AG19:W811 § NOT VALID"),  # a printer's code on an AGV
    ("LF99:W311", "LF99:W311 § UNKNOWN CODE"),
    ("XY32:h866  T=90", "XY32:h866  T=90 § NO EQUIPMENT"),
    ("CV07:E217,", "CV07:E217, § OK T"),
    ("cv 7 e217 t=85c", "cv 7 e217 t=85c § OK T"),
]
AS_TYPED = ["how do I fix E108", "CV07:E217 T=85; SN02:W301", "hello", "", "  ",
            "10:42:07 CV07:E217", "CV07", "CV07:E217 help"]


@pytest.mark.parametrize(("text", "annotated"), ANNOTATED)
def test_a_record_is_followed_by_what_the_catalog_says(text, annotated):
    assert CATALOG_HINTS.annotate(text) == annotated


@pytest.mark.parametrize("text", AS_TYPED)
def test_anything_but_one_record_is_read_as_typed(text):
    assert CATALOG_HINTS.annotate(text) == text


def test_hints_round_trip_and_bundles_without_them_read_as_typed(tmp_path):
    corpus.write_domain_files(tmp_path, load_catalog())
    assert hints.load_hints(tmp_path) == CATALOG_HINTS
    assert WarehouseDomain.from_bundle(tmp_path).model_text("LF99:W311") == (
        "LF99:W311 § UNKNOWN CODE")
    assert hints.HINTS_FILE in json.loads((tmp_path / "domain.json").read_text())["files"]
    (tmp_path / hints.HINTS_FILE).unlink()
    domain = WarehouseDomain.from_bundle(tmp_path)
    assert domain.model_text("LF99:W311") == "LF99:W311"
    assert domain.graph_annotator() is None


def test_a_corrupt_hints_file_is_one_line_error(tmp_path):
    (tmp_path / hints.HINTS_FILE).write_text('{"params": 3}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"record_hints.json: not valid record hints") as error:
        hints.load_hints(tmp_path)
    assert "\n" not in str(error.value)


def test_the_graph_writes_what_python_writes():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import HintAnnotator

    texts = [text for text, _ in ANNOTATED] + AS_TYPED + [
        "CV07:E217\u00a0T=85\u3000", "pl33:e416 m=5", "SN2 : W301 N=12", "ZZ99:Z999 Q=1"]
    graph = HintAnnotator(CATALOG_HINTS).annotate(tf.constant(texts))
    assert [t.decode("utf-8") for t in graph.numpy()] == [CATALOG_HINTS.annotate(t)
                                                          for t in texts]
