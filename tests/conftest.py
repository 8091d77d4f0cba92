"""Shared fixtures: tiny tokenizers and models that build in seconds."""

from __future__ import annotations

import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

TINY_MODEL = {
    "embedding_dim": 16,
    "encoder_units": 8,
    "decoder_units": 16,
    "attention_units": 8,
    "dropout": 0.0,
}

# `--set` overrides of a training run that finishes in seconds.
TINY_OVERRIDES = [
    "tokenizer.vocab_size=400",
    "model.embedding_dim=16",
    "model.encoder_units=8",
    "model.decoder_units=16",
    "model.attention_units=8",
    "model.encoder_layers=1",
    "train.batch_size=16",
]

SAMPLE_TEXTS = [
    "CV07:E217 T=85",
    "Conveyor 7: motor temperature 85 °C. Stop the conveyor and let the motor cool.",
    "SN02:W301 N=12",
    "Sorter 2: 12 jams in the last hour. Check the diverter.",
    "hello",
    "Hello! How can I help?",
    "what does E217 mean?",
    "E217 means motor over-temperature.",
]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from training.tokenizer_training import TokenizerConfig, train_tokenizer

    return train_tokenizer(SAMPLE_TEXTS * 20, TokenizerConfig(vocab_size=400), seed=0)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """A tiny bundle trained for one epoch on 60 fault lines (poor replies, but deterministic).

    Shared by every test module that needs a real model; tests copy it before changing it.
    """
    from rich.console import Console

    from training.config import load_run_config
    from training.trainer import train

    root = tmp_path_factory.mktemp("bundle")
    lines = [f"CV{u:02d}:E217 T={t}\tConveyor {u}: motor at {t} °C."
             for u, t in zip(range(1, 61), range(30, 90), strict=True)]
    (root / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    quiet = Console(file=io.StringIO())
    train(root / "pairs.tsv", root / "model",
          load_run_config(overrides=[*TINY_OVERRIDES, "train.epochs=1"]), console=quiet)
    return root / "model"


@pytest.fixture(scope="session")
def segmented_bundle(bundle, tmp_path_factory):
    """A copy of the tiny bundle in the warehouse domain with `RECORD_ORDER` (and no
    faithfulness check), shared by the export and the evaluation tests."""
    import json
    import shutil

    from assistant.core import constants
    from assistant.domains.warehouse import segment
    from tests.serving.support import RECORD_ORDER

    root = tmp_path_factory.mktemp("segmented") / "model"
    shutil.copytree(bundle, root)
    (root / segment.RECORD_ORDER_FILE).write_text(json.dumps(RECORD_ORDER.to_json()),
                                                  encoding="utf-8")
    config = json.loads((root / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    (root / constants.CONFIG_FILE).write_text(json.dumps({**config, "domain": "warehouse"}),
                                              encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def segmented_export(segmented_bundle, tmp_path_factory):
    """`segmented_bundle` exported through the CLI: (version directory, what it printed)."""
    import contextlib

    from assistant.cli.main import main

    out = tmp_path_factory.mktemp("segmented_export") / "served"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--model", str(segmented_bundle), "--out", str(out),
                     "--max-beam", "2"]) == 0
    return out / "1", printed.getvalue()


@pytest.fixture(scope="session")
def context_bundle(tmp_path_factory):
    """A tiny bundle that reads context (untrained, seeded), in the warehouse domain with
    the export tests' `RECORD_ORDER`: see `tests.context_bundle`."""
    from tests.context_bundle import make_context_bundle
    from tests.serving.support import RECORD_ORDER

    return make_context_bundle(tmp_path_factory.mktemp("context"), RECORD_ORDER)
