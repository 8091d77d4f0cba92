"""One training epoch: shuffled length-bucketed batches through the train steps (with
scheduled sampling when it is on), then the validation batches, summed into a log record."""

from __future__ import annotations

import time
from typing import Any

import keras
import tensorflow as tf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from training import data as data_lib
from training.replicated_steps import ReplicatedSteps
from training.schedules import sampling_probability
from training.steps import TrainSteps


def run_epoch(
    epoch,
    steps: TrainSteps | ReplicatedSteps,
    train_data,
    valid_batches,
    train_config,
    optimizer,
    console: Console,
) -> dict[str, Any]:
    """Trains one epoch and evaluates on the validation batches.

    Args:
        epoch: the epoch's number (from 1); seeds the shuffling of its batches.
        steps: the compiled steps of the model and `optimizer` (`TrainSteps`, or
            `ReplicatedSteps` under a distribution strategy).
        train_data: the encoded training pairs.
        valid_batches: `(source, target_in, target_out)` batches to evaluate on (as
            `ReplicatedSteps.dataset` distributes them, under a strategy).
        train_config: the run's `TrainConfig`.
        optimizer: the optimizer `steps` applies (its step count drives scheduled sampling).
        console: where the progress bar goes (only when it is a terminal).

    Returns:
        The epoch's record for training_log.json: losses, accuracies, learning rate,
        sampling probability, steps, seconds and real target tokens per second.
    """
    batches = data_lib.make_batches(
        train_data,
        train_config.batch_size,
        seed=train_config.seed * 100_003 + epoch,
        bucket_width=train_config.bucket_width,
        pad_lengths=train_config.pad_lengths if train_config.xla else None,
    )
    dataset = steps.dataset(batches)
    started = time.perf_counter()
    (total_loss, total_correct, total_count), probability = _train_batches(
        epoch, steps, dataset, len(batches), train_config, optimizer, console
    )
    seconds = time.perf_counter() - started
    valid_loss, valid_correct, valid_count = _evaluate(steps, valid_batches)
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


def _train_batches(epoch, steps, dataset, batch_count, train_config, optimizer, console):
    """Runs the train step on every batch of `dataset` under a progress bar.

    Returns:
        ((summed token loss, correct tokens, real tokens), the last sampling probability).
    """
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
        task = progress.add_task("train", total=batch_count, loss=0.0)
        for index, (source, target_in, target_out) in enumerate(dataset):
            loss, correct, count, probability = _train_step(
                steps, source, target_in, target_out, train_config, optimizer
            )
            count = float(count)
            total_loss += float(loss) * count
            total_correct += float(correct)
            total_count += count
            if index % 10 == 0 or index == batch_count - 1:
                progress.update(task, completed=index + 1, loss=total_loss / total_count)
    return (total_loss, total_correct, total_count), probability


def _train_step(steps, source, target_in, target_out, train_config, optimizer):
    """One train step, with scheduled sampling when its probability at this step is above 0.

    Returns:
        (loss, correct, count, sampling probability).
    """
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
    return loss, correct, count, probability


def _evaluate(steps, valid_batches) -> tuple[float, float, float]:
    """Returns (summed token loss, correct tokens, real tokens) over `valid_batches`."""
    valid_loss = valid_correct = valid_count = 0.0
    for source, target_in, target_out in valid_batches:
        loss_sum, correct, count = steps.evaluate(source, target_in, target_out)
        valid_loss += float(loss_sum)
        valid_correct += float(correct)
        valid_count += float(count)
    return valid_loss, valid_correct, valid_count
