import contextlib
import io
import json
import os
import site
import subprocess
import sys

import numpy as np
import pytest

from assistant import constants
from assistant.cli import EXIT_USAGE, main
from assistant.inference import MAX_SOURCE_PIECES, Assistant

pytestmark = pytest.mark.slow

TEXTS = [
    "CV07:E217 T=85",
    "  hello there, how are you today?\u3000",
    "x",
    "SN02:W301 N=12; CV1:E217",
    "\x00\x07 ctrl 😀 héllo",
]
BAD_TEXTS = ["", " \t\u00a0 ", "CV07:E217 " * MAX_SOURCE_PIECES, "CV07:E217"]

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




@pytest.fixture(scope="module")
def assistant(bundle):
    return Assistant.load(bundle)


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
    from assistant.tokenizer import normalize_source

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
    from assistant.export import export_saved_model

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

    from assistant.export import export_options
    from assistant.export_module import TextServingModule, _strip_pattern

    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    texts = [f"{spaces}a{spaces}b {spaces}", " \x00x\x1c", "\u200bzero width\u200b", ""]
    stripped = tf.strings.regex_replace(tf.constant(texts), _strip_pattern(), "")
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

    from assistant.export import export_saved_model, next_version

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(assistant, tmp_path, ids_only=True)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "2").mkdir()
    (tmp_path / "notes").mkdir()
    assert next_version(tmp_path) == 3


def _run_child(export_path, text_ops: bool, ids) -> dict:
    job = {"export": str(export_path), "text_ops": text_ops, "texts": TEXTS, "bad": BAD_TEXTS,
           "generate": GENERATE, "ids": ids, "site_packages": site.getsitepackages()}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    process = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, json.dumps(job)],
                             cwd=export_path, env=env, capture_output=True, text=True,
                             check=False, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])
