"""What the user's keyboard can send the chat, made harmless.

- Escape sequences that look like mouse reports but are not (a typed or pasted colour code
  such as `ESC [ 3 1 m`) are text, not a crash of the prompt (`key_bindings`).
- Ctrl-C and Ctrl-D act while the model works: a reply (or a model load) runs in a thread
  and the keyboard is read meanwhile (`run_watched`); other keys wait for the next prompt.
- Bytes that are not UTF-8 reach the chat as lone surrogates; they are shown and answered
  as U+FFFD, and flagged, as the pipe mode and `convert` do (`repair_text`).

prompt-toolkit is imported lazily: the pipe mode uses `INVALID_UTF8` only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

INVALID_UTF8 = "invalid UTF-8 (bytes replaced by U+FFFD)"  # worded as `convert` flags it
POLL_SECONDS = 0.05  # how often the keyboard is read while the model works

T = TypeVar("T")
# The mouse reports a terminal sends (X10 "ESC [ M b x y", urxvt "ESC [ b ; x ; y M" and SGR
# "ESC [ < b ; x ; y M/m"); prompt-toolkit takes any "ESC [ digits;... m" for one.
_MOUSE_REPORT = re.compile(r"\x1b\[(?:M...|\d+;\d+;\d+M|<\d+;\d+;\d+[Mm])", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")  # an undecodable byte, as `surrogateescape` keeps it


def key_bindings():
    """Key bindings that keep malformed terminal input from raising in the prompt.

    prompt-toolkit's handler of mouse reports raises on a sequence that only looks like one,
    which leaves the prompt showing "Unhandled exception in event loop". Here a well-formed
    report goes to that handler (a failure ignored) and anything else is inserted as text,
    as it would be inside a bracketed paste.
    """
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.key_binding.bindings.mouse import load_mouse_bindings
    from prompt_toolkit.keys import Keys

    mouse = next(binding.handler for binding in load_mouse_bindings().bindings
                 if binding.keys == (Keys.Vt100MouseEvent,))
    bindings = KeyBindings()

    @bindings.add(Keys.Vt100MouseEvent)
    def _mouse_report_or_text(event) -> Any:
        if _MOUSE_REPORT.fullmatch(event.data):
            try:
                return mouse(event)
            except Exception:  # a report outside the screen: nothing to click
                return NotImplemented
        event.current_buffer.insert_text(event.data)
        return None

    return bindings


def run_watched(call: Callable[[], T], keyboard, poll: float = POLL_SECONDS) -> T:
    """Runs `call()` in a daemon thread and returns its result, reading `keyboard` meanwhile.

    Keys typed while `call` runs are read here: Ctrl-C and Ctrl-D act at once, the others
    wait, in order, for the next prompt (type-ahead). Keys that arrived together with the
    input (a paste, a script) are not looked at: they are handled in order, after the reply.

    Args:
        call: the model call (a reply, a model load).
        keyboard: the prompt-toolkit `Input` of the session.
        poll: seconds between two reads of the keyboard.

    Returns:
        What `call()` returned.

    Raises:
        KeyboardInterrupt: Ctrl-C was pressed; `call` goes on in its thread, its result unused.
        EOFError: Ctrl-D was pressed, or the input ended; the same.
        Exception: what `call()` raised.
    """
    from prompt_toolkit.input.typeahead import store_typeahead
    from prompt_toolkit.keys import Keys

    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # handed to the caller's thread
            outcome.append((False, error))
        finally:
            done.set()

    with keyboard.raw_mode():  # Ctrl-C arrives as a key, not as SIGINT; nothing is echoed
        threading.Thread(target=work, name="chat-model-call", daemon=True).start()
        while not done.wait(poll):
            keys = keyboard.read_keys()
            for position, key in enumerate(keys):
                if key.key == Keys.ControlD:
                    raise EOFError
                if key.key == Keys.ControlC:
                    store_typeahead(keyboard, keys[position + 1 :])
                    raise KeyboardInterrupt
            store_typeahead(keyboard, keys)
            if keyboard.closed:
                raise EOFError
    succeeded, value = outcome[0]
    if succeeded:
        return value
    raise value


def repair_text(text: str) -> tuple[str, bool]:
    """`text` with each lone surrogate (an undecodable byte) replaced by U+FFFD, and whether
    there was one."""
    if text.isascii() or not _SURROGATE.search(text):
        return text, False
    return _SURROGATE.sub("\ufffd", text), True
