"""Fixtures of the warehouse tests: the shipped fault catalog, raw and loaded, and the
faithfulness checker bound to it."""

from __future__ import annotations

import pytest
import yaml

from assistant.domains.warehouse import catalog as catalog_lib
from assistant.domains.warehouse import faithfulness, messages


@pytest.fixture(scope="module")
def raw_catalog():
    return yaml.safe_load(catalog_lib.DEFAULT_CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog():
    return catalog_lib.load_catalog()


@pytest.fixture(scope="module")
def catalog_checker(raw_catalog):
    """The `faithfulness.Checker` of the shipped catalog, as a bundle's file would bind it."""
    return faithfulness.Checker(
        frozenset(faithfulness.allowed_numbers_from_catalog(raw_catalog)),
        frozenset(faithfulness.allowed_codes_from_catalog(raw_catalog)),
        dict(raw_catalog["equipment"]), faithfulness.code_table_from_catalog(raw_catalog),
        messages.MESSAGE_PHRASES,
        {prefix: tuple(aliases) for prefix, aliases in raw_catalog["aliases"].items()})
