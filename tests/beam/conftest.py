"""Fixtures of the Beam tests (skipped without the [beam] extra, which `make test` installs)."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("apache_beam", reason="the [beam] extra is not installed")

from assistant.cli.args import SHIPPED_MODEL
from assistant.core import constants
from tests.beam import fakes

DOMAIN_FILES = ("faithfulness.json", "record_order.json")  # the shipped bundle's


@pytest.fixture
def loads():
    """The loads of the fake loaders during one test."""
    fakes.LOADS.clear()
    yield fakes.LOADS
    fakes.LOADS.clear()


@pytest.fixture(scope="session")
def warehouse_bundle(bundle, tmp_path_factory):
    """The tiny bundle in the warehouse domain with the shipped bundle's catalog facts and
    record order, so its (poor) replies are checked and flagged, and fault lines split."""
    root = tmp_path_factory.mktemp("warehouse_tiny") / "model"
    shutil.copytree(bundle, root)
    for name in DOMAIN_FILES:
        shutil.copy(SHIPPED_MODEL / name, root / name)
    config_path = root / constants.CONFIG_FILE
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "domain": "warehouse"}), encoding="utf-8")
    return root


@pytest.fixture
def remote(tmp_path):
    """A "fakefs://" file system kept in tmp_path/remote; returns that directory."""
    root = tmp_path / "remote"
    root.mkdir()
    fakes.RemoteFileSystem.ROOT[0] = str(root)
    yield root
    fakes.RemoteFileSystem.ROOT[0] = "/nonexistent"
