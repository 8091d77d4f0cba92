"""Bad input against the chat (issue 17): the REPL never wedges, the pipe answers every line.

The REPL is driven with scripted keys (a fake model) and, for what only a real terminal
shows, on a pseudo-terminal (`terminal.py`). Every case asserts what the user sees, and that
each input gets its one answer or one message, in input order.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from assistant.cli.args import UsageError
from assistant.cli.chat import command
from assistant.cli.chat.backend import Backend
from assistant.cli.chat.pipe import run_pipe
from assistant.cli.chat.session import ChatSession
from assistant.runtime.domain import NullDomain
from assistant.runtime.reply import InputError, Reply
from tests.cli.chat.fakes import CTRL_C, CTRL_D, DEFAULTS, ENTER, console, fake_reply
from tests.cli.chat.terminal import COMPILING, REPLY_STARTED, PseudoTerminal

SCORE = "score -1.00 · 12 ms"
WITHIN = 1.0  # seconds: Ctrl-C and Ctrl-D act within this, even mid-reply or mid-compile
INVALID = "invalid UTF-8 (bytes replaced by U+FFFD)"

# (keys typed, or bytes sent, on one line; what the REPL shows for them)
TYPED = {
    "empty line": ("", []),
    "spaces": ("    ", []),
    "colour code, parsed as a malformed mouse report": ("\x1b[31mred",
                                                        ["reply to \\x1b[31mred", SCORE]),
    "bold colour code": ("\x1b[1;31;40mx", ["reply to \\x1b[1;31;40mx", SCORE]),
    "SGR mouse press": ("\x1b[<0;3;1Mhi", ["reply to hi", SCORE]),
    "SGR mouse release off the screen": ("\x1b[<0;500;900mhi", ["reply to hi", SCORE]),
    "urxvt mouse report": ("\x1b[32;3;1Mhi", ["reply to hi", SCORE]),
    "X10 mouse report with an unknown button": ("\x1b[Mzzzhi", ["reply to hi", SCORE]),
    "stray byte": (b"CV07 \xff", [f"⚠ {INVALID}", "reply to CV07 \ufffd", SCORE]),
    "truncated UTF-8": (b"CV07 \xe2\x82", [f"⚠ {INVALID}", "reply to CV07 \ufffd\ufffd", SCORE]),
    "pasted control characters": ("\x1b[200~a\x07\x01\x00b\x1b[201~",
                                  ["reply to a\\x07\\x01\\x00b", SCORE]),
    "huge paste": ("\x1b[200~" + "y" * 20_000 + "\x1b[201~",
                   ["input too long: 2000 pieces, the limit is 256"]),
    "emoji and right-to-left text": ("😀 שלום", ["reply to 😀 שלום", SCORE]),
    "a failing model": ("boom", ["RuntimeError: the graph fell over"]),
}


def _keys(pipe, keys: str | bytes) -> None:
    (pipe.send_bytes if isinstance(keys, bytes) else pipe.send_text)(keys)


def _session(pipe, reply=fake_reply, **kwargs) -> ChatSession:
    return ChatSession(Backend("fake", reply, DEFAULTS, **kwargs), console(),
                       session_input=pipe, output=DummyOutput(), history=InMemoryHistory(),
                       warm_up="warm_up" in kwargs, clock=itertools.count(0, 0.012).__next__)


def _shown(session: ChatSession) -> list[str]:
    return [line.rstrip() for line in session.console.file.getvalue().splitlines()][2:]


def _until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _press_when(ready, pipe, keys: str, pressed: list[float] | None = None) -> None:
    """Types `keys` from another thread once `ready()` is true or the event `ready` is set
    (after 10 s anyway, so that a failing test ends); appends the time to `pressed`."""
    check = ready.is_set if isinstance(ready, threading.Event) else ready

    def press() -> None:
        _until(check)
        if pressed is not None:
            pressed.append(time.monotonic())
        pipe.send_text(keys)

    threading.Thread(target=press, daemon=True).start()


@pytest.mark.parametrize("case", TYPED)
def test_a_bad_line_gets_its_answer_or_message_and_the_session_goes_on(case):
    keys, shown = TYPED[case]
    with create_pipe_input() as pipe:
        _keys(pipe, keys)
        pipe.send_text(ENTER + "after" + ENTER + CTRL_D)
        session = _session(pipe)
        assert session.run() == 0
    assert _shown(session) == [*shown, "reply to after", SCORE]


def test_every_bad_line_in_one_session_is_answered_in_order():
    with create_pipe_input() as pipe:
        for keys, _ in TYPED.values():
            _keys(pipe, keys)
            pipe.send_text(ENTER)
        pipe.send_text(CTRL_D)
        session = _session(pipe)
        assert session.run() == 0
    assert _shown(session) == [line for _, shown in TYPED.values() for line in shown]


class SlowModel:
    """A fake model whose reply to "slow" (and warm-up, if asked) block until released."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.answered: list[str] = []

    def reply(self, text: str, **options) -> Reply:
        if text == "slow":
            self.started.set()
            self.release.wait(30)
        self.answered.append(text)
        return fake_reply(text, **options)

    def warm_up(self, **options) -> None:
        self.started.set()
        self.release.wait(30)


def test_ctrl_d_during_a_reply_leaves_at_once():
    model, pressed = SlowModel(), []
    with create_pipe_input() as pipe:
        pipe.send_text("slow" + ENTER)
        session = _session(pipe, model.reply)
        _press_when(model.started, pipe, CTRL_D, pressed)
        assert session.run() == 0
        assert time.monotonic() - pressed[0] < WITHIN
    assert session.busy  # the reply still runs; `chat` then ends with os._exit
    model.release.set()
    assert _until(lambda: not session.busy)
    assert _shown(session) == []  # its reply was dropped


def test_ctrl_c_during_a_reply_gives_the_prompt_back_and_the_next_reply_waits():
    model, pressed = SlowModel(), []
    with create_pipe_input() as pipe:
        pipe.send_text("slow" + ENTER)
        session = _session(pipe, model.reply)
        _press_when(model.started, pipe, CTRL_C, pressed)
        _press_when(lambda: "interrupted" in _shown(session), pipe, "next" + ENTER)
        threading.Thread(target=lambda: (_until(lambda: session._gate._users_waiting),
                                         model.release.set()), daemon=True).start()
        _press_when(lambda: SCORE in _shown(session), pipe, CTRL_D)
        assert session.run() == 0
    assert _shown(session) == ["interrupted", "waiting for the model to finish the previous reply…",
                               "reply to next", SCORE]
    assert model.answered == ["slow", "next"]
    assert session.transcript == ["> slow", "  (interrupted)", "> next", "reply to next",
                                  "  (score -1.00)"]


def test_keys_typed_during_a_reply_wait_for_the_next_prompt():
    model = SlowModel()
    with create_pipe_input() as pipe:
        pipe.send_text("slow" + ENTER)
        session = _session(pipe, model.reply)
        _press_when(model.started, pipe, "typed ahead" + ENTER)
        threading.Thread(target=lambda: (time.sleep(0.3), model.release.set()),
                         daemon=True).start()
        _press_when(lambda: _shown(session).count(SCORE) == 2, pipe, CTRL_D)
        assert session.run() == 0
    assert _shown(session) == ["reply to slow", SCORE, "reply to typed ahead", SCORE]


def test_ctrl_d_while_a_reply_waits_for_the_compile_leaves_and_the_reply_never_runs():
    model, pressed = SlowModel(), []
    with create_pipe_input() as pipe:
        pipe.send_text("hi" + ENTER)
        session = _session(pipe, model.reply, warm_up=model.warm_up)
        waiting = "waiting for the model to finish compiling…"
        _press_when(lambda: waiting in _shown(session), pipe, CTRL_D, pressed)
        assert session.run() == 0
        assert time.monotonic() - pressed[0] < WITHIN
    assert session.busy
    model.release.set()
    assert _until(lambda: not session.busy and not session._gate._users_waiting)
    time.sleep(0.1)
    assert model.answered == [] and _shown(session) == [waiting]


def test_ctrl_d_at_the_prompt_during_the_compile_leaves_at_once():
    model, pressed = SlowModel(), []
    with create_pipe_input() as pipe:
        session = _session(pipe, model.reply, warm_up=model.warm_up)
        _press_when(model.started, pipe, CTRL_D, pressed)
        assert session.run() == 0
        assert time.monotonic() - pressed[0] < WITHIN
    assert session.busy
    model.release.set()
    assert _until(lambda: not session.busy)


def test_ctrl_c_during_a_model_switch_keeps_the_current_model():
    model, pressed = SlowModel(), []

    def load(directory):
        model.warm_up()
        return Backend("other", fake_reply, DEFAULTS)

    with create_pipe_input() as pipe:
        pipe.send_text("/model /m/other" + ENTER)
        session = ChatSession(Backend("fake", fake_reply, DEFAULTS), console(),
                              load_backend=load, session_input=pipe, output=DummyOutput(),
                              history=InMemoryHistory(), warm_up=False)
        _press_when(model.started, pipe, CTRL_C, pressed)
        _press_when(lambda: "interrupted" in _shown(session), pipe, CTRL_D)
        assert session.run() == 0
    model.release.set()
    assert _shown(session) == ["interrupted"] and session.backend.name == "fake"


def test_a_beam_too_wide_is_refused_before_the_chat_starts():
    fake = SimpleNamespace(name="fake", reply=fake_reply, defaults=DEFAULTS, warm_up=None,
                           domain=SimpleNamespace(hint=""))
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(), NullDomain)
    with pytest.raises(UsageError) as error:
        command.run(parser.parse_args(["chat", "--beam", "1000"]),
                    SimpleNamespace(load_assistant=lambda directory: fake))
    assert str(error.value) == ("beam_width must be an int from 1 to 64 "
                                "(memory and time grow with the width), got 1000")


# --- the REPL on a pseudo-terminal --------------------------------------------------------
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


@pytest.fixture
def terminal(tmp_path):
    """`chat` on a pseudo-terminal, a fake model behind it (`terminal.py`); a factory."""
    opened = []

    def open_terminal(*arguments: str) -> PseudoTerminal:
        opened.append(PseudoTerminal("tests.cli.chat.terminal", list(arguments),
                                     {"XDG_STATE_HOME": str(tmp_path)}))
        assert opened[-1].expect("to leave."), opened[-1].screen
        return opened[-1]

    yield open_terminal
    for child in opened:
        child.close()


def _left_within(child: PseudoTerminal, seconds: float) -> bool:
    pressed = time.monotonic()
    code = child.wait(10)
    took = time.monotonic() - pressed
    print(f"exit code {code} after {took:.2f} s")  # shown when the test fails
    return code == 0 and took < seconds


@posix_only
def test_on_a_terminal_escape_codes_and_stray_bytes_do_not_wedge_the_prompt(terminal):
    child = terminal()
    child.send(b"\x1b[31mhi\r")
    assert child.expect("reply to \\x1b[31mhi"), child.screen
    child.send(b"CV07 \xff\r")
    assert child.expect(f"⚠ {INVALID}") and child.expect("reply to CV07 \ufffd"), child.screen
    child.send(CTRL_D.encode())
    assert _left_within(child, WITHIN), child.screen
    assert "Unhandled exception" not in child.screen


@posix_only
def test_on_a_terminal_ctrl_c_and_ctrl_d_act_during_a_reply(terminal):
    child = terminal()
    child.send(b"slow\r")
    assert child.expect(REPLY_STARTED), child.screen
    child.send(CTRL_C.encode())
    assert child.expect("interrupted", timeout=WITHIN), child.screen
    child.send(b"hi\r")  # waits for the reply still running
    assert child.expect("waiting for the model to finish the previous reply…"), child.screen
    child.send(CTRL_D.encode())
    assert _left_within(child, WITHIN), child.screen


@posix_only
def test_on_a_terminal_ctrl_d_during_the_compile_leaves_at_once(terminal):
    child = terminal("compile")
    assert child.expect(COMPILING), child.screen
    child.send(CTRL_D.encode())
    assert _left_within(child, WITHIN), child.screen


# --- the pipe mode ---------------------------------------------------------------------------
# (one input line, its output line, its stderr message or None)
PIPED = {
    "plain": (b"hello", "reply to hello", None),
    "empty": (b"", "", "empty input"),
    "spaces": (b"   \t", "", "empty input"),
    "invalid UTF-8": (b"\xff\xfe bad", "reply to \ufffd\ufffd bad", INVALID),
    "truncated UTF-8": (b"cut \xe2\x82", "reply to cut \ufffd", INVALID),
    "an encoded surrogate": (b"s \xed\xb3\xbf", "reply to s \ufffd\ufffd\ufffd", INVALID),
    "invalid UTF-8 and a flag": (b"\xff 86", "reply to \ufffd 86",
                                 f"{INVALID}; check: number 86 not in input"),
    "CRLF": (b"crlf\r", "reply to crlf", None),
    "control characters": (b"c \x07\x1b[31m", "reply to c \x07\x1b[31m", None),
    "a vertical tab, a line break to splitlines": (b"v\x0bt", "reply to v t", None),
    "huge line": (b"x" * 100_000, "", "input too long: 2000 pieces, the limit is 256"),
    "a failing model": (b"boom", "", "RuntimeError: the graph fell over second line"),
}


def _reply_batch(texts, **options):
    """`Assistant.reply_batch` on the fake model: input errors as error replies."""
    replies = []
    for text in texts:
        try:
            replies.append(fake_reply(text, **options))
        except InputError as error:
            replies.append(Reply(text="", score=float("nan"), error=str(error)))
    return replies


def _pipe(data: bytes, batch_size: int = 3) -> tuple[list[str], list[str]]:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_pipe(_reply_batch, io.BytesIO(data), stdout, stderr, batch_size=batch_size) == 0
    return stdout.getvalue().split("\n")[:-1], stderr.getvalue().splitlines()


@pytest.mark.parametrize("case", PIPED)
def test_a_bad_piped_line_gets_one_output_line_and_at_most_one_message(case):
    line, output, message = PIPED[case]
    out, errors = _pipe(b"first\n" + line + b"\nlast\n")
    assert out == ["reply to first", output, "reply to last"]
    assert errors == ([] if message is None else [f"line 2: {message}"])


def test_every_bad_piped_line_is_answered_in_order_and_a_bom_is_dropped():
    lines = [line for line, _, _ in PIPED.values()]
    out, errors = _pipe(b"\xef\xbb\xbf" + b"\n".join(lines))  # no newline after the last
    assert out == [output for _, output, _ in PIPED.values()]
    assert errors == [f"line {number}: {message}"
                      for number, (_, _, message) in enumerate(PIPED.values(), start=1)
                      if message is not None]
