"""The entry point: help worded for the bundle's domain, the loader handed to commands."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from assistant.cli.args import EXIT_OK, EXIT_USAGE, UsageError
from assistant.cli.main import main
from assistant.core import constants

RUNTIME_FLAGS = ("--rerank", "--retry-beam", "--segment")


def help_text(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == EXIT_OK
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["chat", "convert", "export"])
def test_a_bundle_of_your_own_pairs_shows_no_warehouse_options(bundle, capsys, command):
    text = help_text(capsys, command, "--model", str(bundle))
    assert not any(flag in text for flag in RUNTIME_FLAGS)
    assert not re.search(r"\bfault", text, re.IGNORECASE)


@pytest.mark.parametrize("command", ["chat", "convert", "export"])
def test_a_warehouse_bundle_shows_its_runtime_options(bundle, tmp_path, capsys, command):
    copy = tmp_path / "warehouse"
    shutil.copytree(bundle, copy)
    config = json.loads((copy / constants.CONFIG_FILE).read_text())
    (copy / constants.CONFIG_FILE).write_text(json.dumps({**config, "domain": "warehouse"}))
    text = help_text(capsys, command, "--model", str(copy))
    assert all(flag in text for flag in RUNTIME_FLAGS)


def test_the_top_level_help_names_the_domain(bundle, capsys, monkeypatch):
    assert "warehouse fault codes" in help_text(capsys)  # the shipped bundle
    monkeypatch.setenv("KERAS_ASSISTANT_MODEL", str(bundle))
    assert "trained on your own pairs" in help_text(capsys)


def test_commands_get_the_loader_they_are_given(capsys):
    def refuse(model_dir):
        raise UsageError(f"cannot load model: {model_dir}: no such model directory")

    assert main(["chat", "--model", "/nowhere"], load_assistant=refuse) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: cannot load model: /nowhere: no such model directory\n")
