"""`python -m training evaluate --export`: an export's serving_default scored as one more
setting, equal to the runtime's setting it bakes in; export problems are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core.tokenizer import join_context, split_context
from tests.serving.support import SEGMENT_TEXTS
from training.cli import main
from training.export_replies import EXPORT_SETTING, Serving, export_version_dir

RUNTIME_SETTING = "beam no rerank"  # what an export decodes: no rerank, the bundle's segmenting


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"source": "CV07:E217 T=85", "target": "x"}) + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_export_row_scores_what_the_runtime_scores(segmented_bundle, segmented_export,
                                                       tmp_path, capsys):
    from assistant.runtime import Assistant

    sources = [text for text in SEGMENT_TEXTS if text.strip(" ;")]
    # a follow-up turn: this bundle does not read context, so neither side sends it
    sources.append(join_context("CV07:E217 T=85", "how do I fix it?"))
    turns = [split_context(source)[1] for source in sources]
    replies = [r.text if r.error is None else "" for r in
               Assistant.load(segmented_bundle).reply_batch(turns, rerank=False)]
    # Every other target is the runtime's reply (when it reads back as it is: targets are
    # stripped, never empty), so exact match is neither 0 nor 1.
    rows = [{"source": s, "target": r if i % 2 and r and r == r.strip() else "no",
             "category": ("a", "b")[i % 3 == 0]}
            for i, (s, r) in enumerate(zip(sources, replies, strict=True))]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "report.json"
    export_dir = segmented_export[0].parent  # EXPORT_DIR: its newest version is scored
    assert main(["evaluate", "--model", str(segmented_bundle), "--data", str(data),
                 "--no-rerank", "--batch-size", "4", "--export", str(export_dir),
                 "--json", str(out)]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    settings = json.loads(out.read_text(encoding="utf-8"))["settings"]
    assert list(settings) == [RUNTIME_SETTING, EXPORT_SETTING]
    runtime, export = settings[RUNTIME_SETTING], settings[EXPORT_SETTING]
    assert export["options"] == {"export": str(segmented_export[0])}
    expected = sum(r == row["target"] for r, row in zip(replies, rows, strict=True))
    assert 0 < expected < len(rows)
    assert runtime["scores"]["all"]["exact_match"] == pytest.approx(expected / len(rows))
    for category in ("a", "b", "all"):
        assert export["scores"][category] == runtime["scores"][category]  # exact, counters...
    assert export["errors"] == runtime["errors"]


def test_replies_come_back_in_order_whatever_the_batch_size():
    import tensorflow as tf

    calls = []

    def signature(text):
        calls.append(int(text.shape[0]))
        return {"reply": tf.strings.upper(text), "score": tf.zeros_like(text, tf.float32)}

    serving = Serving(Path("x"), signature)
    texts = ["a", "b", "c", "dé", "e"]
    assert serving.replies(texts, batch_size=2) == ["A", "B", "C", "Dé", "E"]
    assert calls == [2, 2, 1]
    assert serving.replies([], batch_size=2) == []
    # an export that reads context answers a batch with one by `generate` and its context
    asked = []

    def generate(text, context, beam_width, length_penalty, max_length):
        asked.append((int(beam_width), float(length_penalty), int(max_length)))
        return {"reply": tf.strings.join([context, text], "|"),
                "score": tf.zeros_like(text, tf.float32)}

    in_context = Serving(Path("x"), signature, generate)
    assert in_context.replies(texts, 2, [None, "c", None, None, ""], beam_width=3,
                              length_penalty=0.5) == ["|a", "c|b", "C", "Dé", "E"]
    assert asked == [(3, 0.5, 0)]
    assert serving.replies(texts[:2], 2, ["c", "c"]) == ["A", "B"]  # no context input


def test_the_newest_version_is_chosen(tmp_path):
    for version in ("1", "2", "10", "11"):
        (tmp_path / version).mkdir()
    for version in ("2", "10"):
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    assert export_version_dir(tmp_path) == tmp_path / "10"
    assert export_version_dir(tmp_path / "2") == tmp_path / "2"


def _not_a_saved_model(tmp):
    (tmp / "export" / "1").mkdir(parents=True)
    (tmp / "export" / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    return tmp / "export"


# (case, the --export given, the start of the one line after "error: ").
EXPORT_CASES = [
    ("missing", lambda tmp: tmp / "none",
     "{tmp}/none: no such export directory (write one with `python -m assistant export "
     "--model BUNDLE --out {tmp}/none`)"),
    ("a file", lambda tmp: tmp / "pairs.jsonl",
     "{tmp}/pairs.jsonl: not an export directory (give --export the --out of `python -m "
     "assistant export` or one of its version directories)"),
    ("empty", lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
     "{tmp}/empty: no SavedModel in it (saved_model.pb neither there nor in a numbered "
     "version directory)"),
    ("not a SavedModel", _not_a_saved_model, "cannot load the SavedModel in {tmp}/export/1: "),
]


@pytest.mark.parametrize(("case", "export", "message"), EXPORT_CASES,
                         ids=[c[0] for c in EXPORT_CASES])
def test_export_problems_are_one_line_before_the_model_loads(data, tmp_path, capsys, case,
                                                              export, message):
    argv = ["evaluate", "--model", str(tmp_path / "no_model"), "--data", str(data),
            "--export", str(export(tmp_path))]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(tmp=tmp_path))
    assert err.count("\n") == 1 and err.endswith("\n")
