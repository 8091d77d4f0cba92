"""The export: signatures, equality with the runtime, bad inputs, the command."""

import sys

import numpy as np
import pytest

from assistant.cli.args import EXIT_USAGE
from assistant.cli.main import main
from assistant.core import constants
from tests.serving.support import TEXTS, run_child

pytestmark = pytest.mark.slow


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
    served = run_child(result.path, text_ops=False, ids=ids_rows)
    assert served["tensorflow_text"] is False
    assert list(served["signatures"]) == ["generate_ids"]
    expected = assistant.reply_batch(TEXTS)
    decoded = [assistant.tokenizer.decode(row[:n]) for row, n in
               zip(served["ids"]["ids"], served["ids"]["lengths"], strict=True)]
    assert decoded[: len(TEXTS)] == [r.text for r in expected]


def test_in_graph_text_processing_matches_tokenizer_py(assistant, tmp_path):
    import tensorflow as tf

    from assistant.serving.export import export_options
    from assistant.serving.module import TextServingModule
    from assistant.serving.re2 import strip_pattern

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
