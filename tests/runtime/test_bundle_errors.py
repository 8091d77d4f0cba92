"""Corrupt and mismatched bundles: one line naming the file, at load and through a command."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from assistant.cli.args import EXIT_USAGE
from assistant.cli.main import main
from assistant.core import constants
from assistant.runtime.bundle import BundleError, load_bundle

CONFIG = constants.CONFIG_FILE
WEIGHTS = constants.WEIGHTS_FILE
TOKENIZER = constants.TOKENIZER_FILE


def _config(**model):
    def edit(bundle):
        path = bundle / CONFIG
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["model"].update(model)
        path.write_text(json.dumps(payload), encoding="utf-8")
    return edit


def _payload(**values):
    def edit(bundle):
        path = bundle / CONFIG
        payload = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps({**payload, **values}), encoding="utf-8")
    return edit


def _write(name, data: bytes):
    return lambda bundle: (bundle / name).write_bytes(data)


def _remove(name):
    return lambda bundle: (bundle / name).unlink()


def _truncate(name):
    def edit(bundle):
        data = (bundle / name).read_bytes()
        (bundle / name).write_bytes(data[: len(data) // 2])
    return edit


def _replace_with_directory(name):
    def edit(bundle):
        (bundle / name).unlink()
        (bundle / name).mkdir()
    return edit


# (case, how to break a copy of the tiny bundle, the file the message names, what it says)
CASES = [
    ("missing weights", _remove(WEIGHTS), WEIGHTS, "missing"),
    ("weights a directory", _replace_with_directory(WEIGHTS), WEIGHTS, "missing"),
    ("garbage weights", _write(WEIGHTS, os.urandom(4096)), WEIGHTS, "cannot load weights"),
    ("empty weights", _write(WEIGHTS, b""), WEIGHTS, "cannot load weights"),
    ("truncated weights", _truncate(WEIGHTS), WEIGHTS, "cannot load weights"),
    ("missing tokenizer", _remove(TOKENIZER), TOKENIZER, "cannot read tokenizer"),
    ("garbage tokenizer", _write(TOKENIZER, b"garbage" * 9), TOKENIZER,
     "not a SentencePiece model"),
    ("missing config", _remove(CONFIG), CONFIG, "missing (not a model bundle)"),
    ("bad config JSON", _write(CONFIG, b"{not json"), CONFIG, "not a valid config file"),
    ("config not an object", _write(CONFIG, b"[1, 2]"), CONFIG, "no 'model' section"),
    ("config of another version", _payload(version=99), CONFIG, "version 99 is not supported"),
    ("decoding not an object", _payload(decoding=[1]), CONFIG, "'decoding' must be an object"),
    ("model not an object", _payload(model=[1]), CONFIG, "wrong type"),
    ("value of the wrong type", _config(encoder_units="eight"), CONFIG, "wrong type"),
    ("negative value", _config(encoder_units=-1), CONFIG, "encoder_units must be a positive"),
    ("unknown key", _config(colour="red"), CONFIG, "unknown model config key(s): colour"),
    ("unknown domain", _payload(domain="nosuch"), "", "unknown domain 'nosuch'"),
    ("vocab_size changed", _config(vocab_size=999), CONFIG, f"does not match {{}}/{TOKENIZER}"),
]
# config.json edited after training: the message names both files and says they do not match.
MISMATCHES = [
    ("encoder_units changed", _config(encoder_units=12), "where config.json builds"),
    ("decoder_units changed", _config(decoder_units=12), "where config.json builds"),
    ("embedding_dim changed", _config(embedding_dim=8), "where config.json builds"),
    ("rnn_type changed", _config(rnn_type="lstm"), "arrays, config.json builds"),
    ("encoder_layers changed", _config(encoder_layers=2), "arrays, config.json builds"),
]


def broken_copy(bundle, tmp_path, edit):
    copy = tmp_path / "model"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("checkpoint", "tensorboard"))
    edit(copy)
    return copy


@pytest.mark.parametrize(("case", "edit", "file", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_corrupt_bundle_is_one_line_naming_the_file(bundle, tmp_path, case, edit, file,
                                                      message):
    broken = broken_copy(bundle, tmp_path, edit)
    with pytest.raises(BundleError) as error:
        load_bundle(broken)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(str(broken / file)), text
    assert message.format(broken) in text


@pytest.mark.parametrize(("case", "edit", "detail"), MISMATCHES, ids=[c[0] for c in MISMATCHES])
def test_a_config_that_does_not_match_the_weights_names_both(bundle, tmp_path, case, edit,
                                                             detail):
    broken = broken_copy(bundle, tmp_path, edit)
    with pytest.raises(BundleError) as error:
        load_bundle(broken)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"{broken / CONFIG} does not match {broken / WEIGHTS}: "), text
    assert detail in text
    assert "use the config.json saved with them" in text


def test_a_missing_or_file_bundle_directory_is_named(tmp_path):
    with pytest.raises(BundleError, match=f"^{tmp_path / 'missing'}: no such model directory$"):
        load_bundle(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match=f"^{tmp_path / 'file'}: no such model directory$"):
        load_bundle(tmp_path / "file")


COMMAND_CASES = [case for case in CASES if case[0] in (
    "missing weights", "garbage weights", "missing tokenizer", "bad config JSON",
    "unknown domain")]


@pytest.mark.parametrize(("case", "edit", "file", "message"), COMMAND_CASES,
                         ids=[c[0] for c in COMMAND_CASES])
def test_commands_report_a_corrupt_bundle_in_one_line(bundle, tmp_path, capsys, case, edit,
                                                      file, message):
    broken = broken_copy(bundle, tmp_path, edit)
    for command in (["convert", str(tmp_path / "in.txt")], ["export", "--out", str(tmp_path)]):
        (tmp_path / "in.txt").write_text("CV07:E217\n", encoding="utf-8")
        assert main([*command, "--model", str(broken)]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith(f"error: cannot load model: {broken / file}")
    assert not list(tmp_path.glob("[0-9]*"))  # the export wrote no version


def test_the_mismatch_reaches_the_command_line_in_one_line(bundle, tmp_path, capsys):
    broken = broken_copy(bundle, tmp_path, _config(encoder_units=12))
    assert main(["export", "--model", str(broken), "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == (f"error: cannot load model: {broken / CONFIG} does not match "
                   f"{broken / WEIGHTS}: the weights hold an array of shape (2, 1, 24) where "
                   "config.json builds (2, 1, 36) (the weights were trained with another "
                   "config; use the config.json saved with them)\n")
