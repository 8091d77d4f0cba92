"""The training loop: teacher forcing, checkpoints every epoch, resume, early stopping."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from rich.console import Console

from assistant.core import constants
from assistant.core.atomic_files import atomic_write_text
from assistant.core.config import ModelConfig
from assistant.core.model import Seq2Seq
from training import data as data_lib
from training import distribute
from training.bundle_files import (
    bundle_tokenizer,
    copy_domain_files,
    decoding_defaults,
    has_domain,
    model_sources,
    write_bundle_files,
)
from training.checkpoints import (
    TrainingError,
    initial_state,
    load_state,
    restore_checkpoint,
    save_checkpoint,
    save_weights,
)
from training.config import RunConfig, TrainConfig
from training.epoch import run_epoch
from training.replicated_steps import ReplicatedSteps, replica_optimizer
from training.schedules import WarmupSchedule
from training.sizing import describe as describe_sizing
from training.sizing import size_from_data as size_from
from training.steps import TrainSteps

__all__ = [
    "TENSORBOARD_DIR",
    "TrainResult",
    "TrainingError",
    "build_model",
    "copy_domain_files",
    "decoding_defaults",
    "load_datasets",
    "train",
]

TENSORBOARD_DIR = "tensorboard"
# Scalars of each epoch's record written to TensorBoard.
_SUMMARY_KEYS = (
    "train_loss",
    "train_accuracy",
    "valid_loss",
    "valid_accuracy",
    "learning_rate",
    "sampling_probability",
    "tokens_per_second",
)


@dataclasses.dataclass
class TrainResult:
    """What a finished (or paused) run reports."""

    out_dir: Path
    epochs_completed: int
    best_epoch: int
    best_valid_loss: float
    stop_reason: str  # "early stopping", "max epochs", "paused"
    seconds: float


def load_datasets(
    data: str | os.PathLike, valid: str | os.PathLike | None, train_config
) -> dict[str, list[data_lib.Pair]]:
    """Returns train/valid(/test) pairs from a file (split by source hash) or a directory
    holding `train.*` and `valid.*` files (.jsonl or .tsv), or a file plus `valid`.

    Raises:
        DataError: on unreadable or malformed files.
    """
    data = Path(data)
    if data.is_dir():
        splits = {}
        for name in ("train", "valid", "test"):
            found = sorted(
                p
                for p in data.iterdir()
                if p.stem == name and p.suffix in (".jsonl", ".tsv", ".txt")
            )
            if found:
                splits[name] = data_lib.read_pairs(found[0])
        if "train" not in splits or "valid" not in splits:
            raise data_lib.DataError(
                f"{data}: a data directory needs train.jsonl (or .tsv) and valid.jsonl (or .tsv)"
            )
        return splits
    pairs = data_lib.read_pairs(data)
    if valid is not None:
        return {"train": pairs, "valid": data_lib.read_pairs(valid)}
    splits = data_lib.split_pairs(pairs, train_config.valid_fraction, train_config.test_fraction)
    if not splits["train"] or not splits["valid"]:
        raise data_lib.DataError(
            f"{data}: {len(pairs)} pairs are too few to split into train and validation "
            "(give --valid FILE, or more data)"
        )
    return splits


def train(
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: RunConfig,
    valid: str | os.PathLike | None = None,
    console: Console | None = None,
    stop_after_epochs: int | None = None,
    overwrite: bool = False,
    size_from_data: Collection[str] | None = None,
    strategy=None,
) -> TrainResult:
    """Trains a model bundle into `out_dir`, resuming from its checkpoint if it has one.

    Args:
        data: a pairs file or a directory with train/valid files (see `load_datasets`).
        out_dir: the bundle directory: config.json, tokenizer.model, model.weights.h5
            (the best epoch's weights), training_log.json, checkpoint/, tensorboard/.
            Of several workers the chief writes it and all resume from it (shared storage).
        config: the run configuration; `config.model.vocab_size` is replaced by the
            trained tokenizer's size.
        valid: an explicit validation file (with a single `data` file).
        console: where progress and summaries go (stderr by default).
        stop_after_epochs: pause after this many epochs of this call (the run resumes
            later from the checkpoint exactly as if it had not stopped).
        overwrite: discard an existing checkpoint in `out_dir` instead of resuming.
        size_from_data: the "section.key" settings given explicitly; the other sized
            settings (model size, dropout, vocabulary, epochs) are then chosen from the
            number of train pairs (`training.sizing`). None: `config` as it is.
        strategy: the `tf.distribute.Strategy` to train under (`training.distribute`);
            None: one device.

    Raises:
        DataError: malformed data.
        TrainingError: a checkpoint of a different configuration is in `out_dir`, or the
            workers did not start from the same checkpoint and configuration.
    """
    console = console or Console(stderr=True, soft_wrap=True)
    out_dir = Path(out_dir)
    started = time.perf_counter()
    splits = load_datasets(data, valid, config.train)
    console.print("pairs: " + ", ".join(f"{name} {len(pairs)}" for name, pairs in splits.items()))
    config, sized = _size(config, size_from_data, splits["train"], console, has_domain(data))
    splits, built = model_sources(data, splits, config)
    console.print(distribute.summary(strategy))
    with distribute.write_directory(out_dir, distribute.is_chief(strategy)) as write_dir:
        run, encoded = _prepare(data, out_dir, write_dir, config, splits, strategy, overwrite,
                                console, built)
        run.log.update({"sized_from_data": sized} if sized else {})
        stop_reason = _train_epochs(run, encoded, stop_after_epochs)
    state = run.state
    return TrainResult(
        out_dir,
        state["epoch"],
        state["best_epoch"],
        float(state["best_valid_loss"] or 0.0),
        stop_reason,
        time.perf_counter() - started,
    )


def _prepare(data, out_dir, write_dir, config, splits, strategy, overwrite, console,
             built=None):
    """The run's bundle files, model, optimizer and log, restored from the checkpoint in
    `out_dir` if it has one. Every worker reads `out_dir` and writes `write_dir`; only
    the chief discards a checkpoint for `overwrite`.

    Returns:
        (the run, its encoded "train" and "valid" pairs).
    """
    chief = write_dir == out_dir  # the chief writes the bundle itself
    state = None if overwrite and not chief else load_state(out_dir, config, overwrite)
    keras.utils.set_random_seed(config.train.seed)
    resume = state is not None
    tokenizer = bundle_tokenizer(out_dir if resume else write_dir, config, splits["train"], resume)
    encoded, model_config = write_bundle_files(data, write_dir, config, splits, tokenizer,
                                               console, built)
    with distribute.scope(strategy):
        replicated = strategy is not None
        model, optimizer = _build_training(
            model_config, config.train, len(encoded["train"]), replicated
        )
    log, state = _start_log(out_dir, config, state, splits, tokenizer, model, optimizer, console)
    same = [log["config"], log["pairs"], zlib.crc32(tokenizer.model_proto)]
    distribute.check_same_start(strategy, state["epoch"], same)
    log["distribution"] = distribute.describe(strategy)
    return _Run(write_dir, config.train, model, optimizer, state, log, console, strategy), encoded


def _size(config: RunConfig, given: Collection[str] | None, train_pairs, console: Console,
          domain: bool) -> tuple[RunConfig, dict[str, Any]]:
    """`config` with the unset sized settings chosen from the data (`training.sizing`) and
    whether it has a `domain`, and what was chosen; `given` None: `config` unchanged."""
    if given is None:
        return config, {}
    config, sized = size_from(config, given, train_pairs, domain)
    console.print(describe_sizing(sized, len(train_pairs)))
    return config, sized


def build_model(config: ModelConfig, precision: str = "float32") -> Seq2Seq:
    """Builds a model to train under the Keras dtype policy `precision`.

    The policy belongs to the model's layers only; the global policy is restored, so models
    built later (inference, export) compute in float32. Variables are float32 under either
    policy, so the saved weights and checkpoints do not depend on it.

    Args:
        config: the model configuration.
        precision: "float32" or "mixed_bfloat16" (see `TrainConfig.precision`).
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = Seq2Seq(config)
        model.build()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


@dataclasses.dataclass
class _Run:
    """The pieces of a run that each epoch reads or updates."""

    out_dir: Path  # where this process writes: the bundle on the chief, else a temporary dir
    train_config: TrainConfig
    model: Seq2Seq
    optimizer: keras.optimizers.Optimizer
    state: dict  # checkpoint state, see training.checkpoints
    log: dict[str, Any]  # the contents of training_log.json
    console: Console
    strategy: Any = None  # the tf.distribute.Strategy, None on one device


def _build_training(
    model_config: ModelConfig, train_config: TrainConfig, train_pairs: int, replicated: bool
) -> tuple[Seq2Seq, keras.optimizers.Optimizer]:
    """The model and its built Adam optimizer with the warm-up schedule over all epochs
    (`replicated`: the optimizer of `ReplicatedSteps`, under the strategy's scope)."""
    model = build_model(model_config, train_config.precision)
    steps_per_epoch = -(-train_pairs // train_config.batch_size)
    schedule = WarmupSchedule(
        train_config.learning_rate,
        train_config.warmup_steps,
        train_config.schedule,
        steps_per_epoch * train_config.epochs,
        train_config.min_learning_rate,
    )
    if replicated:
        optimizer = replica_optimizer(schedule, train_config.clipnorm)
    else:
        optimizer = keras.optimizers.Adam(schedule, clipnorm=train_config.clipnorm)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def _start_log(
    out_dir: Path, config: RunConfig, state, splits, tokenizer, model, optimizer, console
) -> tuple[dict[str, Any], dict]:
    """A new training log and state, or, with a checkpoint `state`, the restored variables
    and the log up to the checkpoint's epoch.

    Returns:
        (the training log, the checkpoint state).
    """
    log: dict[str, Any] = {
        "config": config.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.count_params(),
        "pairs": {k: len(v) for k, v in splits.items()},
        "epochs": [],
    }
    if state is not None:
        restore_checkpoint(out_dir, state, model, optimizer)
        log = json.loads((out_dir / constants.TRAINING_LOG_FILE).read_text(encoding="utf-8"))
        log["epochs"] = log["epochs"][: state["epoch"]]
        console.print(f"resumed from the checkpoint of epoch {state['epoch']}")
    else:
        state = initial_state(config)
    return log, state


def _train_epochs(run: _Run, encoded, stop_after_epochs: int | None) -> str:
    """Trains epochs until the last one, early stopping or `stop_after_epochs` of this call.

    Returns:
        The stop reason: "early stopping", "max epochs" or "paused".
    """
    train_config, state = run.train_config, run.state
    valid_batches = data_lib.make_batches(
        encoded["valid"], train_config.batch_size, None, train_config.bucket_width,
        pad_lengths=train_config.pad_lengths if train_config.xla else None,
    )
    smoothing, xla = train_config.label_smoothing, train_config.xla
    if run.strategy is None:
        steps = TrainSteps(run.model, run.optimizer, smoothing, jit_compile=xla)
    else:
        steps = ReplicatedSteps(run.strategy, run.model, run.optimizer, smoothing, xla)
        valid_batches = steps.dataset(valid_batches)
    writer = tf.summary.create_file_writer(str(run.out_dir / TENSORBOARD_DIR))
    stop_reason = "max epochs"
    epochs_this_call = 0
    while state["epoch"] < train_config.epochs and not state["finished"]:
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
            stop_reason = "paused"
            break
        epoch = state["epoch"] + 1
        record = run_epoch(
            epoch,
            steps,
            encoded["train"],
            valid_batches,
            train_config,
            run.optimizer,
            run.console,
        )
        epochs_this_call += 1
        improved, stopped_early = _update_state(run, record)
        if stopped_early:
            stop_reason = "early stopping"
        _save_epoch(run, record, writer)
        _print_epoch(run.console, record, improved)
    if stop_reason == "early stopping":
        run.console.print(
            f"early stopping: no better validation loss for "
            f"{train_config.patience} epochs; best epoch {state['best_epoch']}"
        )
    return stop_reason


def _update_state(run: _Run, record: dict[str, Any]) -> tuple[bool, bool]:
    """Counts the epoch of `record` in the run's state, saving the weights when the
    validation loss improved.

    Returns:
        (the validation loss improved, patience ran out).
    """
    state, train_config = run.state, run.train_config
    epoch = record["epoch"]
    improved = (
        state["best_valid_loss"] is None
        or record["valid_loss"] < state["best_valid_loss"] - train_config.min_delta
    )
    if improved:
        state.update(best_valid_loss=record["valid_loss"], best_epoch=epoch, bad_epochs=0)
        save_weights(run.model, run.out_dir / constants.WEIGHTS_FILE)
    else:
        state["bad_epochs"] += 1
    state["epoch"] = epoch
    stopped_early = state["bad_epochs"] >= train_config.patience
    if stopped_early or epoch >= train_config.epochs:
        state["finished"] = True
    return improved, stopped_early


def _save_epoch(run: _Run, record: dict[str, Any], writer) -> None:
    """Adds the epoch to the log, TensorBoard and training_log.json, then checkpoints."""
    state, log = run.state, run.log
    log["epochs"].append(record)
    log.update(
        best_epoch=state["best_epoch"],
        best_valid_loss=state["best_valid_loss"],
        finished=state["finished"],
    )
    with writer.as_default(step=record["epoch"]):
        for key in _SUMMARY_KEYS:
            tf.summary.scalar(key, record[key])
    writer.flush()
    atomic_write_text(run.out_dir / constants.TRAINING_LOG_FILE, json.dumps(log, indent=2) + "\n")
    save_checkpoint(run.out_dir, state, run.model, run.optimizer)


def _print_epoch(console: Console, record: dict[str, Any], improved: bool) -> None:
    marker = " *" if improved else ""
    console.print(
        f"epoch {record['epoch']:>3}  train loss {record['train_loss']:.4f} acc "
        f"{record['train_accuracy']:.2%}  valid loss {record['valid_loss']:.4f} acc "
        f"{record['valid_accuracy']:.2%}  lr {record['learning_rate']:.2e}  "
        f"{record['tokens_per_second']:,.0f} tok/s  {record['seconds']:.0f}s{marker}"
    )
