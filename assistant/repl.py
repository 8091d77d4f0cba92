"""Placeholder: the `chat` subcommand is being built (replaced by its own module)."""

from assistant.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="open the chat REPL")
    parser.set_defaults(handler=run)


def run(args) -> int:
    raise UsageError("'chat' is not built yet")
