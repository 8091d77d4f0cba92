"""Catalog hints: what the catalog says of a record, in Python and in the export's graph."""

import dataclasses
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
# with `question_hints` (corpora built since session 16): a code named by its meaning gets
# its hint, and a code's hint starts with what the question asks
TYPED_HINTS = dataclasses.replace(CATALOG_HINTS, question_hints=True)
TYPED = [
    ("I have C507, what now?", "I have C507, what now? § FIX C507 load over capacity: LF SC"),
    ("can you tell me what X431 means?", "can you tell me what X431 means? § MEANING X431 UNKNOWN"),
    (" e422 is raised by which equipment? ",
     "e422 is raised by which equipment? § EQUIPMENT E422 load sensor fault: SC SH LF AG"),
    ("is it critical? E605", "is it critical? E605 § SEVERITY E605 overtravel: SC SH LF"),
    # no code, but the catalog meaning of one: as if it named the code
    ("how do I fix Repeated-Jams on CV91?",
     "how do I fix Repeated-Jams on CV91? § FIX W301 repeated jams ON CV OK"),
    ("what about charging complete", "what about charging complete § I107 charging complete: "
     "CH AG SH"),  # asks no type the rules know
    ("item oversize on sn95", "item oversize on sn95 § E311 item oversize ON SN OK"),
    ("WHAT IS BATTERY LOW ON LP4", "WHAT IS BATTERY LOW ON LP4 § W102 battery low ON LP NOT VALID"),
    ("CV07:E217 help", "CV07:E217 help § E217 motor over-temperature ON CV OK"),  # asks none
    ("which codes belong to the palletizers", "which codes belong to the palletizers § PL: E108 "
     "E201 W205 E217 I230 C501 C502 C503 E504 C509 E710 W712 E715 W718 I724 E901 W905 I908 I914"),
]
CONTEXT_HINTS = hints.CatalogHints.from_catalog(load_catalog(), contexts=True)
BEFORE_CONTEXTS = dataclasses.replace(CONTEXT_HINTS, contexts=False)  # the shipped bundle's
CONTEXTS = [
    # two records, no focus: "it" may mean either
    ("CV07:E217 T=85; SN02:W301 N=12", "CV07:E217 T=85; SN02:W301 N=12 § FIRST conveyor 7 IT "
     "E217 OK ; SECOND LAST sorter 2 IT W301 OK"),
    # a focus that picks one record: it alone is "it", with its code's meaning
    ("CV07:E217 T=85; SN02:W301 N=12 >> W301", "CV07:E217 T=85; SN02:W301 N=12 >> W301 § "
     "FIRST conveyor 7 E217 OK ; SECOND LAST sorter 2 IT W301 repeated jams OK"),
    ("cv07:e217 t=85; sn2:w301 >> SN02", "cv07:e217 t=85; sn2:w301 >> SN02 § FIRST conveyor "
     "7 E217 OK ; SECOND LAST sorter 2 IT W301 repeated jams OK"),
    # a focus outside the line is one more item: a record, or a code's raisers
    ("SH56:C101 N=41; DD07:I704 >> CH31:R973", "SH56:C101 N=41; DD07:I704 >> CH31:R973 § "
     "FIRST shuttle 56 C101 OK ; SECOND LAST dock door 7 I704 OK ; charger 31 IT R973 UNKNOWN "
     "CODE R973"),
    ("AG06:W620 Q=19; DD80:C707 >> C708", "AG06:W620 Q=19; DD80:C707 >> C708 § FIRST agv 6 "
     "W620 OK ; SECOND LAST dock door 80 C707 OK ; IT C708 UNKNOWN"),
    ("  E217 ", "E217 § IT E217 motor over-temperature: CV SN SH LF SC PL"),
    # a unit outside the line picks nothing: every record is "it" (as `Context.subjects`)
    ("SN41:E305 V=44.5 >> CV07", "SN41:E305 V=44.5 >> CV07 § sorter 41 IT E305 sorter chute "
     "full OK"),
    ("XY12:E101", "XY12:E101 § XY 12 IT E101 NO EQUIPMENT XY E101"),
    # five records: positions up to the fourth, and the last
    ("CV07:E217; SN02:W301; LF01:E416; AG02:I107; PL03:W712 F=8.0 >> LF01",
     "CV07:E217; SN02:W301; LF01:E416; AG02:I107; PL03:W712 F=8.0 >> LF01 § FIRST conveyor 7 "
     "E217 OK ; SECOND sorter 2 W301 OK ; THIRD lift 1 IT E416 position sensor fault OK ; "
     "FOURTH agv 2 I107 OK ; LAST palletizer 3 W712 OK"),
]
# a turn with a hint of its own is about what it names: its context is read as typed
OWN_HINT_TURNS = ["CV08:E217 T=9", "what about W301?", "which codes belong to the sorter?"]
CONTEXTS_AS_TYPED = ["", "  ", "CV07", "hello there", "q123", "x >> E217", "CV07:E217 >> hi",
                     "cv7:e217;sn2:w301", "CV07:E217 T=85; SN02:W301 N=12 >> SN2",
                     "CV100:E217 >> CV100:E217"]
AS_TYPED = ["how do I fix it?", "CV07:E217 T=85; SN02:W301", "hello", "", "  ", "WS7",
            "my printer is not printing", "decode the sorter",
            "which one, C212 or W905?", "E2170 and XE217 are not codes",
            "battery low and path blocked", "batterylow", "the battery is low",  # two, no words
            "how do I fix repeated jams on CV91?"]  # a code's meaning: only with question hints


@pytest.mark.parametrize(("text", "annotated"), ANNOTATED)
def test_a_record_is_followed_by_what_the_catalog_says(text, annotated):
    assert CATALOG_HINTS.annotate(text) == annotated


@pytest.mark.parametrize(("text", "annotated"), QUESTIONS)
def test_a_question_is_followed_by_what_the_catalog_says_of_its_code_or_type(text, annotated):
    assert CATALOG_HINTS.annotate(text) == annotated


@pytest.mark.parametrize("text", AS_TYPED)
def test_anything_but_one_record_is_read_as_typed(text):
    assert CATALOG_HINTS.annotate(text) == text


@pytest.mark.parametrize(("text", "annotated"), TYPED)
def test_a_questions_code_hint_may_start_with_what_it_asks(text, annotated):
    assert TYPED_HINTS.annotate(text) == annotated
    assert hints.CatalogHints.from_json(TYPED_HINTS.to_json()) == TYPED_HINTS


def test_hints_round_trip_and_bundles_without_them_read_as_typed(tmp_path):
    corpus.write_domain_files(tmp_path, load_catalog(), catalog_hints=True)
    assert hints.load_hints(tmp_path) == TYPED_HINTS  # a corpus written today types questions
    corpus.write_domain_files(tmp_path, load_catalog(), catalog_hints=True, question_hints=False)
    assert hints.load_hints(tmp_path) == CATALOG_HINTS  # `--no-question-hints`: as run E's
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


@pytest.mark.parametrize(("context", "annotated"), CONTEXTS)
def test_a_context_is_followed_by_what_its_records_are(context, annotated):
    assert CONTEXT_HINTS.annotate_context(context) == annotated


@pytest.mark.parametrize("context", CONTEXTS_AS_TYPED)
def test_a_context_no_line_or_focus_reads_is_read_as_typed(context):
    assert CONTEXT_HINTS.annotate_context(context) == context


def test_a_turn_with_its_own_hint_reads_its_context_as_typed():
    context, annotated = CONTEXTS[0]
    for turn in OWN_HINT_TURNS:
        assert CONTEXT_HINTS.annotate(turn) != turn
        assert CONTEXT_HINTS.annotate_context(context, turn) == context
    for turn in ("how do I fix it?", "and the sorter?", "the second one please"):
        assert CONTEXT_HINTS.annotate_context(context, turn) == annotated


def test_hints_files_before_context_hints_read_contexts_as_typed(tmp_path):
    corpus.write_domain_files(tmp_path, load_catalog(), catalog_hints=True)
    assert "contexts" not in json.loads((tmp_path / hints.HINTS_FILE).read_text("utf-8"))
    corpus.write_domain_files(tmp_path, load_catalog(), catalog_hints=True, context_hints=True,
                              question_hints=False)
    entry = json.loads((tmp_path / hints.HINTS_FILE).read_text(encoding="utf-8"))
    assert entry["contexts"] is True
    context, annotated = CONTEXTS[0]
    assert WarehouseDomain.from_bundle(tmp_path).model_context(context, "fix?") == annotated
    del entry["contexts"]  # a file of session 11 or 12 (the run E bundle's)
    (tmp_path / hints.HINTS_FILE).write_text(json.dumps(entry), encoding="utf-8")
    assert hints.load_hints(tmp_path) == BEFORE_CONTEXTS
    domain = WarehouseDomain.from_bundle(tmp_path)
    assert domain.model_context(context, "fix?") == context
    assert domain.model_text("LF99:W311") == "LF99:W311 § UNKNOWN CODE W311"


def test_the_graph_writes_what_python_writes_of_contexts():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import HintAnnotator

    contexts = [context for context, _ in CONTEXTS] + CONTEXTS_AS_TYPED + [
        "\tCV07:E217 T=85\n", "CV00:E217 >> CV00", "CV07:E217 T=85 >> CV07:E999",
        "CV07:E217;  SN02:W301", "E217 >> E217", "CV07:E217\u00a0T=85; SN02:W301 >> W301",
        "\u00e9 >> CV07", "CV07:E217 >> CV07:E217 >> E217"]
    turns = ["how do I fix it?", *OWN_HINT_TURNS, " cv07:e217 ", "and the lift?", ""]
    turns = [turns[index % len(turns)] for index in range(len(contexts))]
    python = [CONTEXT_HINTS.annotate_context(c, t) for c, t in zip(contexts, turns, strict=True)]
    assert 5 < sum(a != c for a, c in zip(python, contexts, strict=True)) < len(contexts) - 5
    graph = HintAnnotator(CONTEXT_HINTS).annotate_context(tf.constant(contexts),
                                                          tf.constant(turns)).numpy()
    assert [text.decode("utf-8") for text in graph] == python
    graph = HintAnnotator(BEFORE_CONTEXTS).annotate_context(tf.constant(contexts),
                                                            tf.constant(turns)).numpy()
    assert [text.decode("utf-8") for text in graph] == contexts


def test_the_graph_writes_what_python_writes():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import HintAnnotator

    texts = [text for text, _ in ANNOTATED + QUESTIONS + TYPED] + AS_TYPED + [
        "CV07:E217\u00a0T=85\u3000", "pl33:e416 m=5", "CV07:E217 T=85 T=9.5C",
        "WS3:E801 D=4", "WS3:E801 w=1.5,D=4 %", "CV07:E217\tT =\u00a085.",
        "SN2 : W301 N=12", "ZZ99:Z999 Q=1",
        "what does\u2003e217 mean on\u00a0the stacker\u3000crane 4\n", "e217\n", "door 4\n",
        # letters Python's re folds into ASCII ones and RE2 does not: neither reads them so
        "how do I f\u0131x E217?", "E217 cr\u0131tical", "what is \u0130t E217", "E217 \u0131",
        "how do I fix dr\u0131ve fault", "\u017ftretch film low on PL18", "E217 \u212aey mean"]
    for catalog_hints in (CATALOG_HINTS, TYPED_HINTS):
        graph = HintAnnotator(catalog_hints).annotate(tf.constant(texts))
        assert [t.decode("utf-8") for t in graph.numpy()] == [catalog_hints.annotate(t)
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
                        catalog_hints=True, context_hints=True)
    loaded = hints.load_hints(tmp_path)
    assert loaded.question_hints and loaded.contexts
    units, contexts = set(), set()
    for split in corpus.SPLITS:
        for line in (tmp_path / f"{split}.jsonl").open(encoding="utf-8"):
            context, turn = split_context(json.loads(line)["source"])
            units.update(segment.split_line(turn) or [turn])
            contexts.update([(context, turn)] if context else [])
    texts = sorted(units)
    python = [loaded.annotate(text) for text in texts]
    assert sum(" § " in text for text in python) > len(texts) // 2  # most units get a hint
    annotator = HintAnnotator(loaded)
    graph = annotator.annotate(tf.constant(texts)).numpy()
    assert [text.decode("utf-8") for text in graph] == python
    contexts, turns = zip(*sorted(contexts), strict=True)
    python = [loaded.annotate_context(c, t) for c, t in zip(contexts, turns, strict=True)]
    annotated = sum(" § " in text for text in python)
    assert len(contexts) > 100 and len(contexts) // 2 < annotated < len(contexts)
    graph = annotator.annotate_context(tf.constant(contexts), tf.constant(turns)).numpy()
    assert [text.decode("utf-8") for text in graph] == python
