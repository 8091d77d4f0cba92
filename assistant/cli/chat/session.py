"""The interactive chat: read a line, run a slash command or answer it, until Ctrl-D."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from assistant.cli.args import EXIT_OK, UsageError
from assistant.cli.chat.backend import Backend
from assistant.cli.chat.commands import (
    COMMANDS,
    SETTING_COMMANDS,
    CommandError,
    Settings,
    apply_setting,
    command_completer,
    is_command,
    parse_command,
)
from assistant.cli.chat.keys import INVALID_UTF8, key_bindings, repair_text, run_watched
from assistant.cli.chat.warmup import BackgroundWarmUp, ModelGate

PROMPT = "> "
BLOCK = '"""'  # opens and closes a multi-line input
APP_NAME = "keras-assistant"  # names the history's state directory


class ChatSession:
    """An interactive chat: read a line, run a command or answer it, until Ctrl-D or /exit.

    The model works in a thread (`keys.run_watched`) while the keyboard is read: Ctrl-C
    stops waiting for a reply (back to the prompt), Ctrl-D leaves, both at once.

    The session remembers what the conversation is about (`context`, kept by the backend's
    `remember`: for the warehouse the last fault line and what the last question named) and
    answers each turn in it: "how do I fix it?" after a fault line is about that fault. A
    line above the reply says what "it" meant; a model trained without context does not
    read it (the line says so) while the domain's check still does. /reset forgets it,
    /show shows it.

    Args:
        backend: the model.
        console: a rich `Console` for everything the session prints.
        options: the decoding options set on the command line.
        load_backend: `load_backend(directory) -> Backend` for /model (raising `UsageError`
            or `ValueError` with one line), or None to disable /model.
        session_input: prompt-toolkit `Input` (tests: `create_pipe_input()`); None is the
            terminal.
        output: prompt-toolkit `Output` (tests: `DummyOutput()`); None is the terminal.
        history: a prompt-toolkit `History`; None is the history file in the user state
            directory, or an in-memory history when that cannot be written.
        warm_up: compile the model for the current settings in a background thread.
        clock: seconds for the per-reply time (tests pass a fake).
    """

    def __init__(self, backend: Backend, console, *, options: Mapping[str, Any] | None = None,
                 load_backend: Callable[[Path], Backend] | None = None, session_input=None,
                 output=None, history=None, warm_up: bool = True,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.filters import Condition

        from assistant.cli.chat import render

        self.backend = backend
        self.console = console
        self.settings = Settings(backend.defaults, options)
        self.load_backend = load_backend
        self.last_reply = None
        self.context = ""  # what the conversation is about (`Backend.remember`)
        self.transcript: list[str] = []  # plain-text lines for /save
        self._render = render
        self._clock = clock
        self._gate = ModelGate()
        self._warmer = BackgroundWarmUp(self._gate) if warm_up else None
        if history is None:
            history, self.history_location = _default_history()
        else:
            self.history_location = type(history).__name__
        self.prompt_session = PromptSession(
            history=history,
            auto_suggest=AutoSuggestFromHistory(),
            completer=command_completer(),
            complete_while_typing=True,
            multiline=Condition(self._in_block),
            prompt_continuation=lambda width, line_number, is_soft_wrap: "." * (width - 1) + " ",
            bottom_toolbar=self._toolbar,
            key_bindings=key_bindings(),
            input=session_input,
            output=output,
        )

    def run(self) -> int:
        """Greets, then loops until Ctrl-D or /exit; returns the exit code (0).

        The terminal stays in raw mode for the whole session, between prompts too: in the
        terminal's own line editing a Ctrl-D typed while a reply is printed would be lost.
        """
        with self.prompt_session.app.input.raw_mode():
            self._render.banner(self.console, self.backend.name, self.settings,
                                self.backend.hint)
            self._start_warm_up()
            while self._turn():
                pass
        if self._warmer is not None:
            self._warmer.stop()  # a running compile is left to its thread: see `busy`
        return EXIT_OK

    @property
    def busy(self) -> bool:
        """True while a model call still runs in its thread (a compile, or a reply or load
        the user left); the process should then end without waiting for it (`os._exit`)."""
        return self._gate.busy

    def _turn(self) -> bool:
        """Reads one input and handles it; False when the session ends."""
        try:
            text = self.prompt_session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C: the line is dropped, a new prompt follows
            return True
        except EOFError:  # Ctrl-D on an empty line
            return False
        try:
            return self.handle(text)
        except KeyboardInterrupt:  # Ctrl-C during a reply: the prompt comes back at once
            self._render.problem(self.console, "interrupted")
            self.transcript.append("  (interrupted)")
        except EOFError:  # Ctrl-D during a reply or a model load: leave at once
            return False
        except Exception as error:  # nothing inside a reply may end the session
            self._render.problem(self.console, f"{type(error).__name__}: {error}")
        return True

    def handle(self, text: str) -> bool:
        """Runs a command or answers each line of one accepted input.

        Returns:
            False when the user asked to leave.
        """
        text, repaired = repair_text(text)
        if repaired:
            self._render.warning(self.console, INVALID_UTF8)
            self.transcript.append(f"# {INVALID_UTF8}")
        lines = _input_lines(text)
        if len(lines) == 1 and is_command(lines[0]):
            return self._command(lines[0])
        for line in lines:
            if len(lines) > 1:
                self._render.input_echo(self.console, line)
            self._answer(line)
        return True

    def _answer(self, text: str) -> None:
        self.transcript.append(f"> {text}")
        options = dict(self.settings.overrides)
        context = self.context if self.backend.remember is not None else ""
        if context:
            options["context"] = context
        call = functools.partial(self._reply, self.backend.reply, text, options)
        try:
            reply, elapsed = self._watched(call)
            error = getattr(reply, "error", None)
        except EOFError:  # Ctrl-D: the session ends
            raise
        except ValueError as failure:  # InputError (empty, too long) or an invalid option
            error = str(failure)
        except Exception as failure:  # nothing inside a reply may end the session
            error = f"{type(failure).__name__}: {failure}"
        if error:
            self._render.problem(self.console, error)
            self.transcript.append(f"  error: {error}")
            return
        self.last_reply = reply
        if context:
            about = self._about(context)
            self._render.context_header(self.console, about, self.backend.reads_context)
            self.transcript.append(f"  (it: {about})")
        self._render.show_reply(self.console, reply, elapsed)
        self.transcript += self._render.reply_lines(reply)
        self._remember(text)

    def _remember(self, text: str) -> None:
        """Moves the context on by the turn just answered (a failing domain keeps it)."""
        if self.backend.remember is None:
            return
        try:
            self.context = self.backend.remember(self.context, text)  # type: ignore[misc]
        except Exception as failure:  # nothing inside a reply may end the session
            self._render.problem(self.console, f"context: {type(failure).__name__}: {failure}")

    def _about(self, context: str) -> str:
        """What "it" means in `context`, in a few words (the context itself if unknown)."""
        describe = self.backend.describe_context
        try:
            return (describe(context) if describe is not None else "") or context
        except Exception:  # a description is a courtesy: never worth an error
            return context

    def _reply(self, model_reply: Callable[..., Any], text: str, options: dict[str, Any],
               cancelled: threading.Event) -> tuple[Any, float]:
        """In the model thread: (reply, seconds) once the model is free; (None, 0) if the
        user stopped waiting before."""
        with self._gate.user(on_wait=self._waiting):
            if cancelled.is_set():
                return None, 0.0
            start = self._clock()
            reply = model_reply(text, **options)
            return reply, self._clock() - start

    def _watched(self, call: Callable[[threading.Event], Any]) -> Any:
        """`call(cancelled)` in a model thread while Ctrl-C and Ctrl-D are watched; `cancelled`
        is set when the user stops waiting (see `keys.run_watched`)."""
        cancelled = threading.Event()
        try:
            return run_watched(functools.partial(call, cancelled),
                               self.prompt_session.app.input)
        except (KeyboardInterrupt, EOFError):
            cancelled.set()
            raise

    def _command(self, line: str) -> bool:
        try:
            command = parse_command(line)
            if command.name == "exit":
                return False
            if command.name in SETTING_COMMANDS:
                self._change_settings(command)
            elif command.name in ("save", "model"):
                getattr(self, f"_{command.name}")(command.argument)
            else:
                if command.argument:
                    raise CommandError(f"/{command.name} takes no argument")
                self._simple_command(command.name)
        except CommandError as error:
            self._render.problem(self.console, str(error))
        return True

    def _simple_command(self, name: str) -> None:
        render, console = self._render, self.console
        if name == "help":
            render.show_help(console)
        elif name == "show":
            kept = self.backend.remember is not None
            render.show_settings(console, self.backend.name, self.backend.location,
                                 self.settings, self.history_location,
                                 context=(self.context, self._about(self.context)
                                          if self.context else "") if kept else None,
                                 reads_context=self.backend.reads_context)
        elif name == "clear":
            console.clear()
        elif name == "attn":
            if self.last_reply is None:
                raise CommandError("no reply yet: /attn shows the attention of the last reply")
            render.show_attention(console, self.last_reply)

    def _change_settings(self, command) -> None:
        overrides, message = apply_setting(self.settings, command)
        settings = Settings(self.settings.defaults, overrides)
        if self.backend.validate is not None:
            try:
                self.backend.validate(settings.effective())
            except ValueError as error:
                raise CommandError(str(error)) from None
        self.settings = settings
        if command.name == "reset" and self.context:
            self.context = ""
            message += "; context cleared"
        self._render.note(self.console, message)
        self.transcript.append(f"# {message}")
        self._start_warm_up()

    def _save(self, argument: str) -> None:
        from assistant.core.atomic_files import atomic_write_text

        if not argument:
            raise CommandError(f"usage: {COMMANDS['save'][0]}")
        path = Path(argument).expanduser()
        when = time.strftime("%Y-%m-%d %H:%M")
        header = f"# keras-assistant chat with {self.backend.name}, {when}"
        try:
            atomic_write_text(path, "\n".join([header, *self.transcript]) + "\n")
        except OSError as error:
            raise CommandError(f"cannot save to {path}: {error.strerror or error}") from None
        self._render.note(self.console, f"transcript saved to {path}")

    def _model(self, argument: str) -> None:
        if not argument:
            raise CommandError(f"usage: {COMMANDS['model'][0]}")
        if self.load_backend is None:
            raise CommandError("/model is not available in this session")
        if self._warmer is not None:
            self._warmer.stop()
        load = functools.partial(self._load, self.load_backend, Path(argument).expanduser())
        try:
            backend = self._watched(load)
        except (UsageError, ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        self.backend = backend
        self.last_reply = None
        if backend.remember is None:
            self.context = ""
        self.settings = Settings(backend.defaults, self.settings.overrides)
        if backend.validate is not None:
            try:
                backend.validate(self.settings.effective())
            except ValueError:
                self.settings = Settings(backend.defaults)
        message = f"model {backend.name} ({self.settings.describe()})"
        self._render.note(self.console, message)
        self.transcript.append(f"# {message}")
        self._start_warm_up()

    def _load(self, load_backend: Callable[[Path], Backend], directory: Path,
              cancelled: threading.Event) -> Backend | None:
        """In the model thread: `load_backend(directory)` once the model is free."""
        with self._gate.user(on_wait=self._waiting, doing="loading"):
            return None if cancelled.is_set() else load_backend(directory)

    def _start_warm_up(self) -> None:
        if self._warmer is not None:
            self._warmer.start(self.backend, dict(self.settings.overrides))

    def _waiting(self, holder: str) -> None:
        self._render.note(self.console, f"waiting for the model to finish {holder}…")

    def _in_block(self) -> bool:
        text = self.prompt_session.default_buffer.text.strip()
        return text.startswith(BLOCK) and (len(text) < 2 * len(BLOCK) or not text.endswith(BLOCK))

    def _toolbar(self) -> str:
        about = f" · it: {self._about(self.context)}" if self.context else ""
        return (f" {self.backend.name} · {self.settings.brief()}{about}    "
                "/help for commands · Ctrl-D to leave")


def _input_lines(text: str) -> list[str]:
    """The non-empty lines of one input, without the `\"\"\"` of a block."""
    text = text.strip()
    if text.startswith(BLOCK):
        text = text[len(BLOCK):]
        if text.rstrip().endswith(BLOCK):
            text = text.rstrip()[: -len(BLOCK)]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _default_history():
    """(history, where) : a file in the user state directory, else in memory."""
    import platformdirs
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class SafeFileHistory(FileHistory):
        """A file history that stops writing, instead of failing, when the file goes away."""

        def load_history_strings(self) -> Iterator[str]:
            try:
                yield from super().load_history_strings()
            except (OSError, UnicodeError):
                return

        def store_string(self, string: str) -> None:
            with contextlib.suppress(OSError):
                super().store_string(string)

    try:
        path = Path(platformdirs.user_state_dir(APP_NAME)) / "history"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError:
        return InMemoryHistory(), "in memory (the state directory is not writable)"
    return SafeFileHistory(str(path)), str(path)
