"""`Domain.respell`, `Domain.refocus` and `Domain.spell_out`: with the rerank, an input whose
reply stays flagged is answered again in the spelling the domain gives, or (a follow-up) in
the context the domain narrows to what it refers to, or, when no narrower context is left,
spelled out to be read alone; that reply is kept only when the check passes it against the
input as typed, in its context as it was. The model alone never does any of them."""

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


@pytest.fixture(scope="module")
def loaded(bundle):
    """One assistant of `bundle` for this module's tests (its compiled graphs are reused)."""
    return Assistant.load(bundle, cache_size=0)


@pytest.fixture(scope="module")
def context_loaded(context_bundle):
    return Assistant.load(context_bundle, cache_size=0)


def restored(assistant: Assistant):
    """`assistant` for one test: its domain and defaults are put back after it."""
    domain, defaults = assistant.domain, assistant.defaults
    yield assistant
    assistant.domain, assistant.defaults = domain, defaults


@pytest.fixture
def assistant(loaded):
    yield from restored(loaded)


@pytest.fixture
def context_assistant(context_loaded):
    yield from restored(context_loaded)


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


CONTEXT = "CV07:E217 T=85; SN02:W301 N=12"
NARROWED = "SN02:W301 N=12"
TURN = "and the sorter?"


class Refocusing(Respelling):
    """Flags every reply to TURN in CONTEXT but `good`; narrows CONTEXT to NARROWED."""

    def __init__(self, good: str) -> None:
        super().__init__(good)
        self.refocused: list[tuple[str, str]] = []

    def check(self, source, reply, context=""):
        return ["the turn means the sorter"] if (source, context) == (TURN, CONTEXT) \
            and reply != self.good else []

    def refocus(self, context, text):
        self.refocused.append((context, text))
        return NARROWED if context == CONTEXT else None


@pytest.fixture
def in_context(context_assistant):
    assistant = context_assistant
    assistant.domain = Refocusing(good="")
    assistant.defaults = {**assistant.defaults, "rerank": True}  # off in the bundle's config
    assistant.domain.good = assistant.reply(TURN, context=NARROWED).text
    assert assistant.reply(TURN, context=CONTEXT, rerank=False).text != assistant.domain.good
    assistant.domain.refocused.clear()
    return assistant


def test_a_flagged_follow_up_is_answered_in_the_context_narrowed_to_its_subject(in_context):
    reply = in_context.reply(TURN, context=CONTEXT)

    assert (reply.text, reply.flags) == (in_context.domain.good, ())
    assert in_context.domain.refocused == [(CONTEXT, TURN)]  # not again in NARROWED: passed


def test_the_refocused_reply_must_pass_the_check_in_the_context_as_it_was(in_context):
    in_context.domain.good = "nothing the model says"

    reply = in_context.reply(TURN, context=CONTEXT)

    assert (reply.text, reply.flags) == (f"could not read {TURN}",
                                         ("the turn means the sorter",))


def test_the_model_alone_and_an_unflagged_follow_up_are_not_refocused(in_context):
    in_context.reply(TURN, context=CONTEXT, rerank=False)
    in_context.reply("hello", context=CONTEXT)

    assert in_context.domain.refocused == []


class Alone(Refocusing):
    """As `Refocusing`, but TURN refers to nothing in CONTEXT: it is answered alone."""

    def refocus(self, context, text):
        self.refocused.append((context, text))
        return ""


def test_a_flagged_follow_up_that_refers_to_nothing_is_answered_alone(context_assistant):
    assistant = context_assistant
    assistant.domain = Alone(good="")
    assistant.defaults = {**assistant.defaults, "rerank": True}
    alone = assistant.reply(TURN).text
    assert assistant.reply(TURN, context=CONTEXT, rerank=False).text != alone
    assistant.domain.good = alone

    reply = assistant.reply(TURN, context=CONTEXT)

    assert (reply.text, reply.flags) == (alone, ())
    assert assistant.domain.refocused == [(CONTEXT, TURN)]


class SpellingOut(Refocusing):
    """As `Refocusing` (flags TURN in CONTEXT or NARROWED but `good`), but the context is
    narrowed only once, to NARROWED; TURN in NARROWED is spelled out as CANONICAL."""

    def __init__(self, good: str, narrow: bool) -> None:
        super().__init__(good)
        self.narrow = narrow
        self.spelled: list[tuple[str, str]] = []

    def check(self, source, reply, context=""):
        return ["the turn means the sorter"] if source == TURN and context in (
            CONTEXT, NARROWED) and reply != self.good else []

    def refocus(self, context, text):
        self.refocused.append((context, text))
        return NARROWED if self.narrow and context == CONTEXT else None

    def spell_out(self, context, text):
        self.spelled.append((context, text))
        return CANONICAL if text == TURN else None


def spelling_out(assistant: Assistant, narrow: bool) -> Assistant:
    assistant.domain = SpellingOut(good="", narrow=narrow)
    assistant.defaults = {**assistant.defaults, "rerank": True}
    assistant.domain.good = assistant.reply(CANONICAL).text
    for context in (CONTEXT, NARROWED):
        assert assistant.reply(TURN, context=context, rerank=False).text != \
            assistant.domain.good
    assistant.domain.spelled.clear()
    assistant.domain.refocused.clear()
    return assistant


def test_a_follow_up_its_context_cannot_narrow_is_spelled_out_and_read_alone(
        context_assistant):
    assistant = spelling_out(context_assistant, narrow=False)

    reply = assistant.reply(TURN, context=CONTEXT)

    assert (reply.text, reply.flags) == (assistant.domain.good, ())
    assert assistant.domain.refocused == [(CONTEXT, TURN)]
    assert assistant.domain.spelled == [(CONTEXT, TURN)]


def test_a_follow_up_still_flagged_in_its_narrowed_context_is_spelled_out(context_assistant):
    assistant = spelling_out(context_assistant, narrow=True)

    reply = assistant.reply(TURN, context=CONTEXT)

    assert (reply.text, reply.flags) == (assistant.domain.good, ())
    assert assistant.domain.refocused == [(CONTEXT, TURN), (NARROWED, TURN)]
    assert assistant.domain.spelled == [(NARROWED, TURN)]  # not in CONTEXT: it narrowed


def test_the_spelled_out_reply_must_pass_the_check_in_the_context_as_it_was(
        context_assistant):
    assistant = spelling_out(context_assistant, narrow=False)
    assistant.domain.good = "nothing the model says"

    reply = assistant.reply(TURN, context=CONTEXT)
    alone = assistant.reply(TURN, context=CONTEXT, rerank=False)

    assert (reply.text, reply.flags) == (f"could not read {TURN}",
                                         ("the turn means the sorter",))
    assert assistant.domain.spelled == [(CONTEXT, TURN)]  # the model alone: never
    assert alone.text != f"could not read {TURN}"
