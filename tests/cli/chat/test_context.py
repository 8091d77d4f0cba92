"""The chat remembers what it is about: a scripted conversation with follow-up questions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.cli.chat.backend import Backend, backend_from_assistant
from assistant.domains.warehouse import WarehouseDomain, faithfulness
from assistant.runtime.domain import NullDomain
from assistant.runtime.reply import Reply
from tests.cli.chat.fakes import CTRL_D, DEFAULTS, ENTER, console, drive

BUNDLE = Path(__file__).resolve().parents[3] / "saved_models" / "warehouse"
LINE = "CV07:E217 T=85; SN02:W301 N=12"
E217 = ("Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor and "
        "let the motor cool before restarting.")
W301 = ("Sorter 2 warning W301: repeated jams, 12 jams in the last hour; check the diverter "
        "and guide rails for debris.")
WHICH = "Which one: E217 on conveyor 7 or W301 on sorter 2?"
# A model trained with context, as a table: (context, turn) -> reply.
ANSWERS = {("", LINE): f"{W301} {E217}", (LINE, "how do I fix it?"): WHICH,
           (LINE, "what about the sorter?"): W301}


@pytest.fixture(scope="module")
def domain():
    return WarehouseDomain(faithfulness.load_checker(BUNDLE / faithfulness.BUNDLE_FILE))


def backend(domain, calls: list, reads_context: bool = True) -> Backend:
    def reply(text, context="", **options):
        calls.append((context, text))
        return Reply(text=ANSWERS.get((context, text), f"reply to {text}"), score=-0.5)

    return Backend("fake", reply, DEFAULTS, location="/models/fake",
                   hint="Type a fault-code line or a question", remember=domain.remember,
                   describe_context=domain.describe_context, reads_context=reads_context)


def test_a_follow_up_is_answered_about_the_fault_just_discussed(domain):
    calls: list = []
    keys = ENTER.join([LINE, "how do I fix it?", "what about the sorter?", "/show", "/reset",
                       "how do I fix it?"])
    lines, session = drive(keys + ENTER + CTRL_D, backend=backend(domain, calls),
                           console=console(width=400))
    assert lines[2:] == [
        f"{W301} {E217}", "score -0.50 · 12 ms",
        "it: E217 on conveyor 7 or W301 on sorter 2", WHICH, "score -0.50 · 12 ms",
        "it: E217 on conveyor 7 or W301 on sorter 2", W301, "score -0.50 · 12 ms",
        "model     fake (/models/fake)",
        "decoding  beam search, width 5, n-best 1, length penalty 0.6",
        "lengths   min 0, max 200 + 2 x input pieces",
        "changed   nothing (model defaults)",
        f"context   {LINE} >> SN02:W301",
        "it        W301 on sorter 2",
        "history   InMemoryHistory",
        "settings reset to the model's defaults; context cleared",
        "reply to how do I fix it?", "score -0.50 · 12 ms",
    ]
    assert calls == [("", LINE), (LINE, "how do I fix it?"), (LINE, "what about the sorter?"),
                     ("", "how do I fix it?")]
    assert session.context == ""
    assert "  (it: E217 on conveyor 7 or W301 on sorter 2)" in session.transcript


def test_a_model_trained_without_context_is_said_to_answer_alone(domain):
    calls: list = []
    other = Backend("plain", lambda text, **options: Reply(text="plain", score=-1.0), DEFAULTS)
    keys = ENTER.join(["CV07:E217 T=85", "how serious is it?", "/show", "/model /m/plain",
                       "how serious is it?"])
    lines, session = drive(keys + ENTER + CTRL_D, backend=backend(domain, calls, False),
                           console=console(width=400), load_backend=lambda path: other)
    assert ("it: E217 on conveyor 7 (not read by this model: it answers the line on its "
            "own)") in lines
    assert "context   CV07:E217 T=85 (not read by this model; the check uses it)" in lines
    assert calls[1] == ("CV07:E217 T=85", "how serious is it?")  # its check reads it
    assert lines[-2:] == ["plain", "score -1.00 · 12 ms"]  # a model without domain: none kept
    assert session.context == "" and not any(line.startswith("it: ") for line in lines[-3:])


def test_a_session_keeps_context_when_the_model_or_the_domain_reads_it(domain):
    def wrapped(reads_context, checks):
        assistant = SimpleNamespace(name="m", reply=None, defaults={}, warm_up=None,
                                    reads_context=reads_context,
                                    domain=domain if checks else NullDomain())
        return backend_from_assistant(assistant)

    assert wrapped(True, True).remember == domain.remember
    assert wrapped(False, True).remember == domain.remember
    assert wrapped(False, True).reads_context is False
    assert wrapped(True, False).remember is not None  # the null domain keeps the last text
    assert wrapped(False, False).remember is None
