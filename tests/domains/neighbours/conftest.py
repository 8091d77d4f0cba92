"""The neighbours tests' tiny bundle, trained once per session."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.conftest import TINY_OVERRIDES
from tests.domains.neighbours.support import PAIRS
from training.config import load_run_config
from training.trainer import train


@pytest.fixture(scope="session")
def neighbours_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("neighbours")
    (root / "pairs.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS), encoding="utf-8")
    config = load_run_config(overrides=[*TINY_OVERRIDES, "train.epochs=1", "train.neighbours=true"])
    train(root / "pairs.tsv", root / "model", config, console=Console(file=io.StringIO()))
    return root / "model"
