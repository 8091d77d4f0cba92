"""Fixtures of the convert tests: a fake model and the command run in-process on it."""

from __future__ import annotations

import pytest

from assistant.cli.main import main
from tests.cli.convert.fakes import FakeAssistant


@pytest.fixture
def fake():
    return FakeAssistant()


@pytest.fixture
def convert(fake):
    """Runs `python -m assistant convert ARGS` in-process on the fake model (counting in
    `fake.loads` the times it is loaded)."""

    def load(_):
        fake.loads += 1
        return fake

    return lambda *args: main(["convert", *map(str, args)], load_assistant=load)
