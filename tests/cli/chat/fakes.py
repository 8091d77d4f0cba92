"""A fake model and a driver for scripted chat sessions, shared by the chat tests."""

from __future__ import annotations

import io
import itertools

import numpy as np
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from assistant.cli.chat.backend import Backend
from assistant.cli.chat.session import ChatSession
from assistant.runtime.reply import Alternative, InputError, Reply

DEFAULTS = {"strategy": "beam", "beam_width": 5, "length_penalty": 0.6}
ATTENTION = np.array([[0.9, 0.1, 0.0], [0.1, 0.3, 0.6], [0.0, 0.0, 1.0]], np.float32)
ENTER, CTRL_C, CTRL_D = "\r", "\x03", "\x04"


def fake_reply(text: str, **options) -> Reply:
    """Echoes the input; n-best alternatives score -1, -2, ...; a fixed 3 x 3 attention."""
    if not text.strip():
        raise InputError("empty input")
    if len(text) > 1000:
        raise InputError("input too long: 2000 pieces, the limit is 256")
    if text == "boom":
        raise RuntimeError("the graph fell over\nsecond line")
    texts = [f"reply to {text}"] + [f"alternative {rank} to {text}"
                                    for rank in range(2, options.get("n_best", 1) + 1)]
    alternatives = tuple(Alternative(t, -1.0 * rank) for rank, t in enumerate(texts, start=1))
    return Reply(text=texts[0], score=-1.0, alternatives=alternatives, attention=ATTENTION,
                 source_pieces=("▁CV", "07", ":E"), pieces=("▁Conveyor", "▁7", "</s>"),
                 flags=("number 86 not in input",) if "86" in text else ())


def console(width: int = 100, **kwargs) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                   **kwargs)


def drive(keys: str, reply=fake_reply, options=None, backend: Backend | None = None,
          **kwargs) -> tuple[list[str], ChatSession]:
    """Runs a session on typed `keys` (with `backend`, or a fake one around `reply`);
    returns its printed lines (right-stripped) and itself."""
    out = kwargs.pop("console", None) or console()
    backend = backend or Backend("fake", reply, DEFAULTS, location="/models/fake",
                                 hint="Type a fault-code line or a question")
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = ChatSession(backend, out,
                              options=options, session_input=pipe, output=DummyOutput(),
                              history=InMemoryHistory(), warm_up=False,
                              clock=itertools.count(0, 0.012).__next__, **kwargs)
        assert session.run() == 0
    return [line.rstrip() for line in out.file.getvalue().splitlines()], session


# --- a real (tiny) model --------------------------------------------------------------------
