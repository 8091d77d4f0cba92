"""Placeholder: the `export` subcommand is being built (replaced by its own module)."""

from assistant.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a TF SavedModel")
    parser.set_defaults(handler=run)


def run(args) -> int:
    raise UsageError("'export' is not built yet")
