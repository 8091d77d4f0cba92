"""`python -m assistant` (console script `keras-assistant`): chat, convert, export.

Each surface module (`repl`, `batch`, `export`) provides `register(subparsers)`, which adds its
subcommand and sets `handler=run` where `run(args) -> int` is the exit code. This module owns
only what they share: the default model, the decoding options, one-line errors and exit codes.
Nothing here imports TensorFlow, so `--help` and usage errors are instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1  # the command ran but failed, or --strict found flagged records
EXIT_USAGE = 2  # bad arguments, missing or corrupt model

MODEL_ENV = "KERAS_ASSISTANT_MODEL"  # overrides the default model directory
SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "saved_models" / "warehouse"


class UsageError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def default_model_dir() -> Path:
    """`$KERAS_ASSISTANT_MODEL` if set, else the shipped `saved_models/warehouse`."""
    return Path(os.environ.get(MODEL_ENV) or SHIPPED_MODEL)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"model bundle directory (default: ${MODEL_ENV} or {SHIPPED_MODEL})",
    )


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the decoding options every surface accepts; unset ones keep the bundle's defaults."""
    group = parser.add_argument_group("decoding (defaults come from the model bundle)")
    strategy = group.add_mutually_exclusive_group()
    strategy.add_argument("--beam", type=positive_int, metavar="N", dest="beam_width",
                          help="beam search with N hypotheses per input")
    strategy.add_argument("--greedy", action="store_const", const="greedy", dest="strategy",
                          help="greedy decoding (fastest)")
    strategy.add_argument("--sample", action="store_const", const="sample", dest="strategy",
                          help="sample (see --temperature, --top-k, --top-p, --seed)")
    group.add_argument("--nbest", type=positive_int, metavar="N", dest="n_best",
                       help="alternatives returned by beam search (<= beam width)")
    group.add_argument("--lenpen", type=float, metavar="A", dest="length_penalty",
                       help="GNMT length penalty alpha of beam search (0 favours short replies)")
    group.add_argument("--temperature", type=float, metavar="T")
    group.add_argument("--top-k", type=int, metavar="K", dest="top_k")
    group.add_argument("--top-p", type=float, metavar="P", dest="top_p")
    group.add_argument("--seed", type=int, metavar="S", help="sampling seed")
    group.add_argument("--min-length", type=int, metavar="N", dest="min_length")
    group.add_argument("--max-length-a", type=float, metavar="A", dest="max_length_a",
                       help="reply limit = A + B x input pieces")
    group.add_argument("--max-length-b", type=float, metavar="B", dest="max_length_b")
    group.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                       help="beam search: answer with the best hypothesis that passes the "
                       "faithfulness check (on by default)")
    group.add_argument("--retry-beam", type=non_negative_int, metavar="N", dest="retry_beam",
                       help="with --rerank: search an input whose every hypothesis is flagged "
                       "again with beam N (0 turns it off; default: the bundle's, 16)")
    group.add_argument("--segment", action=argparse.BooleanOptionalAction, default=None,
                       help="answer a line of several fault records one record at a time, "
                       "in the catalog's order (on by default for a bundle with a record "
                       "order)")


def decoding_options(args: argparse.Namespace) -> dict[str, Any]:
    """The decoding keyword arguments for `Assistant.reply_batch` that were set on the command line.

    `--beam N` implies the beam strategy; `--nbest` without a strategy implies beam search.
    Validation happens in `DecodingOptions.validate`, whose one-line messages surfaces show.
    """
    names = ("strategy", "beam_width", "n_best", "length_penalty", "temperature", "top_k",
             "top_p", "seed", "min_length", "max_length_a", "max_length_b", "rerank",
             "retry_beam", "segment")
    options = {name: getattr(args, name) for name in names
               if getattr(args, name, None) is not None}
    if "beam_width" in options or ("n_best" in options and "strategy" not in options):
        options["strategy"] = "beam"
    if "max_length_a" in options and float(options["max_length_a"]).is_integer():
        options["max_length_a"] = int(options["max_length_a"])
    return options


def load_assistant(model_dir: Path | None):
    """Loads a bundle, turning a missing or corrupt one into a `UsageError` (one line)."""
    from assistant.inference import Assistant, BundleError

    try:
        return Assistant.load(model_dir or default_model_dir())
    except BundleError as error:
        raise UsageError(f"cannot load model: {error}") from None


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from assistant import batch, export, repl

    parser = argparse.ArgumentParser(
        prog="python -m assistant",
        description="Turn warehouse fault codes and short prompts into operator messages.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    repl.register(subparsers)
    batch.register(subparsers)
    export.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one subcommand and returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as error:
        _error(f"error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); that is not an error of ours.
        _silence_stdout()
        return EXIT_OK
    except Exception as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _error(f"error: {type(error).__name__}: {message} (run with --debug for details)")
        return EXIT_ERROR


def _error(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
