"""`Domain.unreadable`: with the rerank, an input (or a record of a split line) the domain
refuses is answered by its fallback, flagged, and never decoded; the model alone decodes it."""

from __future__ import annotations

import pytest

from assistant.runtime import Assistant
from assistant.runtime.domain import Domain
from tests.runtime.graph_calls import batch_rows


class Refusing(Domain):
    """Splits at ";", refuses what starts with "??", and says so in its fallback."""

    runtime_options = ("rerank", "segment")

    def split(self, text):
        return [part.strip() for part in text.split(";")] if ";" in text else None

    def unreadable(self, text, context=""):
        return "noise" if text.strip().startswith("??") else None

    def fallback(self, source, flags, context=""):
        return f"cannot read {source}" if ";" not in source else None


@pytest.fixture
def assistant(bundle):
    assistant = Assistant.load(bundle, cache_size=0)
    assistant.domain = Refusing()
    return assistant


@pytest.fixture
def decodes(assistant, monkeypatch):
    """The rows of each batch the assistant's graphs decode."""
    return batch_rows(assistant, monkeypatch)


def test_a_refused_input_gets_its_fallback_without_decoding(assistant, decodes):
    reply = assistant.reply("?? x")

    assert (reply.text, reply.flags, reply.pieces) == ("cannot read ?? x", ("noise",), ())
    assert decodes == []


def test_a_refused_record_keeps_its_flag_in_the_joined_line(assistant):
    decoded = assistant.reply("CV07:E217 T=85").text
    reply = assistant.reply("CV07:E217 T=85; ?? x")

    assert reply.text == f"{decoded} cannot read ?? x"
    assert reply.flags == ("noise",)


def test_the_model_alone_decodes_what_the_domain_refuses(assistant, decodes):
    reply = assistant.reply("?? x", rerank=False)

    assert reply.flags == () and reply.pieces and reply.text != "cannot read ?? x"
    assert decodes
