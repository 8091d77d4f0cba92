"""The tf.distribute strategy of a training run, chosen from the environment, and what
differs between the chief and the other workers: where each writes, how the batches reach
the replicas, whether all workers start from the same checkpoint.

- TF_CONFIG naming more than one chief/worker task: `MultiWorkerMirroredStrategy` (every
  GPU of every worker is a replica; a worker without GPUs is one CPU replica).
- Otherwise more than one local GPU: `MirroredStrategy` over them.
- Otherwise no strategy: the plain one-device steps, unchanged (`training.steps`).

`batch_size` stays the global batch: each batch is split by rows across the replicas.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from assistant.core import constants
from training.checkpoints import TrainingError

MULTI_WORKER = "multi_worker"
MIRRORED = "mirrored"
ONE_DEVICE = "one_device"
# The TF_CONFIG task types that train (an "evaluator" or "ps" task does not).
_TRAINING_TASKS = ("chief", "worker")


def choose_strategy(tf_config: str | None, gpus: int) -> str:
    """Which strategy a process trains under (see the module docstring).

    Args:
        tf_config: the TF_CONFIG environment variable (None or "" when unset).
        gpus: the number of local GPUs.

    Returns:
        MULTI_WORKER, MIRRORED or ONE_DEVICE.

    Raises:
        ValueError: TF_CONFIG is not JSON, names parameter servers, or names a cluster of
            several tasks without this process's training task.
    """
    tasks = 0
    if tf_config:
        try:
            parsed = json.loads(tf_config)
            cluster = parsed.get("cluster", {})
            task = parsed.get("task", {})
            tasks = sum(len(cluster.get(name, [])) for name in _TRAINING_TASKS)
        except (ValueError, AttributeError, TypeError):
            raise ValueError("TF_CONFIG is not a JSON object with 'cluster' and 'task'") from None
        if cluster.get("ps"):
            raise ValueError(
                "TF_CONFIG names ps tasks: training runs "
                "MultiWorkerMirroredStrategy, with chief and worker tasks only"
            )
        if tasks > 1 and task.get("type") not in _TRAINING_TASKS:
            raise ValueError(
                "TF_CONFIG must give this process's task as "
                '{"type": "chief" or "worker", "index": N}'
            )
    if tasks > 1:
        return MULTI_WORKER
    return MIRRORED if gpus > 1 else ONE_DEVICE


def strategy_from_environment():
    """Creates the strategy `choose_strategy` picks from TF_CONFIG and the local GPUs.

    Call it before TensorFlow's runtime starts (before any other TensorFlow operation):
    `MultiWorkerMirroredStrategy` configures the runtime's collective ops, which a started
    runtime refuses. The training command does.

    Returns:
        A `tf.distribute.Strategy`, or None for one device.

    Raises:
        ValueError: see `choose_strategy`.
        RuntimeError: this process cannot join the TF_CONFIG cluster.
    """
    gpus = len(tf.config.list_physical_devices("GPU"))
    kind = choose_strategy(os.environ.get("TF_CONFIG"), gpus)
    if kind == MULTI_WORKER:
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except tf.errors.OpError as error:  # e.g. the task's port is taken
            raise RuntimeError(f"cannot start this TF_CONFIG task: {error.message}") from None
    if kind == MIRRORED:
        return tf.distribute.MirroredStrategy()
    return None


def describe(strategy) -> dict[str, Any]:
    """What training_log.json records of the strategy: its name, replicas and workers."""
    if strategy is None:
        return {"strategy": "none (one device)", "replicas": 1, "workers": 1}
    replicas = strategy.num_replicas_in_sync
    # MultiWorkerMirroredStrategy's class is named CollectiveAllReduceStrategy.
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return {
        "strategy": "MultiWorkerMirroredStrategy" if multi_worker else type(strategy).__name__,
        "replicas": replicas,
        "workers": replicas // len(strategy.extended.worker_devices),
    }


def summary(strategy) -> str:
    """The line printed at the start of training: the strategy, its replicas and, with
    several workers, which task this process is."""
    description = describe(strategy)
    replicas, workers = description["replicas"], description["workers"]
    plural = "s" if replicas != 1 else ""
    line = f"distribution: {description['strategy']}, {replicas} replica{plural}"
    if workers > 1:
        resolver = strategy.cluster_resolver
        role = "the chief, which writes the bundle" if is_chief(strategy) else "not the chief"
        line += f" on {workers} workers; this is {resolver.task_type} {resolver.task_id}, {role}"
    return line


def is_chief(strategy) -> bool:
    """Whether this process writes the bundle, its log and checkpoints."""
    return strategy is None or bool(strategy.extended.should_checkpoint)


def scope(strategy):
    """`strategy.scope()`, where the model and optimizer variables are created."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


@contextlib.contextmanager
def write_directory(out_dir: Path, chief: bool) -> Iterator[Path]:
    """Where this process writes: `out_dir` on the chief; on every other worker a
    temporary directory, removed afterwards. As in TensorFlow's multi-worker guidance,
    every worker runs the same saving code and only the chief's files are kept."""
    if chief:
        yield out_dir
        return
    directory = Path(tempfile.mkdtemp(prefix="keras-assistant-worker-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def split_batch(batch: Sequence[np.ndarray], replicas: int) -> list[tuple[np.ndarray, ...]]:
    """Splits a `(source, target_in, target_out)` batch by rows into `replicas` slices of
    equal size, adding all-padding rows (masked out of the loss) when the rows do not
    divide evenly.

    Returns:
        `replicas` tuples of arrays of shapes (ceil(batch / replicas), length).
    """
    rows = len(batch[0])
    per_replica = -(-rows // replicas)
    extra = per_replica * replicas - rows
    padded = [
        np.pad(array, ((0, extra), (0, 0)), constant_values=constants.PAD_ID) for array in batch
    ]
    return [
        tuple(array[i * per_replica : (i + 1) * per_replica] for array in padded)
        for i in range(replicas)
    ]


def distribute_batches(strategy, batches: Sequence[Sequence[np.ndarray]]):
    """The batches as a distributed dataset: each worker's input pipeline yields, for
    every global batch, the row slices of its own replicas (`split_batch`)."""

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def slices():
            for batch in batches:
                yield from split_batch(batch, context.num_replicas_in_sync)[first : first + local]

        return tf.data.Dataset.from_generator(
            slices, output_signature=tuple(tf.TensorSpec((None, None), tf.int32) for _ in range(3))
        ).prefetch(2 * local)

    return strategy.distribute_datasets_from_function(dataset_fn)


def check_same_start(strategy, epoch: int, settings: Any) -> None:
    """Checks that every worker starts at the same epoch with the same settings: a worker
    that resumed from another checkpoint, or runs another configuration, would make the
    others wait in collectives for steps that never come.

    Args:
        strategy: the run's strategy (None: nothing to check).
        epoch: the epoch this worker resumes after (0 for a new run).
        settings: anything JSON that must be equal on every worker (configuration, data
            sizes, a digest of the tokenizer).

    Raises:
        TrainingError: the workers disagree (each of them raises it).
    """
    if strategy is None:
        return
    fingerprint = zlib.crc32(json.dumps(settings, sort_keys=True).encode()) >> 12  # < 2**20
    local = tf.constant([epoch, fingerprint], tf.float64)  # (2,)
    both = strategy.experimental_distribute_values_from_function(
        lambda _: tf.stack([local, local * local])
    )
    sums = strategy.reduce(tf.distribute.ReduceOp.SUM, both, axis=None).numpy()  # (2, 2)
    # R sum(x^2) == (sum x)^2 exactly when all R values are equal (Cauchy-Schwarz).
    if not np.all(strategy.num_replicas_in_sync * sums[1] == sums[0] ** 2):
        raise TrainingError(
            "the workers did not start from the same checkpoint and configuration: run the "
            "same command on every worker, with --out on storage they all read"
        )
