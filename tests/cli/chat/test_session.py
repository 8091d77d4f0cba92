"""The chat REPL: scripted sessions against a fake model, and one real model."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from assistant.cli.chat import render
from assistant.cli.chat.backend import Backend
from assistant.cli.chat.commands import (
    Settings,
)
from assistant.cli.chat.session import ChatSession, _default_history
from assistant.runtime.assistant import Reply
from tests.cli.chat.fakes import CTRL_C, CTRL_D, DEFAULTS, ENTER, console, drive, fake_reply


def test_a_scripted_session():
    lines, _ = drive(ENTER.join(["hello", "CV07:E217 T=86", "/beam 3", "/nbest 2", "CV1:E217",
                                 "/attn", "/frobnicate", "/beam zero", ""]) + CTRL_D)
    assert lines == [
        "keras-assistant · model fake (beam search, width 5, n-best 1, length penalty 0.6)",
        "Type a fault-code line or a question. /help for commands, Ctrl-D or /exit to leave.",
        "reply to hello",
        "score -1.00 · 12 ms",
        "reply to CV07:E217 T=86",
        "score -1.00 · 12 ms",
        "⚠ check: number 86 not in input",
        "beam search, width 3, n-best 1, length penalty 0.6",
        "beam search, width 3, n-best 2, length penalty 0.6",
        "#   score   reply",
        "─" * 37,
        "1   -1.00   reply to CV1:E217",
        "2   -2.00   alternative 2 to CV1:E217",
        "12 ms",
        "attention (rows: reply pieces, columns: input pieces; ░ ≥0.05  ▒ ≥0.2  ▓ ≥0.4  █ ≥0.7)",
        "          ▁ 0 :",
        "          C 7 E",
        "          V",
        "▁Conveyor ██░░",
        "▁7        ░░▒▒▓▓",
        "</s>          ██",
        "unknown command /frobnicate; /help lists the commands",
        "/beam needs a whole number >= 1, got 'zero'",
    ]


def test_options_reach_the_model_and_show_lists_them():
    seen = []
    lines, session = drive(ENTER.join(["/sample temperature=0.7 top_k=20", "hi", "/show",
                                       "/reset", "hi", "/exit", "never read"]) + ENTER,
                           reply=lambda text, **o: seen.append(o) or fake_reply(text, **o),
                           options={"beam_width": 8, "strategy": "beam"})
    assert seen == [{"beam_width": 8, "strategy": "sample", "temperature": 0.7, "top_k": 20}, {}]
    assert "sampling, temperature 0.7, top-k 20, top-p off, seed 0" in lines
    assert "decoding  sampling, temperature 0.7, top-k 20, top-p off, seed 0" in lines
    assert "changed   beam_width, strategy, temperature, top_k" in lines
    assert "model     fake (/models/fake)" in lines
    assert "settings reset to the model's defaults" in lines
    assert not any("never read" in line for line in lines)
    assert session.settings.overrides == {}


def test_model_text_is_not_markup_and_control_characters_are_shown_escaped():
    lines, _ = drive("x" + ENTER + CTRL_D, reply=lambda text, **o: Reply(
        text="[bold]x[/bold] \x1b[31mred", score=-0.5, flags=("[red]flag[/red]",)))
    assert lines[2:] == ["[bold]x[/bold] \\x1b[31mred", "score -0.50 · 12 ms",
                         "⚠ check: [red]flag[/red]"]


def test_bad_inputs_never_end_the_session():
    pasted = "\x1b[200~ctrl \x07\x01 chars 😀\x1b[201~"  # a bracketed paste: taken literally
    long_line = "\x1b[200~" + "y" * 10_000 + "\x1b[201~"
    keys = ENTER.join(["", "   ", long_line, pasted, "boom", "after"])
    lines, _ = drive(keys + ENTER + CTRL_D)
    assert lines[2:] == [
        "input too long: 2000 pieces, the limit is 256",
        "reply to ctrl \\x07\\x01 chars 😀",
        "score -1.00 · 12 ms",
        "RuntimeError: the graph fell over",
        "reply to after",
        "score -1.00 · 12 ms",
    ]


def test_a_reply_with_an_error_and_an_invalid_option_are_one_line_messages():
    def reply(text, **options):
        if options:
            raise ValueError("beam_width must be an int >= 1, got 0")
        return Reply(text="", score=float("nan"), error="empty input")

    lines, _ = drive(ENTER.join(["a", "/beam 2", "b"]) + ENTER + CTRL_D, reply=reply)
    assert lines[2:] == ["empty input", "beam search, width 2, n-best 1, length penalty 0.6",
                         "beam_width must be an int >= 1, got 0"]


def test_ctrl_c_clears_the_line_and_blocks_are_answered_line_by_line():
    keys = "forgotten" + CTRL_C + '"""' + ENTER + "one" + ENTER + ENTER + "two" + ENTER + '"""'
    lines, _ = drive(keys + ENTER + CTRL_D)
    assert lines[2:] == ["› one", "reply to one", "score -1.00 · 12 ms",
                         "› two", "reply to two", "score -1.00 · 12 ms"]


def test_save_writes_the_transcript(tmp_path):
    target = tmp_path / "chats" / "today.txt"
    keys = ENTER.join(["hello 86", "/nbest 2", "CV1", "", f"/save {target}",
                       f"/save {tmp_path}"])
    # Wide enough that no temporary path (pytest-xdist's are longer) wraps.
    lines, _ = drive(keys + ENTER + CTRL_D, console=console(width=400))
    assert f"transcript saved to {target}" in lines
    assert lines[-1].startswith(f"cannot save to {tmp_path}: ")
    saved = target.read_text(encoding="utf-8").splitlines()
    assert saved[0].startswith("# keras-assistant chat with fake, ")
    assert saved[1:] == [
        "> hello 86", "reply to hello 86", "  (score -1.00)", "  warning: number 86 not in input",
        "# beam search, width 5, n-best 2, length penalty 0.6",
        "> CV1", "reply to CV1", "  (score -1.00)", "  1. (-1.00) reply to CV1",
        "  2. (-2.00) alternative 2 to CV1",
    ]
    assert not list(target.parent.glob(".*.tmp"))


def test_model_switch_keeps_the_old_model_on_failure():
    def load(directory: Path) -> Backend:
        if directory.name == "missing":
            raise ValueError(f"cannot load model: {directory}: no such model directory")
        return Backend(directory.name, lambda text, **o: Reply(text="other", score=-2.0),
                       {"strategy": "greedy"})

    lines, session = drive(ENTER.join(["/model /m/missing", "a", "/model /m/other", "b"])
                           + ENTER + CTRL_D, load_backend=load)
    assert lines[2:] == ["cannot load model: /m/missing: no such model directory",
                         "reply to a", "score -1.00 · 12 ms",
                         "model other (greedy)", "other", "score -2.00 · 12 ms"]
    assert session.backend.name == "other"


def test_warm_up_runs_in_the_background_and_the_first_reply_waits_for_it():
    events, active, release = [], [], threading.Event()

    def call(name):
        assert not active, f"{name} ran concurrently with {active}"
        active.append(name)
        if name == "warm_up":
            release.wait(10)
        events.append(name)
        active.remove(name)

    def reply(text, **options):
        call(f"reply {text}")
        return fake_reply(text, **options)

    def release_when_the_user_waits():
        for _ in range(1000):
            if session._gate._users_waiting:
                break
            threading.Event().wait(0.01)
        release.set()

    backend = Backend("fake", reply, DEFAULTS, warm_up=lambda **o: call("warm_up"))
    with create_pipe_input() as pipe:
        pipe.send_text("hi" + ENTER + CTRL_D)
        session = ChatSession(backend, console(), session_input=pipe, output=DummyOutput(),
                              history=InMemoryHistory())
        threading.Thread(target=release_when_the_user_waits).start()
        session.run()
    # The reply waited for the warm-up step, then went before the remaining background steps.
    assert events[:2] == ["warm_up", "reply hi"]
    assert "waiting for the model to finish compiling…" in session.console.file.getvalue()


def test_attention_wider_than_the_console_continues_below():
    reply = Reply(text="x", score=0.0, attention=np.eye(2, 30, dtype=np.float32),
                  source_pieces=tuple("abcdefghijklmnopqrstuvwxyz1234"), pieces=("▁x", "</s>"))
    out = console(width=30)
    render.show_attention(out, reply)
    lines = [line.rstrip() for line in out.file.getvalue().splitlines()]
    assert lines[-11:] == ["     a b c d e f g h i j k l", "▁x   ██", "</s>   ██", "",
                           "     m n o p q r s t u v w x", "▁x", "</s>", "",
                           "     y z 1 2 3 4", "▁x", "</s>"]


def test_attention_shows_how_much_of_each_piece_was_copied():
    reply = Reply(text="x 7", score=0.0, attention=np.eye(3, 2, dtype=np.float32),
                  source_pieces=("▁CV", "07"), pieces=("▁x", "▁7", "</s>"),
                  copy_gate=(0.9, 0.05, 1.0))
    out = console(width=80)
    render.show_attention(out, reply)
    lines = [line.rstrip() for line in out.file.getvalue().splitlines()]
    assert lines[-4:] == ["copied from the input (1 - copy gate p_gen), per reply piece:",
                          "▁x   ░░ 0.10", "▁7   ██ 0.95", "</s>    0.00"]


def test_no_color_is_honoured(monkeypatch):
    reply = Reply(text="x", score=0.0, flags=("number 1 not in input",))
    colored = Console(file=io.StringIO(), force_terminal=True, color_system="standard")
    render.show_reply(colored, reply)
    assert "\x1b[33m" in colored.file.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Console(file=io.StringIO(), force_terminal=True, color_system="standard")
    render.show_reply(plain, reply)
    assert "\x1b[33m" not in plain.file.getvalue()
    assert "number 1 not in input" in plain.file.getvalue()


@pytest.mark.skipif(sys.platform != "linux", reason="platformdirs reads XDG_STATE_HOME on Linux")
def test_history_falls_back_to_memory_when_the_state_directory_is_not_writable(
        tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    history, where = _default_history()
    assert where == str(tmp_path / "state" / "keras-assistant" / "history")
    assert Path(where).is_file()
    (tmp_path / "blocker").write_text("a file, not a directory")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "blocker"))
    history, where = _default_history()
    assert type(history).__name__ == "InMemoryHistory"
    assert where.startswith("in memory")


def test_the_banner_shows_no_hint_when_the_domain_gives_none():
    out = console()
    render.banner(out, "mine", Settings({}), hint="")
    assert out.file.getvalue().splitlines()[1] == "/help for commands, Ctrl-D or /exit to leave."


@pytest.mark.slow
def test_a_session_on_a_real_model(bundle):
    from assistant.cli.chat.backend import backend_from_assistant
    from assistant.runtime.assistant import Assistant

    backend = backend_from_assistant(Assistant.load(bundle), bundle)
    out = console()
    with create_pipe_input() as pipe:
        pipe.send_text(ENTER.join(["/beam 2", "/nbest 2", "CV07:E217 T=85", "/attn",
                                   "/sample top_p=0.5", "hi", "/attn", "/nbest 3", "/lenpen 0",
                                   CTRL_D]))
        session = ChatSession(backend, out, session_input=pipe, output=DummyOutput(),
                              history=InMemoryHistory(), warm_up=False)
        assert session.run() == 0
    lines = [line.rstrip() for line in out.file.getvalue().splitlines()]
    print("\n".join(lines))  # shown when an assertion fails
    assert lines[0].startswith("keras-assistant · model model (")
    assert any(line.startswith("beam search, width 2, n-best 2, length penalty") for line in lines)
    assert any(line.startswith("#") and line.endswith("score   reply") for line in lines)
    assert any(line.startswith("attention (rows: reply pieces") for line in lines)
    reply = session.last_reply
    assert reply.attention.shape == (len(reply.pieces), len(reply.source_pieces))
    labels = [render.printable(piece)[:11] for piece in reply.pieces]
    assert all(any(line.startswith(label) for line in lines) for label in labels)
    assert "sampling, temperature 1, top-k off, top-p 0.5, seed 0" in lines
    assert lines[-2].startswith("beam search, width 3, n-best 3, length penalty ")
    assert lines[-2].endswith(" (beam width raised to 3)")
    assert lines[-1].endswith("length penalty 0")
