"""The training loop: teacher forcing, checkpoints every epoch, resume, early stopping."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from assistant.core import constants
from assistant.core.atomic_files import atomic_write_bytes, atomic_write_text
from assistant.core.config import ModelConfig, save_bundle_config
from assistant.core.model import Seq2Seq
from assistant.core.tokenizer import Tokenizer, normalize_source
from assistant.runtime.domain import DOMAIN_MANIFEST, LEGACY_DOMAIN_FILE, NULL_DOMAIN
from assistant.runtime.options import ReplyOptions, default_options
from training import data as data_lib
from training.config import RunConfig
from training.schedules import WarmupSchedule, sampling_probability
from training.tokenizer_training import train_tokenizer

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"
TENSORBOARD_DIR = "tensorboard"


class TrainingError(RuntimeError):
    """The run cannot start or continue; the message says what to do."""


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
) -> TrainResult:
    """Trains a model bundle into `out_dir`, resuming from its checkpoint if it has one.

    Args:
        data: a pairs file or a directory with train/valid files (see `load_datasets`).
        out_dir: the bundle directory: config.json, tokenizer.model, model.weights.h5
            (the best epoch's weights), training_log.json, checkpoint/, tensorboard/.
        config: the run configuration; `config.model.vocab_size` is replaced by the
            trained tokenizer's size.
        valid: an explicit validation file (with a single `data` file).
        console: where progress and summaries go (stderr by default).
        stop_after_epochs: pause after this many epochs of this call (the run resumes
            later from the checkpoint exactly as if it had not stopped).
        overwrite: discard an existing checkpoint in `out_dir` instead of resuming.

    Raises:
        DataError: malformed data.
        TrainingError: a checkpoint of a different configuration is in `out_dir`.
    """
    console = console or Console(stderr=True, soft_wrap=True)
    out_dir = Path(out_dir)
    train_config = config.train
    started = time.perf_counter()
    splits = load_datasets(data, valid, train_config)
    console.print("pairs: " + ", ".join(f"{name} {len(pairs)}" for name, pairs in splits.items()))

    state = _load_state(out_dir, config, overwrite)
    keras.utils.set_random_seed(train_config.seed)
    tokenizer_path = out_dir / constants.TOKENIZER_FILE
    if state is not None:
        tokenizer = Tokenizer.load(tokenizer_path)
    else:
        case = config.model.source_case
        texts = [normalize_source(p.source, case) for p in splits["train"]]
        texts += [p.target for p in splits["train"]]
        tokenizer = train_tokenizer(texts, config.tokenizer, seed=train_config.seed)
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(tokenizer_path, tokenizer.model_proto)
    domain = copy_domain_files(data, out_dir)
    encoded = {
        name: data_lib.encode_pairs(
            pairs,
            tokenizer,
            train_config.max_source_length,
            train_config.max_target_length,
            config.model.source_case,
        )
        for name, pairs in splits.items()
        if name in ("train", "valid")
    }
    model_config = dataclasses.replace(config.model, vocab_size=tokenizer.vocab_size)
    save_bundle_config(out_dir / constants.CONFIG_FILE, model_config, training=config.to_dict(),
                       decoding=decoding_defaults(encoded["train"]), domain=domain)
    for name, enc in encoded.items():
        if enc.truncated:
            console.print(
                f"[yellow]warning:[/] {enc.truncated} {name} pairs cut to the "
                "maximum source/target length"
            )

    model = build_model(model_config, train_config.precision)
    steps_per_epoch = -(-len(encoded["train"]) // train_config.batch_size)
    schedule = WarmupSchedule(
        train_config.learning_rate,
        train_config.warmup_steps,
        train_config.schedule,
        steps_per_epoch * train_config.epochs,
        train_config.min_learning_rate,
    )
    optimizer = keras.optimizers.Adam(schedule, clipnorm=train_config.clipnorm)
    optimizer.build(model.trainable_variables)
    log: dict[str, Any] = {
        "config": config.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.count_params(),
        "pairs": {k: len(v) for k, v in splits.items()},
        "epochs": [],
    }
    if state is not None:
        _restore_checkpoint(out_dir, state, model, optimizer)
        log = json.loads((out_dir / constants.TRAINING_LOG_FILE).read_text(encoding="utf-8"))
        log["epochs"] = log["epochs"][: state["epoch"]]
        console.print(f"resumed from the checkpoint of epoch {state['epoch']}")
    else:
        state = {
            "epoch": 0,
            "best_valid_loss": None,
            "best_epoch": 0,
            "bad_epochs": 0,
            "config": config.to_dict(),
            "finished": False,
        }

    steps = _TrainSteps(model, optimizer, train_config.label_smoothing)
    valid_batches = data_lib.make_batches(
        encoded["valid"], train_config.batch_size, None, train_config.bucket_width
    )
    writer = tf.summary.create_file_writer(str(out_dir / TENSORBOARD_DIR))
    stop_reason = "max epochs"
    epochs_this_call = 0
    while state["epoch"] < train_config.epochs and not state["finished"]:
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
            stop_reason = "paused"
            break
        epoch = state["epoch"] + 1
        record = _run_epoch(
            epoch, steps, encoded["train"], valid_batches, train_config, optimizer, console
        )
        epochs_this_call += 1
        improved = (
            state["best_valid_loss"] is None
            or record["valid_loss"] < state["best_valid_loss"] - train_config.min_delta
        )
        if improved:
            state.update(best_valid_loss=record["valid_loss"], best_epoch=epoch, bad_epochs=0)
            _save_weights(model, out_dir / constants.WEIGHTS_FILE)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        if state["bad_epochs"] >= train_config.patience:
            state["finished"] = True
            stop_reason = "early stopping"
        elif epoch >= train_config.epochs:
            state["finished"] = True
        log["epochs"].append(record)
        log.update(
            best_epoch=state["best_epoch"],
            best_valid_loss=state["best_valid_loss"],
            finished=state["finished"],
        )
        with writer.as_default(step=epoch):
            for key in (
                "train_loss",
                "train_accuracy",
                "valid_loss",
                "valid_accuracy",
                "learning_rate",
                "sampling_probability",
                "tokens_per_second",
            ):
                tf.summary.scalar(key, record[key])
        writer.flush()
        atomic_write_text(out_dir / constants.TRAINING_LOG_FILE, json.dumps(log, indent=2) + "\n")
        _save_checkpoint(out_dir, state, model, optimizer)
        marker = " *" if improved else ""
        console.print(
            f"epoch {epoch:>3}  train loss {record['train_loss']:.4f} acc "
            f"{record['train_accuracy']:.2%}  valid loss {record['valid_loss']:.4f} acc "
            f"{record['valid_accuracy']:.2%}  lr {record['learning_rate']:.2e}  "
            f"{record['tokens_per_second']:,.0f} tok/s  {record['seconds']:.0f}s{marker}"
        )
    if stop_reason == "early stopping":
        console.print(
            f"early stopping: no better validation loss for "
            f"{train_config.patience} epochs; best epoch {state['best_epoch']}"
        )
    return TrainResult(
        out_dir,
        state["epoch"],
        state["best_epoch"],
        float(state["best_valid_loss"] or 0.0),
        stop_reason,
        time.perf_counter() - started,
    )


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


class _TrainSteps:
    """The compiled train and evaluation steps of one model and optimizer."""

    def __init__(self, model: Seq2Seq, optimizer, label_smoothing: float) -> None:
        self.model = model
        self.optimizer = optimizer
        self.label_smoothing = label_smoothing
        ids = tf.TensorSpec((None, None), tf.int32)
        self.train = tf.function(self._train, input_signature=[ids, ids, ids])
        self.train_sampled = tf.function(
            self._train_sampled,
            input_signature=[
                ids,
                ids,
                ids,
                tf.TensorSpec((), tf.float32),
                tf.TensorSpec((2,), tf.int32),
            ],
        )
        self.evaluate = tf.function(self._evaluate, input_signature=[ids, ids, ids])

    def _train(self, source, target_in, target_out):
        with tf.GradientTape() as tape:
            logits = self.model((source, target_in), training=True)
            loss, correct, count = _token_loss(logits, target_out, self.label_smoothing)
        self._apply(tape, loss)
        return loss, correct, count

    def _train_sampled(self, source, target_in, target_out, probability, seed):
        with tf.GradientTape() as tape, _autocast(self.model):
            logits = self.model.scheduled_sampling_logits(source, target_in, probability, seed)
            loss, correct, count = _token_loss(logits, target_out, self.label_smoothing)
        self._apply(tape, loss)
        return loss, correct, count

    def _apply(self, tape, loss):
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)

    def _evaluate(self, source, target_in, target_out):
        logits = self.model((source, target_in), training=False)
        loss, correct, count = _token_loss(logits, target_out, 0.0)
        return loss * count, correct, count


def _token_loss(logits, labels, label_smoothing: float):
    """Masked, label-smoothed cross-entropy per real token, in float32 whatever the logits'
    dtype (bfloat16 under mixed precision).

    Returns:
        (mean loss over real tokens, correct argmax predictions, real token count).
    """
    mask = tf.cast(tf.not_equal(labels, constants.PAD_ID), tf.float32)  # (batch, tgt_len)
    logits = tf.cast(logits, tf.float32)
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # (batch, tgt_len, vocab)
    nll = -tf.gather(log_probs, labels, axis=-1, batch_dims=2)  # (batch, tgt_len)
    if label_smoothing:
        smooth = -tf.reduce_mean(log_probs, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    count = tf.reduce_sum(mask)
    loss = tf.reduce_sum(nll * mask) / tf.maximum(count, 1.0)
    predictions = tf.argmax(logits, axis=-1, output_type=labels.dtype)
    correct = tf.reduce_sum(tf.cast(tf.equal(predictions, labels), tf.float32) * mask)
    return loss, correct, count


def _autocast(model: Seq2Seq):
    """The variable autocasting Keras applies inside a layer's `__call__`, for model methods
    called directly (`scheduled_sampling_logits`), so that under mixed_bfloat16 they read the
    float32 variables as bfloat16 like the layers they call. Keras has no public API for it."""
    if model.compute_dtype == model.variable_dtype:
        return contextlib.nullcontext()
    from keras.src.backend import AutocastScope

    return AutocastScope(model.compute_dtype)


def _run_epoch(
    epoch, steps: _TrainSteps, train_data, valid_batches, train_config, optimizer, console: Console
) -> dict[str, Any]:
    batches = data_lib.make_batches(
        train_data,
        train_config.batch_size,
        seed=train_config.seed * 100_003 + epoch,
        bucket_width=train_config.bucket_width,
    )
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=tuple(tf.TensorSpec((None, None), tf.int32) for _ in range(3)),
    ).prefetch(2)
    started = time.perf_counter()
    total_loss = total_correct = total_count = 0.0
    probability = 0.0
    progress = Progress(
        TextColumn(f"epoch {epoch}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("train", total=len(batches), loss=0.0)
        for index, (source, target_in, target_out) in enumerate(dataset):
            step = int(optimizer.iterations.numpy())
            probability = sampling_probability(
                train_config.scheduled_sampling,
                step,
                train_config.sampling_k,
                train_config.max_sampling_probability,
            )
            if probability > 0.0:
                seed = tf.constant([train_config.seed, step], tf.int32)
                loss, correct, count = steps.train_sampled(
                    source, target_in, target_out, tf.constant(probability, tf.float32), seed
                )
            else:
                loss, correct, count = steps.train(source, target_in, target_out)
            count = float(count)
            total_loss += float(loss) * count
            total_correct += float(correct)
            total_count += count
            if index % 10 == 0 or index == len(batches) - 1:
                progress.update(task, completed=index + 1, loss=total_loss / total_count)
    seconds = time.perf_counter() - started
    valid_loss = valid_correct = valid_count = 0.0
    for source, target_in, target_out in valid_batches:
        loss_sum, correct, count = steps.evaluate(source, target_in, target_out)
        valid_loss += float(loss_sum)
        valid_correct += float(correct)
        valid_count += float(count)
    learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    return {
        "epoch": epoch,
        "train_loss": total_loss / total_count,
        "train_accuracy": total_correct / total_count,
        "valid_loss": valid_loss / valid_count,
        "valid_accuracy": valid_correct / valid_count,
        "learning_rate": learning_rate,
        "sampling_probability": probability,
        "steps": int(optimizer.iterations.numpy()),
        "seconds": seconds,
        "tokens_per_second": total_count / seconds,
    }


def decoding_defaults(train: data_lib.EncodedPairs) -> dict[str, Any]:
    """Decoding settings that suit the trained data, saved in config.json for inference:
    `assistant.runtime.options`' defaults with the values chosen here.

    The reply-length limit a + b x source length must admit the longest training target:
    a covers it with a margin (short prompts can have long answers) and b lets long
    inputs have longer replies still.
    """
    longest = max(len(t) for t in train.targets) + 1  # with EOS
    # alpha 1.0: on the warehouse valid split 0.6 dropped trailing records of multi-record
    # lines (multi exact match 80.0 % vs 85.3 %); 1.5 and more over-generate.
    chosen = {"length_penalty": 1.0, "max_length_a": int(longest * 1.25) + 8,
              "max_length_b": 1.0}
    return ReplyOptions.resolve(default_options(), chosen).to_dict()


def copy_domain_files(data: str | os.PathLike, out_dir: Path) -> str:
    """Carries a data directory's domain into the bundle and returns the domain's name.

    A data directory written for a domain (e.g. by `build-corpus`) holds
    `DOMAIN_MANIFEST`, {"name": ..., "files": [...]}: the files are copied into the bundle
    and config.json names the domain. A directory from before manifests with a
    `faithfulness.json` is the warehouse's; anything else has no domain (`NULL_DOMAIN`).

    Raises:
        DataError: the manifest is not valid or names a missing file.
    """
    directory = Path(data)
    if not directory.is_dir():
        return NULL_DOMAIN
    manifest = directory / DOMAIN_MANIFEST
    if manifest.is_file():
        try:
            entry = json.loads(manifest.read_text(encoding="utf-8"))
            name, files = str(entry["name"]), [str(f) for f in entry.get("files", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise data_lib.DataError(
                f"{manifest}: not a valid domain manifest ({error})") from None
    elif (directory / LEGACY_DOMAIN_FILE).is_file():
        name, files = "warehouse", [LEGACY_DOMAIN_FILE]
    else:
        return NULL_DOMAIN
    for file in files:
        source = directory / file
        if not source.is_file():
            raise data_lib.DataError(f"{manifest}: names {file}, which is missing")
        atomic_write_bytes(out_dir / Path(file).name, source.read_bytes())
    return name


def _save_weights(model: Seq2Seq, path: Path) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save_weights(tmp)
    os.replace(tmp, path)


def _checkpoint_variables(model, optimizer) -> list:
    return list(model.variables) + list(optimizer.variables)


def _save_checkpoint(out_dir: Path, state: dict, model, optimizer) -> None:
    """Writes checkpoint/epoch-N.npz, then state.json naming it, then drops older ones."""
    directory = out_dir / CHECKPOINT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{state['epoch']}.npz"
    arrays = {
        f"v{i}": np.asarray(v.numpy())
        for i, v in enumerate(_checkpoint_variables(model, optimizer))
    }
    tmp = directory / f".tmp-{os.getpid()}-{name}"
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, directory / name)
    atomic_write_text(directory / STATE_FILE, json.dumps({**state, "weights": name}, indent=2))
    for old in directory.glob("epoch-*.npz"):
        if old.name != name:
            old.unlink()


def _load_state(out_dir: Path, config: RunConfig, overwrite: bool) -> dict | None:
    path = out_dir / CHECKPOINT_DIR / STATE_FILE
    if not path.exists():
        return None
    if overwrite:
        for old in (out_dir / CHECKPOINT_DIR).iterdir():
            old.unlink()
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TrainingError(
            f"{path}: unreadable checkpoint state ({error}); use --overwrite to start again"
        ) from None
    if state.get("config") != config.to_dict():
        raise TrainingError(
            f"{out_dir} holds a checkpoint of a different configuration; "
            "use another --out, the same config, or --overwrite"
        )
    return state


def _restore_checkpoint(out_dir: Path, state: dict, model, optimizer) -> None:
    path = out_dir / CHECKPOINT_DIR / state["weights"]
    variables = _checkpoint_variables(model, optimizer)
    try:
        with np.load(path) as arrays:
            if len(arrays.files) != len(variables):
                raise TrainingError(f"{path}: checkpoint does not match the model")
            for i, variable in enumerate(variables):
                variable.assign(arrays[f"v{i}"])
    except (OSError, ValueError) as error:
        raise TrainingError(f"{path}: cannot restore checkpoint ({error})") from None
