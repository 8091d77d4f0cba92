"""`python -m assistant` (console script `keras-assistant`): chat, convert, export.

The one entry point; nothing imports it. Each command module (`chat`, `convert`, `export`)
provides `register(subparsers, domain)`, which adds its subcommand and sets
`handler=run`, where `run(args, context) -> int` is the exit code. The bundle's domain
(read from `--model`'s config.json before parsing, without loading the model) decides the
wording of the help and which runtime options exist, so a bundle trained on your own pairs
shows no fault-code options.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.cli import args as shared
from assistant.cli import export
from assistant.cli.chat import command as chat
from assistant.cli.convert import command as convert
from assistant.runtime.domain import Domain, NullDomain, domain_class, domain_name


def build_parser(domain: type[Domain] = NullDomain) -> argparse.ArgumentParser:
    """The parser of every command, worded for `domain` (the bundle's)."""
    parser = argparse.ArgumentParser(
        prog="python -m assistant",
        description=f"Answer texts with a keras-assistant model bundle: {domain.title}.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (chat, convert, export):
        command.register(subparsers, domain)
    return parser


def main(argv: Sequence[str] | None = None,
         load_assistant: Callable[[Path | None], Any] | None = None) -> int:
    """Runs one subcommand and returns its exit code.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
        load_assistant: the bundle loader handed to the command (default:
            `assistant.cli.args.load_assistant`; tests pass a fake).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_bundle_domain(argv))
    args = parser.parse_args(argv)
    context = shared.Context(load_assistant or shared.load_assistant)
    try:
        return int(args.handler(args, context))
    except shared.UsageError as error:
        _error(f"error: {error}")
        return shared.EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); that is not an error of ours.
        _silence_stdout()
        return shared.EXIT_OK
    except Exception as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _error(f"error: {type(error).__name__}: {message} (run with --debug for details)")
        return shared.EXIT_ERROR


def _bundle_domain(argv: list[str]) -> type[Domain]:
    """The domain class of the bundle `--model` (or the default model) names; `NullDomain`
    when it cannot be told (the command reports the real problem when it loads)."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--model", type=Path)
    known, _ = peek.parse_known_args(argv)
    try:
        return domain_class(domain_name(known.model or shared.default_model_dir()))
    except (ValueError, ImportError):
        return NullDomain


def _error(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
