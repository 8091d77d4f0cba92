"""Placeholder: the `convert` subcommand is being built (replaced by its own module)."""

from assistant.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("convert", help="convert an input file")
    parser.set_defaults(handler=run)


def run(args) -> int:
    raise UsageError("'convert' is not built yet")
