"""What the commands share: exit codes, one-line errors, the model and decoding arguments.

This module imports no command (each command imports it), and nothing here imports
TensorFlow, so `--help` and usage errors are instant. A command gets the bundle loader in a
`Context` from `assistant.cli.main`, so tests hand it a fake instead of patching modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1  # the command ran but failed, or --strict found flagged records
EXIT_USAGE = 2  # bad arguments, missing or corrupt model

MODEL_ENV = "KERAS_ASSISTANT_MODEL"  # overrides the default model directory
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "saved_models" / "warehouse"


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


def add_decoding_arguments(parser: argparse.ArgumentParser,
                           runtime_options: tuple[str, ...] = ()) -> None:
    """Adds the decoding options every surface accepts; unset ones keep the bundle's defaults.

    Args:
        parser: the command's parser.
        runtime_options: the runtime options the bundle's domain acts on
            (`Domain.runtime_options`); only those get flags, so a bundle trained on other
            pairs shows none.
    """
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
    _add_runtime_arguments(group, runtime_options)


def decoding_options(args: argparse.Namespace) -> dict[str, Any]:
    """The decoding keyword arguments for `Assistant.reply_batch` that were set on the command line.

    `--beam N` implies the beam strategy; `--nbest` without a strategy implies beam search.
    Validation happens in `DecodingOptions.validate`, whose one-line messages surfaces show.
    """
    names = ("strategy", "beam_width", "n_best", "length_penalty", "temperature", "top_k",
             "top_p", "seed", "min_length", "max_length_a", "max_length_b", "rerank",
             "retry_beam", "segment", "greedy_first", "draft_below")
    options = {name: getattr(args, name) for name in names
               if getattr(args, name, None) is not None}
    if options.get("draft_below") == _OFF:
        options["draft_below"] = None
    if "beam_width" in options or ("n_best" in options and "strategy" not in options):
        options["strategy"] = "beam"
    if "max_length_a" in options and float(options["max_length_a"]).is_integer():
        options["max_length_a"] = int(options["max_length_a"])
    return options


def load_assistant(model_dir: Path | None):
    """Loads a bundle, turning a missing or corrupt one into a `UsageError` (one line)."""
    from assistant.runtime import Assistant, BundleError

    try:
        return Assistant.load(model_dir or default_model_dir())
    except BundleError as error:
        raise UsageError(f"cannot load model: {error}") from None


@dataclasses.dataclass(frozen=True)
class Context:
    """What `assistant.cli.main` hands every command besides its arguments.

    Attributes:
        load_assistant: `load_assistant(model_dir or None) -> Assistant`, raising a
            one-line `UsageError` (tests pass a fake).
    """

    load_assistant: Callable[[Path | None], Any] = load_assistant


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


_OFF = "off"  # --draft-below off


def _score_or_off(text: str) -> float | str:
    """argparse type: a finite number, or "off"."""
    if text.strip().lower() == _OFF:
        return _OFF
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a score or 'off', got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite score, got {text!r}")
    return value


def _add_runtime_arguments(group, runtime_options: tuple[str, ...]) -> None:
    from assistant.runtime.options import RuntimeOptions

    defaults = RuntimeOptions()
    if "rerank" in runtime_options:
        group.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                           help="beam search: answer with the best hypothesis that passes the "
                           "domain's check (on by default)")
    if "retry_beam" in runtime_options:
        group.add_argument("--retry-beam", type=non_negative_int, metavar="N",
                           dest="retry_beam",
                           help="with --rerank: search an input whose every hypothesis is "
                           "flagged again with beam N (0 turns it off; default: the "
                           f"bundle's, else {defaults.retry_beam})")
    if "greedy_first" in runtime_options:
        group.add_argument("--greedy-first", action=argparse.BooleanOptionalAction,
                           default=None, dest="greedy_first",
                           help="with --rerank: decode greedily first and search with the beam "
                           "only inputs whose greedy reply the domain's check flags (on by "
                           "default; off: every input gets the beam)")
    if "draft_below" in runtime_options:
        group.add_argument("--draft-below", type=_score_or_off, metavar="SCORE|off",
                           dest="draft_below",
                           help="answer a reply scored below SCORE with the "
                           "domain's draft (a neighbours bundle: its nearest train pair's "
                           "reply), flagged; off: the model's reply always (default: the "
                           "bundle's)")
    if "segment" in runtime_options:
        group.add_argument("--segment", action=argparse.BooleanOptionalAction, default=None,
                           help="answer each unit of a line on its own (a fault line's "
                           "records), in the domain's order (on by default)")
