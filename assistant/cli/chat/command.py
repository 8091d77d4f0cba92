"""`python -m assistant chat`: the interactive chat REPL, or one reply per line over a pipe.

On a terminal, `session.ChatSession` runs a prompt-toolkit prompt (history, suggestions,
command completion, multi-line input) and prints with rich (`render`); its slash commands
live in `commands`. The model compiles in a background thread while the user types
(`warmup`) and replies in a thread while the keyboard is watched, so Ctrl-C and Ctrl-D act at
once (`keys`). With stdin or stdout not a terminal, `pipe.run_pipe` answers each input line
with exactly one output line.

The session knows nothing of tensors: it drives a `Backend`, a few callables around
`Assistant` (tests use fakes). Third-party UI libraries are imported lazily, so `--help` and
the pipe mode do not pay for them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from assistant.cli.args import (
    Context,
    UsageError,
    add_decoding_arguments,
    add_model_argument,
    decoding_options,
    default_model_dir,
)
from assistant.cli.chat.backend import Backend, backend_from_assistant
from assistant.runtime.domain import Domain


def register(subparsers, domain: type[Domain]) -> None:
    """Adds `chat` to the `python -m assistant` subcommands."""
    parser = subparsers.add_parser(
        "chat", help="chat with the model (one reply per line when stdin is not a terminal)",
        description="Chat with the model. On a terminal: a REPL (/help lists its commands). "
                    "With stdin or stdout redirected: one reply per input line, every line "
                    "being text for the model.")
    add_model_argument(parser)
    add_decoding_arguments(parser, domain.runtime_options)
    parser.set_defaults(handler=run)


def run(args, context: Context) -> int:
    """Loads the model and runs the REPL on a terminal, else the pipe mode."""
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not getattr(args, "debug", False):
        # XLA prints ERROR-level notices while compiling ("oneDNN supports DT_BOOL only...");
        # they would land on the prompt, or among the pipe mode's `line N:` messages.
        # TensorFlow reads this once, at import.
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    options = decoding_options(args)
    model_dir = args.model or default_model_dir()
    assistant = context.load_assistant(model_dir)
    backend = backend_from_assistant(assistant, model_dir)
    try:
        backend.validate({**backend.defaults, **options})
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not interactive:
        from assistant.cli.chat.pipe import run_pipe

        return run_pipe(assistant.reply_batch, sys.stdin.buffer, sys.stdout, sys.stderr, options)
    from rich.console import Console

    from assistant.cli.chat.session import ChatSession

    def load(directory: Path) -> Backend:
        return backend_from_assistant(context.load_assistant(directory), directory)

    session = ChatSession(backend, Console(highlight=False), options=options, load_backend=load)
    code = session.run()
    if session.busy:
        _leave_now(code)
    return code


def _leave_now(code: int) -> None:
    """Ends the process without waiting for the model thread (a compile, or a reply the user
    left), which may take minutes; the interpreter's shutdown could also crash while a thread
    is inside TensorFlow. Nothing is lost: the history and /save files are already written."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
