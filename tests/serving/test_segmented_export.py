"""Exports that split lines into records in the graph, as the runtime does."""

import re
import sys

import numpy as np
import pytest

from assistant.cli.args import EXIT_USAGE
from assistant.cli.main import main
from assistant.domains.warehouse import segment
from assistant.runtime import Assistant
from tests.serving.support import (
    RECORD_ORDER,
    SEGMENT_TEXTS,
    SERVE_CHILD,
    TEXTS,
    reference,
    run_script,
)

pytestmark = pytest.mark.slow


def test_segmented_export_equals_the_python_rules(segmented_export, segmented_served,
                                                 assistant):
    _, printed = segmented_export
    assert "record by record" in printed
    replies, scores = reference(assistant, SEGMENT_TEXTS, RECORD_ORDER)
    assert segmented_served["serve"]["reply"] == replies
    np.testing.assert_allclose(segmented_served["serve"]["score"], scores, rtol=1e-5)
    beam2, _ = reference(assistant, SEGMENT_TEXTS, RECORD_ORDER, strategy="beam",
                          beam_width=2, length_penalty=0.0)
    assert segmented_served["beam2"]["reply"] == beam2
    short, _ = reference(assistant, SEGMENT_TEXTS, RECORD_ORDER, strategy="beam",
                          beam_width=2, length_penalty=0.0, max_length_a=3, max_length_b=0.0)
    assert segmented_served["short"]["reply"] == short
    # Segmentation changed something: a two-record line is not answered as a whole line.
    # (Whole lines are compared with the reference above, decoded in the same batches: a
    # batch of another size may tip a near tie of this barely trained model.)
    whole = assistant.reply_batch(SEGMENT_TEXTS[2:3], rerank=False)
    assert replies[2] != whole[0].text
    # generate_ids cannot segment: it answers whole lines.
    decoded = [assistant.tokenizer.decode(row[:n]) for row, n in
               zip(segmented_served["ids"]["ids"], segmented_served["ids"]["lengths"],
                   strict=True)]
    assert decoded[: len(TEXTS)] == [r.text for r in assistant.reply_batch(TEXTS, rerank=False)]


def test_segmented_export_equals_the_runtime(segmented_served, segmented_bundle):
    runtime = Assistant.load(segmented_bundle, cache_size=0)  # the export's batches
    assert runtime.domain.record_order == RECORD_ORDER
    expected = runtime.reply_batch(SEGMENT_TEXTS, rerank=False, segment=True)
    assert segmented_served["serve"]["reply"] == [r.text for r in expected]
    np.testing.assert_allclose(segmented_served["serve"]["score"],
                               [float("-inf") if r.error else r.score for r in expected],
                               rtol=1e-5)


def test_records_are_joined_by_rank_after_reload(assistant, tmp_path, monkeypatch):
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import RecordSplitter
    from assistant.serving.export import export_options
    from assistant.serving.module import TextServingModule
    from assistant.serving.re2 import strip_pattern

    def answer(text, decode_chunk, context=None):
        """A fake model: each unit's reply is the unit, "" for DROP and BAD ones; score 1,
        -inf for BAD and empty ones (which cannot be answered)."""
        text = tf.strings.regex_replace(text, strip_pattern(), "")
        drop = tf.strings.regex_full_match(text, ".*(DROP|BAD).*")
        valid = (tf.strings.length(text) > 0) & ~tf.strings.regex_full_match(text, ".*BAD.*")
        return tf.where(drop, "", text), tf.where(valid, 1.0, float("-inf")), valid

    tokenizer_file = tmp_path / "tokenizer.model"
    tokenizer_file.write_bytes(assistant.tokenizer.model_proto)
    module = TextServingModule(assistant.model, export_options(assistant.defaults),
                               assistant.tokenizer.model_proto, str(tokenizer_file),
                               max_beam_width=1, splitter=RecordSplitter(RECORD_ORDER))
    monkeypatch.setattr(module, "_answer", answer)
    tf.saved_model.save(module, str(tmp_path / "export"),
                        signatures={"serving_default": module.serve})
    expected = {
        "CV07:E217 T=85; SN02:W301 N=12": ("SN02:W301 N=12 CV07:E217 T=85", 2.0),
        " cv1:e217 ; AB12:X999 ;sn2:w301 ; CV3:E217 DROP=1; ": ("sn2:w301 AB12:X999 cv1:e217",
                                                             4.0),
        "CV1:E217 A=1;CV2:E217 A=2;": ("CV1:E217 A=1 CV2:E217 A=2", 2.0),
        "XY1:Z999;CV1:E217;SN1:W301": ("SN1:W301 XY1:Z999 CV1:E217", 3.0),
        "CV1:E217; SN2:W301 BAD=1": ("", float("-inf")),
        " CV1:E217 ": ("CV1:E217", 1.0),
        "hello; CV1:E217": ("hello; CV1:E217", 1.0),
        "": ("", float("-inf")),
    }
    texts = list(expected)
    served = run_script(SERVE_CHILD, {"export": str(tmp_path / "export"), "texts": texts},
                         tmp_path)
    assert list(zip(served["reply"], served["score"], strict=True)) == list(expected.values())
    for text, (reply, _) in expected.items():  # the Python rules give the same order
        records = segment.split_line(text)
        if records and "BAD" not in text:
            order = RECORD_ORDER.order(records)
            assert reply == " ".join(records[i] for i in order if "DROP" not in records[i])


def test_record_patterns_read_the_same_in_re2_as_in_python():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import key_pattern
    from assistant.serving.re2 import python_re

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    records = [f"{c}cv{c}07{c}:{c}E217{c}T{c}={c}85{c},N=1.5{c}" for c in [*spaces, "x", "_"]]
    records += ["CV07:E217 T=85\u200b", "CV07:E217 T=", "CV07:E2170", "C07:E217", "CV7:E217,,"]
    matched = tf.strings.regex_full_match(records, python_re(segment.RECORD_PATTERN)).numpy()
    assert matched.tolist() == [bool(re.fullmatch(segment.RECORD_PATTERN, r)) for r in records]
    assert sum(matched) == len(spaces) + 1
    keys = tf.strings.upper(tf.strings.regex_replace(
        [r for r, m in zip(records, matched, strict=True) if m] + ["SN2:w301\nT=1"],
        key_pattern(), segment.KEY_REPLACEMENT)).numpy()
    assert {k.decode() for k in keys} == {"CV:E217", "SN:W301"}
    with pytest.raises(ValueError, match="differs"):
        python_re(r"[0-9]\d")


def test_record_boundaries_are_marked_in_the_graph_as_in_python():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import mark_boundaries

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    lines = [f"CV07:E217 T=85{c}SN2:W301{c}and{c}AG4:W120 B=20{c}%{c}LF1:E201" for c in spaces]
    lines += ["CV1:E217 and CV2:E217 AND cv3:e217 & CV4:E217 T=85C/CV5:E217 T=8.5 °C|CV6:E217",
              "hello and goodbye, CV1:E217", "CV1:E217 T=85 mm SN2:W301", "",
              "18:07 CV07:E217 T=85\n18:09 SN02:W301", "CV 7:E217, SN-02 W301; ag_4-w120"]
    marked = [m.decode() for m in mark_boundaries(tf.constant(lines)).numpy()]
    assert marked == [segment.mark_boundaries(line) for line in lines]
    assert marked[0] == "CV07:E217 T=85;SN2:W301;AG4:W120 B=20\t%;LF1:E201"  # spaces[0] is a tab
    # the mixed line, the time-stamped one (split_line then refuses it) and the one with ";"
    assert [i for i, m in enumerate(marked) if ";" in m] == [*range(len(spaces) + 1),
                                                            len(spaces) + 4, len(spaces) + 5]


def test_export_splitter_follows_the_bundle(segmented_bundle, assistant):
    from assistant.domains.warehouse.graph_segment import RecordSplitter
    from assistant.serving.export import export_splitter

    segmented = Assistant.load(segmented_bundle)
    assert isinstance(export_splitter(segmented), RecordSplitter)
    assert isinstance(export_splitter(segmented, True), RecordSplitter)
    assert export_splitter(segmented, False) is None
    off = Assistant(segmented.model, segmented.tokenizer, domain=segmented.domain,
                    defaults={**segmented.defaults, "segment": False})
    assert export_splitter(off) is None
    assert isinstance(export_splitter(off, True), RecordSplitter)
    assert export_splitter(assistant) is None  # the null domain splits nothing
    with pytest.raises(ValueError, match="the 'none' domain of model splits nothing"):
        export_splitter(assistant, True)


def test_cli_refuses_segmentation_it_cannot_do(bundle, segmented_bundle, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # a bundle without a domain has no --segment
        main(["export", "--model", str(bundle), "--out", str(tmp_path / "x"), "--segment"])
    assert exit_.value.code == EXIT_USAGE
    assert "unrecognized arguments: --segment" in capsys.readouterr().err
    assert main(["export", "--model", str(segmented_bundle), "--out", str(tmp_path / "y"),
                 "--segment", "--ids-only"]) == EXIT_USAGE
    assert "--ids-only" in capsys.readouterr().err.strip()
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
