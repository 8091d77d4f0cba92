"""Catalog hints: what the catalog says of a record, in Python and in the export's graph."""

import json

import pytest

from assistant.domains.warehouse import corpus, hints
from assistant.domains.warehouse.catalog import load_catalog
from assistant.domains.warehouse.domain import WarehouseDomain

CATALOG_HINTS = hints.CatalogHints.from_catalog(load_catalog())

ANNOTATED = [
    ("SN41:E108 B=6", "SN41:E108 B=6 § OK"),  # valid, without its parameter
    ("  sn41 : e108 v=154 D=118 ", "sn41 : e108 v=154 D=118 § OK V=154"),
    ("WS32:E801 c=237, d = 3.5% W=32.52",
     "WS32:E801 c=237, d = 3.5% W=32.52 § OK W=32.52 D=3.5"),  # in the catalog's order
    ("AG19:W811 R=4", "AG19:W811 R=4 § NOT VALID"),  # no values for a code not valid here
    ("CV45:E201", "CV45:E201 § OK"),  # a code without parameters
    ("AG19:W811", "AG19:W811 § NOT VALID"),  # a printer's code on an AGV
    ("LF99:W311", "LF99:W311 § UNKNOWN CODE W311"),
    ("XY32:h866  T=90", "XY32:h866  T=90 § NO EQUIPMENT XY H866"),
    ("CV07:E217,", "CV07:E217, § OK"),
    ("cv 7 e217 t=85c", "cv 7 e217 t=85c § OK T=85"),
]
QUESTIONS = [
    ("what is the fix for E108 on label printer 96?",
     "what is the fix for E108 on label printer 96? § E108 supply undervoltage ON LP OK"),
    ("What is the fix for I704 on charger 62",
     "What is the fix for I704 on charger 62 § I704 door open too long ON CH NOT VALID"),
    ("WHAT IS THE FIX FOR I230 ON CV78?",
     "WHAT IS THE FIX FOR I230 ON CV78? § I230 service interval due ON CV OK"),
    ("I have C507, what now?", "I have C507, what now? § C507 load over capacity: LF SC"),
    ("can you tell me what X431 means?", "can you tell me what X431 means? § X431 UNKNOWN"),
    (" e422 is raised by which equipment? ",
     "e422 is raised by which equipment? § E422 load sensor fault: SC SH LF AG"),
    ("which codes belong to the palletizers", "which codes belong to the palletizers § PL: E108 "
     "E201 W205 E217 I230 C501 C502 C503 E504 C509 E710 W712 E715 W718 I724 E901 W905 I908 I914"),
    # not a record: a question
    ("10:42:07 CV07:E217", "10:42:07 CV07:E217 § E217 motor over-temperature ON CV OK"),
    ("CV07:E217 help", "CV07:E217 help § E217 motor over-temperature ON CV OK"),
    ("shuttle 31 w104 help", "shuttle 31 w104 help § W104 battery cell imbalance ON SH OK"),
    ("WS7 codes?", "WS7 codes? § WS: E108 E801 E802 W803 I804 E805 W905 I908 E911"),
    ("Which fault codes does the lift have", "Which fault codes does the lift have § LF: E108 "
     "E201 W205 E210 C212 E217 E224 I230 W233 E317 E416 W419 E422 C501 C502 C503 E504 C507 "
     "C509 E605 E901 W905 I908 I914"),
]
AS_TYPED = ["how do I fix it?", "CV07:E217 T=85; SN02:W301", "hello", "", "  ", "WS7",
            "my printer is not printing", "item oversize on sn95 - help", "decode the sorter",
            "which one, C212 or W905?", "E2170 and XE217 are not codes"]


@pytest.mark.parametrize(("text", "annotated"), ANNOTATED)
def test_a_record_is_followed_by_what_the_catalog_says(text, annotated):
    assert CATALOG_HINTS.annotate(text) == annotated


@pytest.mark.parametrize(("text", "annotated"), QUESTIONS)
def test_a_question_is_followed_by_what_the_catalog_says_of_its_code_or_type(text, annotated):
    assert CATALOG_HINTS.annotate(text) == annotated


@pytest.mark.parametrize("text", AS_TYPED)
def test_anything_but_one_record_is_read_as_typed(text):
    assert CATALOG_HINTS.annotate(text) == text


def test_hints_round_trip_and_bundles_without_them_read_as_typed(tmp_path):
    corpus.write_domain_files(tmp_path, load_catalog(), catalog_hints=True)
    assert hints.load_hints(tmp_path) == CATALOG_HINTS
    assert WarehouseDomain.from_bundle(tmp_path).model_text("LF99:W311") == (
        "LF99:W311 § UNKNOWN CODE W311")
    assert hints.HINTS_FILE in json.loads((tmp_path / "domain.json").read_text())["files"]
    corpus.write_domain_files(tmp_path, load_catalog())  # without hints: the file goes
    assert not (tmp_path / hints.HINTS_FILE).exists()
    assert hints.HINTS_FILE not in json.loads((tmp_path / "domain.json").read_text())["files"]
    domain = WarehouseDomain.from_bundle(tmp_path)
    assert domain.model_text("LF99:W311") == "LF99:W311"
    assert domain.graph_annotator() is None


def test_a_hints_file_without_meanings_names_a_questions_code_alone(tmp_path):
    """Hint files of session 11 (bundles trained then) have no meanings: their questions'
    hints stay what those models read."""
    entry = CATALOG_HINTS.to_json()
    for code in entry["codes"]:
        del code["meaning"]
    old = hints.CatalogHints.from_json(entry)
    assert old.annotate("I have C507, what now?") == "I have C507, what now? § C507: LF SC"
    assert old.annotate("what is e217 on cv7") == "what is e217 on cv7 § E217 ON CV OK"
    assert CATALOG_HINTS.annotate("what is e217 on cv7") == (
        "what is e217 on cv7 § E217 motor over-temperature ON CV OK")


def test_a_corrupt_hints_file_is_one_line_error(tmp_path):
    (tmp_path / hints.HINTS_FILE).write_text('{"codes": 3}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"catalog_hints.json: not valid catalog hints") as error:
        hints.load_hints(tmp_path)
    assert "\n" not in str(error.value)


def test_the_graph_writes_what_python_writes():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import HintAnnotator

    texts = [text for text, _ in ANNOTATED + QUESTIONS] + AS_TYPED + [
        "CV07:E217\u00a0T=85\u3000", "pl33:e416 m=5", "CV07:E217 T=85 T=9.5C",
        "WS3:E801 D=4", "WS3:E801 w=1.5,D=4 %", "CV07:E217\tT =\u00a085.",
        "SN2 : W301 N=12", "ZZ99:Z999 Q=1",
        "what does\u2003e217 mean on\u00a0the stacker\u3000crane 4\n", "e217\n", "door 4\n"]
    graph = HintAnnotator(CATALOG_HINTS).annotate(tf.constant(texts))
    assert [t.decode("utf-8") for t in graph.numpy()] == [CATALOG_HINTS.annotate(t)
                                                          for t in texts]


def test_the_graph_writes_what_python_writes_on_a_corpus(tmp_path):
    """Every unit the runtime would read of a small corpus (turns of follow-ups, records of
    split lines, variants, questions, small talk): the graph writes what Python writes."""
    import tensorflow as tf

    from assistant.core.tokenizer import split_context
    from assistant.domains.warehouse import segment
    from assistant.domains.warehouse.graph_segment import HintAnnotator

    corpus.build_corpus(tmp_path, seed=11, sizes=corpus.CorpusSizes(train=1500, valid=100,
                                                                     test=100),
                        catalog_hints=True)
    loaded = hints.load_hints(tmp_path)
    units = set()
    for split in corpus.SPLITS:
        for line in (tmp_path / f"{split}.jsonl").open(encoding="utf-8"):
            turn = split_context(json.loads(line)["source"])[1]
            units.update(segment.split_line(turn) or [turn])
    texts = sorted(units)
    python = [loaded.annotate(text) for text in texts]
    assert sum(" § " in text for text in python) > len(texts) // 2  # most units get a hint
    graph = HintAnnotator(loaded).annotate(tf.constant(texts)).numpy()
    assert [text.decode("utf-8") for text in graph] == python
