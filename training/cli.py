"""`python -m training`: train, evaluate, evaluate-variants, model-card, and each domain's
commands (the warehouse's build-corpus and build-realistic)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from assistant.core.quiet_tf import import_tensorflow

EXIT_USAGE = 2
EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train, build the corpus for and evaluate keras-assistant models.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = subparsers.add_parser(
        "train",
        help="train a model bundle on source/target pairs",
        description="Train a model bundle (config.json, tokenizer.model, model.weights.h5, "
        "training_log.json) on TSV or JSONL pairs. Re-running with the same --out "
        "resumes from the last completed epoch.",
    )
    train.add_argument(
        "--data",
        required=True,
        help="pairs file (.tsv: source<TAB>target, .jsonl: {source, target}) "
        "split by source hash, or a directory with train/valid files",
    )
    train.add_argument("--valid", help="explicit validation pairs file")
    train.add_argument("--out", required=True, help="bundle directory to write")
    train.add_argument("--config", help="YAML file with model/tokenizer/train sections")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set train.batch_size=32 (repeatable)",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="discard a checkpoint in --out instead of resuming"
    )
    train.add_argument(
        "--no-data-sizing", dest="data_sizing", action="store_false",
        help="keep the fixed defaults for unset settings instead of choosing model size, "
        "dropout, vocabulary and epochs from the number of train pairs (training/sizing.py)",
    )
    # The training command imports TensorFlow itself: a multi-worker strategy must be created
    # before the runtime starts (`_start_tensorflow`).
    train.set_defaults(handler=_train, needs_tensorflow=False)

    from assistant.runtime.domain import domain_class, known_domains
    from training import drafts, evaluate, evaluate_variants, model_card, unicode_corpus

    for name in known_domains():  # e.g. the warehouse's build-corpus
        domain_class(name).register_training_commands(subparsers)
    evaluate.register(subparsers)
    evaluate_variants.register(subparsers)
    drafts.register(subparsers)
    unicode_corpus.register(subparsers)
    model_card.register(subparsers).set_defaults(needs_tensorflow=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        if getattr(args, "needs_tensorflow", True):
            import_tensorflow()
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _train(args: argparse.Namespace) -> int:
    from training.config import explicit_settings, load_run_config

    config = load_run_config(args.config, args.overrides)
    given = explicit_settings(args.config, args.overrides) if args.data_sizing else None
    strategy = _start_tensorflow()
    import tensorflow as tf

    from training.distribute import describe, is_chief
    from training.trainer import train

    # How the collectives fail when another worker dies or cannot be reached.
    lost_worker = (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.DeadlineExceededError,
        tf.errors.CancelledError,
    )
    try:
        result = train(
            args.data,
            args.out,
            config,
            valid=args.valid,
            overwrite=args.overwrite,
            size_from_data=given,
            strategy=strategy,
        )
    except lost_worker as error:
        if describe(strategy)["workers"] == 1:
            raise
        raise RuntimeError(
            f"an operation between the workers failed ({type(error).__name__}): a worker "
            "stopped or cannot be reached; start every worker again with the same command "
            "to resume from the chief's last checkpoint"
        ) from error
    print(
        f"{result.out_dir}: {result.epochs_completed} epochs ({result.stop_reason}), "
        f"best epoch {result.best_epoch} with validation loss {result.best_valid_loss:.4f}, "
        f"{result.seconds:.0f} s"
    )
    if result.stop_reason != "paused" and is_chief(strategy):
        _calibrate_drafts(args, config)
    return 0


def _calibrate_drafts(args: argparse.Namespace, config) -> None:
    """A finished bundle whose domain drafts (neighbours) gets its `draft_below`, chosen on
    the validation split (`training.drafts`); a failure there is a warning, not a failed
    run (the bundle is written and answers without drafts)."""
    from assistant.runtime.domain import domain_class, domain_name
    from training.drafts import calibrate
    from training.trainer import load_datasets

    try:
        if "draft_below" not in domain_class(domain_name(args.out)).runtime_options:
            return
        valid = load_datasets(args.data, args.valid, config.train)["valid"]
        choice = calibrate(args.out, valid)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"warning: {args.out}: draft_below not chosen ({error}); the bundle answers "
              "without drafts until `python -m training calibrate-drafts` chooses it",
              file=sys.stderr)
        return
    if choice is not None:
        print(f"{args.out}: {choice.describe()}")


def _start_tensorflow():
    """Imports TensorFlow and creates the distribution strategy the environment asks for
    (`training.distribute`) before TensorFlow's runtime starts, then starts it, all with
    TensorFlow's start-up messages held back.

    Returns:
        The strategy, or None for one device.
    """
    from assistant.core.quiet_tf import native_logs_captured

    tf = import_tensorflow(start_runtime=False)  # before anything that imports it
    from training.distribute import strategy_from_environment

    with native_logs_captured():
        strategy = strategy_from_environment()
        tf.config.list_logical_devices("CPU")
    return strategy
