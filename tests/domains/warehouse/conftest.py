"""Fixtures of the warehouse tests: the shipped fault catalog, raw and loaded."""

from __future__ import annotations

import pytest
import yaml

from assistant.domains.warehouse import catalog as catalog_lib


@pytest.fixture(scope="module")
def raw_catalog():
    return yaml.safe_load(catalog_lib.DEFAULT_CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog():
    return catalog_lib.load_catalog()
