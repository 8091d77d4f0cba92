"""`Domain.respell`: with the rerank, an input whose reply stays flagged is answered again in
the spelling the domain gives; that reply is kept only when the check passes it against the
input as typed. The model alone never respells."""

from __future__ import annotations

import pytest

from assistant.runtime import Assistant
from assistant.runtime.domain import Domain

CANONICAL = "CV07:E217 T=85"
TYPED = "typo cv 7 e217 t=85"


class Respelling(Domain):
    """Flags every reply to a "typo" input but `good`; respells it as CANONICAL."""

    runtime_options = ("rerank", "segment")

    def __init__(self, good: str) -> None:
        self.good = good
        self.respelled: list[str] = []

    @property
    def checks(self) -> bool:
        return True

    def check(self, source, reply, context=""):
        return ["a typo"] if source.startswith("typo") and reply != self.good else []

    def respell(self, text):
        self.respelled.append(text)
        return CANONICAL if text.startswith("typo") else None

    def fallback(self, source, flags, context=""):
        return f"could not read {source}"


@pytest.fixture
def assistant(bundle):
    return Assistant.load(bundle, cache_size=0)


def respelling(assistant) -> str:
    """Gives `assistant` a `Respelling` domain whose good reply is its reply to CANONICAL."""
    assistant.domain = Respelling(good="")
    assistant.domain.good = assistant.reply(CANONICAL).text
    assistant.domain.respelled.clear()
    return assistant.domain.good


def test_a_flagged_input_is_answered_in_the_domain_s_spelling(assistant):
    canonical = respelling(assistant)

    reply = assistant.reply(TYPED)

    assert (reply.text, reply.flags) == (canonical, ())
    assert assistant.domain.respelled == [TYPED]  # once: the canonical line is not respelled


def test_the_respelled_reply_must_pass_the_check_of_the_typed_input(assistant):
    assistant.domain = Respelling(good="nothing the model says")

    reply = assistant.reply(TYPED)

    assert (reply.text, reply.flags) == (f"could not read {TYPED}", ("a typo",))


def test_an_unflagged_reply_and_the_model_alone_are_not_respelled(assistant):
    respelling(assistant)

    assistant.reply(CANONICAL)
    alone = assistant.reply(TYPED, rerank=False)

    assert assistant.domain.respelled == []
    assert alone.text != f"could not read {TYPED}"  # the model alone has no fallback either
