import contextlib
import io
import json
import os
import re
import shutil
import site
import subprocess
import sys

import numpy as np
import pytest

from assistant.cli.args import EXIT_USAGE, main
from assistant.core import constants
from assistant.domains.warehouse import faithfulness, segment
from assistant.runtime.assistant import MAX_SOURCE_PIECES, Assistant

pytestmark = pytest.mark.slow

TEXTS = [
    "CV07:E217 T=85",
    "  hello there, how are you today?\u3000",
    "x",
    "SN02:W301 N=12; CV1:E217",
    "\x00\x07 ctrl 😀 héllo",
]
BAD_TEXTS = ["", " \t\u00a0 ", "CV07:E217 " * MAX_SOURCE_PIECES, "CV07:E217"]
RECORD_ORDER = segment.RecordOrder({"SN:W301": 0, "CV:E217": 2}, default_rank=1)
SEGMENT_TEXTS = [
    "what does E217 mean?",  # a question: whole
    "CV07:E217 T=85",  # one record: whole
    "CV07:E217 T=85; SN02:W301 N=12",  # the second record ranks first
    "cv1:e217;PL33:E416 M=5 ; sn2 : w301",  # lower case; PL:E416 takes the default rank
    "CV07:E217 T=85;SN02:W301 N=12;AB12:X999;CV3:E217 T=40",  # equal ranks keep input order
    "CV07:E217 T=85; SN02:W301 N=12;",  # a trailing ";"
    "CV07:E217\u00a0T=85;\u2003SN02:W301,N=12\u3000",  # Unicode spaces are Python's \s
    "CV07:E217 T=85; hello",  # a malformed record: whole
    "CV07:E217;;SN02:W301",  # an empty record: whole
    "",  # empty: no reply
    " ; ",  # whole
    "CV07:E217;",  # one record and a trailing ";": whole
    "CV1:E217; CV2:E217; CV3:E217; CV4:E217; CV5:E217",  # more than MAX_RECORDS: whole
    "SN02:W301; CV07:E217" + " T=85" * MAX_SOURCE_PIECES,  # a record too long: no reply
]

# Runs in a fresh `python -I -S` process that sees the installed packages but not the project
# (site-packages is put on the path without running its .pth files, so the editable install
# of keras-assistant is not importable); prints JSON.
CHILD = r"""
import json, sys
job = json.loads(sys.argv[1])
sys.path.extend(job["site_packages"])
import tensorflow as tf
if job["text_ops"]:
    import tensorflow_text  # noqa: F401
try:
    import assistant  # noqa: F401
    project = True
except ImportError:
    project = False
module = tf.saved_model.load(job["export"])
out = {"project_importable": project, "tensorflow_text": "tensorflow_text" in sys.modules,
       "signatures": {}}
for name, function in module.signatures.items():
    inputs = function.structured_input_signature[1]
    out["signatures"][name] = {
        "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()},
        "outputs": {k: [v.dtype.name, v.shape.as_list()]
                    for k, v in function.structured_outputs.items()},
    }

def plain(result):
    return {k: [x.decode("utf-8") if isinstance(x, bytes) else x for x in v.numpy().tolist()]
            for k, v in result.items()}

def call(name, **kwargs):
    try:
        return plain(module.signatures[name](**kwargs))
    except tf.errors.InvalidArgumentError as error:
        return {"error": error.message}

if job["text_ops"]:
    out["serve"] = call("serving_default", text=tf.constant(job["texts"]))
    out["bad"] = call("serving_default", text=tf.constant(job["bad"]))
    out["empty"] = call("serving_default", text=tf.constant([], tf.string))
    for key, (width, penalty, length) in job["generate"].items():
        out[key] = call("generate", text=tf.constant(job["texts"]),
                        beam_width=tf.constant(width), max_length=tf.constant(length),
                        length_penalty=tf.constant(penalty, tf.float32))
out["ids"] = call("generate_ids", ids=tf.constant(job["ids"], tf.int32))
out["ids_empty"] = call("generate_ids", ids=tf.zeros([0, 0], tf.int32))
print(json.dumps(out))
"""

GENERATE = {
    "beam2": (2, 0.0, 0),
    "short": (2, 0.0, 3),
    "too_wide": (3, 0.6, 0),
    "zero_wide": (0, 0.6, 0),
    "negative_penalty": (2, -1.0, 0),
}



# Loads an export in a fresh process and answers texts with serving_default; prints JSON.
SERVE_CHILD = r"""
import json, sys
job = json.loads(sys.argv[1])
sys.path.extend(job["site_packages"])
import tensorflow as tf
import tensorflow_text  # noqa: F401
result = tf.saved_model.load(job["export"]).signatures["serving_default"](
    text=tf.constant(job["texts"]))
print(json.dumps({"reply": [x.decode("utf-8") for x in result["reply"].numpy()],
                  "score": result["score"].numpy().tolist()}))
"""


@pytest.fixture(scope="module")
def assistant(bundle):
    """The tiny bundle: no faithfulness.json, so no record order (lines decoded whole)."""
    return Assistant.load(bundle)


@pytest.fixture(scope="module")
def segmented_bundle(bundle, tmp_path_factory):
    """A copy of the tiny bundle whose faithfulness.json has `RECORD_ORDER`."""
    root = tmp_path_factory.mktemp("segmented") / "model"
    shutil.copytree(bundle, root)
    settings = {"allowed_numbers": [], "allowed_codes": [], "equipment_names": {},
                segment.RECORD_ORDER_KEY: RECORD_ORDER.to_json()}
    (root / faithfulness.BUNDLE_FILE).write_text(json.dumps(settings), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def segmented_export(segmented_bundle, tmp_path_factory):
    """`segmented_bundle` exported through the CLI: (version directory, what it printed)."""
    out = tmp_path_factory.mktemp("segmented_export") / "served"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--model", str(segmented_bundle), "--out", str(out),
                     "--max-beam", "2"]) == 0
    return out / "1", printed.getvalue()


@pytest.fixture(scope="module")
def segmented_served(segmented_export, ids_rows):
    return _run_child(segmented_export[0], text_ops=True, ids=ids_rows, texts=SEGMENT_TEXTS)


@pytest.fixture(scope="module")
def export(bundle, tmp_path_factory):
    """The tiny bundle exported once through the CLI: (version directory, what it printed)."""
    out = tmp_path_factory.mktemp("export") / "served"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--model", str(bundle), "--out", str(out), "--max-beam", "2"]) == 0
    return out / "1", printed.getvalue()


@pytest.fixture(scope="module")
def ids_rows(assistant):
    """Runtime-encoded TEXTS as a PAD-padded batch, then rows the export must refuse."""
    from assistant.core.tokenizer import normalize_source

    rows = [assistant.tokenizer.encode(normalize_source(t, assistant.config.source_case))
            for t in TEXTS]
    width = MAX_SOURCE_PIECES + 1
    padded = [row + [constants.PAD_ID] * (width - len(row)) for row in rows]
    padded.append([constants.PAD_ID] * width)  # all padding
    padded.append([5, constants.PAD_ID, 6] + [constants.PAD_ID] * (width - 3))  # not right-padded
    padded.append([assistant.config.vocab_size] + [constants.PAD_ID] * (width - 1))  # bad id
    padded.append([5] * width)  # longer than MAX_SOURCE_PIECES
    return padded


@pytest.fixture(scope="module")
def served(export, ids_rows):
    return _run_child(export[0], text_ops=True, ids=ids_rows)


def test_cli_reports_where_and_how_big(export):
    path, printed = export
    assert printed.startswith(f"wrote {path} (")
    assert "MB" in printed and "serving_default, generate, generate_ids" in printed
    assert not [p for p in path.parent.iterdir() if p.name != "1"]  # no temporary directory


def test_reloads_without_the_project_and_lists_signatures(served):
    assert served["project_importable"] is False
    signatures = served["signatures"]
    assert set(signatures) == {"serving_default", "generate", "generate_ids"}
    assert signatures["serving_default"] == {
        "inputs": {"text": ["string", [None]]},
        "outputs": {"reply": ["string", [None]], "score": ["float32", [None]]},
    }
    assert signatures["generate"]["inputs"] == {
        "text": ["string", [None]], "beam_width": ["int32", []],
        "length_penalty": ["float32", []], "max_length": ["int32", []],
    }
    assert signatures["generate"]["outputs"] == signatures["serving_default"]["outputs"]
    assert signatures["generate_ids"] == {
        "inputs": {"ids": ["int32", [None, None]]},
        "outputs": {"ids": ["int32", [None, None]], "lengths": ["int32", [None]],
                    "score": ["float32", [None]]},
    }


def test_serving_default_equals_the_runtime(served, assistant):
    expected = assistant.reply_batch(TEXTS)
    assert served["serve"]["reply"] == [r.text for r in expected]
    np.testing.assert_allclose(served["serve"]["score"], [r.score for r in expected], rtol=1e-5)


def test_generate_takes_per_request_settings(served, assistant):
    beam2 = assistant.reply_batch(TEXTS, strategy="beam", beam_width=2, length_penalty=0.0)
    assert served["beam2"]["reply"] == [r.text for r in beam2]
    short = assistant.reply_batch(TEXTS, strategy="beam", beam_width=2, length_penalty=0.0,
                                  max_length_a=3, max_length_b=0.0)
    assert served["short"]["reply"] == [r.text for r in short]
    assert "beam_width must be <= 2" in served["too_wide"]["error"]
    assert "beam_width must be >= 1" in served["zero_wide"]["error"]
    assert "length_penalty must be >= 0" in served["negative_penalty"]["error"]


def test_bad_inputs_get_an_empty_reply_and_minus_infinity(served, assistant):
    assert served["bad"]["reply"][:3] == ["", "", ""]
    assert served["bad"]["score"][:3] == [float("-inf")] * 3
    assert served["bad"]["reply"][3] == assistant.reply("CV07:E217").text
    assert served["empty"] == {"reply": [], "score": []}


def test_generate_ids_equals_the_runtime_and_refuses_bad_rows(served, assistant):
    expected = assistant.reply_batch(TEXTS)
    result = served["ids"]
    decoded = [assistant.tokenizer.decode(row[:n])
               for row, n in zip(result["ids"], result["lengths"], strict=True)]
    assert decoded[: len(TEXTS)] == [r.text for r in expected]
    assert result["lengths"][len(TEXTS):] == [0, 0, 0, 0]
    assert result["score"][len(TEXTS):] == [float("-inf")] * 4
    assert served["ids_empty"] == {"ids": [], "lengths": [], "score": []}


def test_variables_are_stored_once(export, bundle):
    path, _ = export
    variables = sum(f.stat().st_size for f in (path / "variables").iterdir())
    assets = sum(f.stat().st_size for f in (path / "assets").iterdir())
    weights = (bundle / constants.WEIGHTS_FILE).stat().st_size
    tokenizer = (bundle / constants.TOKENIZER_FILE).stat().st_size
    assert variables + assets <= 1.2 * weights + tokenizer


def test_ids_only_export_loads_without_tensorflow_text(assistant, tmp_path, ids_rows):
    from assistant.serving.export import export_saved_model

    result = export_saved_model(assistant, tmp_path, ids_only=True)
    served = _run_child(result.path, text_ops=False, ids=ids_rows)
    assert served["tensorflow_text"] is False
    assert list(served["signatures"]) == ["generate_ids"]
    expected = assistant.reply_batch(TEXTS)
    decoded = [assistant.tokenizer.decode(row[:n]) for row, n in
               zip(served["ids"]["ids"], served["ids"]["lengths"], strict=True)]
    assert decoded[: len(TEXTS)] == [r.text for r in expected]


def test_in_graph_text_processing_matches_tokenizer_py(assistant, tmp_path):
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import strip_pattern
    from assistant.serving.export import export_options
    from assistant.serving.module import TextServingModule

    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    texts = [f"{spaces}a{spaces}b {spaces}", " \x00x\x1c", "\u200bzero width\u200b", ""]
    stripped = tf.strings.regex_replace(tf.constant(texts), strip_pattern(), "")
    assert [s.decode() for s in stripped.numpy()] == [t.strip() for t in texts]

    tokenizer = assistant.tokenizer
    (tmp_path / "tokenizer.model").write_bytes(tokenizer.model_proto)
    module = TextServingModule(assistant.model, export_options(assistant.defaults),
                               tokenizer.model_proto, str(tmp_path / "tokenizer.model"),
                               max_beam_width=1)
    rng = np.random.default_rng(0)
    ids = {piece: i for i, piece in enumerate(tokenizer.ids_to_pieces(range(tokenizer.vocab_size)))}
    special = [ids["▁"], ids["<0x41>"], ids["<0xE2>"], constants.UNK_ID, constants.PAD_ID,
               constants.BOS_ID, constants.EOS_ID]
    rows = [[int(rng.choice(special)) if rng.random() < 0.5
             else int(rng.integers(constants.NUM_SPECIAL_IDS, tokenizer.vocab_size))
             for _ in range(12)] for _ in range(300)]
    decoded = module._detokenize(tf.constant(rows, tf.int32)).numpy()
    assert [d.decode("utf-8") for d in decoded] == [tokenizer.decode(r) for r in rows]


def test_cli_refuses_bad_models_and_outputs(bundle, tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["export", "--model", str(missing), "--out", str(tmp_path / "x")]) == EXIT_USAGE
    file_out = tmp_path / "file"
    file_out.write_text("not a directory")
    assert main(["export", "--model", str(bundle), "--out", str(file_out)]) == EXIT_USAGE
    (tmp_path / "taken" / "3").mkdir(parents=True)
    assert main(["export", "--model", str(bundle), "--out", str(tmp_path / "taken"),
                 "--version", "3"]) == EXIT_USAGE
    assert main(["export", "--model", str(bundle), "--out", str(tmp_path / "y"),
                 "--sample"]) == EXIT_USAGE
    errors = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in errors] == ["error"] * 4
    assert "no such model directory" in errors[0]
    assert "is not a directory" in errors[1]
    assert "already exists" in errors[2]


def test_a_failed_export_leaves_nothing(assistant, tmp_path, monkeypatch):
    import tensorflow as tf

    from assistant.serving.export import export_saved_model, next_version

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(assistant, tmp_path, ids_only=True)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "2").mkdir()
    (tmp_path / "notes").mkdir()
    assert next_version(tmp_path) == 3


def test_segmented_export_equals_the_python_rules(segmented_export, segmented_served,
                                                 assistant):
    _, printed = segmented_export
    assert "record by record" in printed
    replies, scores = _reference(assistant, SEGMENT_TEXTS, RECORD_ORDER)
    assert segmented_served["serve"]["reply"] == replies
    np.testing.assert_allclose(segmented_served["serve"]["score"], scores, rtol=1e-5)
    beam2, _ = _reference(assistant, SEGMENT_TEXTS, RECORD_ORDER, strategy="beam",
                          beam_width=2, length_penalty=0.0)
    assert segmented_served["beam2"]["reply"] == beam2
    short, _ = _reference(assistant, SEGMENT_TEXTS, RECORD_ORDER, strategy="beam",
                          beam_width=2, length_penalty=0.0, max_length_a=3, max_length_b=0.0)
    assert segmented_served["short"]["reply"] == short
    # Segmentation changed something: a two-record line is not answered as a whole line.
    whole = assistant.reply_batch(SEGMENT_TEXTS, rerank=False)
    assert replies[2] != whole[2].text and replies[:2] == [r.text for r in whole[:2]]
    # generate_ids cannot segment: it answers whole lines.
    decoded = [assistant.tokenizer.decode(row[:n]) for row, n in
               zip(segmented_served["ids"]["ids"], segmented_served["ids"]["lengths"],
                   strict=True)]
    assert decoded[: len(TEXTS)] == [r.text for r in assistant.reply_batch(TEXTS, rerank=False)]


def test_segmented_export_equals_the_runtime(segmented_served, segmented_bundle):
    runtime = Assistant.load(segmented_bundle)
    assert runtime.record_order == RECORD_ORDER
    expected = runtime.reply_batch(SEGMENT_TEXTS, rerank=False, segment=True)
    assert segmented_served["serve"]["reply"] == [r.text for r in expected]
    np.testing.assert_allclose(segmented_served["serve"]["score"],
                               [float("-inf") if r.error else r.score for r in expected],
                               rtol=1e-5)


def test_records_are_joined_by_rank_after_reload(assistant, tmp_path, monkeypatch):
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import strip_pattern
    from assistant.serving.export import export_options
    from assistant.serving.module import TextServingModule

    def answer(text, decode_chunk):
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
                               max_beam_width=1, record_order=RECORD_ORDER)
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
    served = _run_script(SERVE_CHILD, {"export": str(tmp_path / "export"), "texts": texts},
                         tmp_path)
    assert list(zip(served["reply"], served["score"], strict=True)) == list(expected.values())
    for text, (reply, _) in expected.items():  # the Python rules give the same order
        records = segment.split_line(text)
        if records and "BAD" not in text:
            order = RECORD_ORDER.order(records)
            assert reply == " ".join(records[i] for i in order if "DROP" not in records[i])


def test_record_patterns_read_the_same_in_re2_as_in_python():
    import tensorflow as tf

    from assistant.domains.warehouse.graph_segment import key_pattern, python_re

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


def test_export_record_order_follows_the_bundle(segmented_bundle, bundle):
    from assistant.serving.export import export_record_order

    assert export_record_order(segmented_bundle, {}) == RECORD_ORDER
    assert export_record_order(segmented_bundle, {"segment": True}) == RECORD_ORDER
    assert export_record_order(segmented_bundle, {"segment": False}) is None
    assert export_record_order(segmented_bundle, {"segment": False}, True) == RECORD_ORDER
    assert export_record_order(segmented_bundle, {}, False) is None
    assert export_record_order(bundle, {"segment": True}) is None  # no record order
    with pytest.raises(ValueError, match="no record order"):
        export_record_order(bundle, {}, True)
    with pytest.raises(ValueError, match="segment must be true or false"):
        export_record_order(segmented_bundle, {"segment": "yes"})


def test_cli_refuses_segmentation_it_cannot_do(bundle, tmp_path, capsys):
    assert main(["export", "--model", str(bundle), "--out", str(tmp_path / "x"),
                 "--segment"]) == EXIT_USAGE
    assert main(["export", "--model", str(bundle), "--out", str(tmp_path / "y"),
                 "--segment", "--ids-only"]) == EXIT_USAGE
    errors = capsys.readouterr().err.strip().splitlines()
    assert "no record order" in errors[0] and "--ids-only" in errors[1]
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def _run_child(export_path, text_ops: bool, ids, texts=TEXTS) -> dict:
    job = {"export": str(export_path), "text_ops": text_ops, "texts": texts, "bad": BAD_TEXTS,
           "generate": GENERATE, "ids": ids}
    return _run_script(CHILD, job, export_path)


def _run_script(script: str, job: dict, cwd) -> dict:
    job = {**job, "site_packages": site.getsitepackages()}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    process = subprocess.run([sys.executable, "-I", "-S", "-c", script, json.dumps(job)],
                             cwd=cwd, env=env, capture_output=True, text=True,
                             check=False, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def _reference(assistant, texts, record_order, **options) -> tuple[list[str], list[float]]:
    """Replies and scores by `assistant.domains.warehouse.segment`'s rules, in Python: the records of a line
    decoded as lines (flattened in place), ordered by `record_order` and joined."""
    units, plan = [], []
    for text in texts:
        records = segment.split_line(text)
        plan.append((records, len(units)))
        units.extend(records or [text])
    answers = assistant.reply_batch(units, rerank=False, segment=False, **options)
    replies, scores = [], []
    for records, start in plan:
        parts = answers[start : start + len(records or [None])]
        if any(part.error is not None for part in parts):
            replies.append("")
            scores.append(float("-inf"))
            continue
        order = record_order.order(records) if records else [0]
        replies.append(" ".join(parts[i].text for i in order if parts[i].text))
        scores.append(sum(parts[i].score for i in order))
    return replies, scores
