"""Distributed training: the strategy chosen from the environment, and real two-worker
MultiWorkerMirroredStrategy runs on 127.0.0.1 compared with a one-worker run."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from tests.training.test_trainer import TINY_OVERRIDES, read_weights, write_pairs
from training.config import load_run_config

ROOT = Path(__file__).resolve().parents[2]
# float32 without dropout: a two-worker run then differs from one worker only by the order
# of float sums (measured: valid losses equal to 1e-7 relative). clipnorm 0.05 clips most
# steps: clipping each replica's share before summing (Keras' clipnorm under a strategy)
# would move the valid losses by 1e-3 relative.
OVERRIDES = [
    *TINY_OVERRIDES,
    "train.epochs=2",
    "train.patience=5",
    "model.dropout=0.0",
    "train.precision=float32",
    "train.clipnorm=0.05",
]
LOSS_RTOL = 1e-4  # two workers against one worker, the same global batch of 16
WORKERS_TIMEOUT = 240  # seconds a cluster may take before it counts as hung and is killed


class Worker(NamedTuple):
    process: subprocess.Popen
    stderr: Path


def tf_config(cluster: dict, task_type: str, index: int) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_the_strategy_is_chosen_from_tf_config_and_the_gpus():
    from training.distribute import MIRRORED, MULTI_WORKER, ONE_DEVICE, choose_strategy

    two_workers = tf_config({"worker": ["a:1", "b:2"]}, "worker", 1)
    chief_and_worker = tf_config({"chief": ["a:1"], "worker": ["b:2"]}, "chief", 0)
    one_worker = tf_config({"worker": ["a:1"]}, "worker", 0)
    chosen = {
        (config, gpus): choose_strategy(config, gpus)
        for config in (None, "", two_workers, chief_and_worker, one_worker)
        for gpus in (0, 1, 4)
    }
    assert chosen == {
        (None, 0): ONE_DEVICE, (None, 1): ONE_DEVICE, (None, 4): MIRRORED,
        ("", 0): ONE_DEVICE, ("", 1): ONE_DEVICE, ("", 4): MIRRORED,
        (two_workers, 0): MULTI_WORKER, (two_workers, 1): MULTI_WORKER,
        (two_workers, 4): MULTI_WORKER,
        (chief_and_worker, 0): MULTI_WORKER, (chief_and_worker, 1): MULTI_WORKER,
        (chief_and_worker, 4): MULTI_WORKER,
        (one_worker, 0): ONE_DEVICE, (one_worker, 1): ONE_DEVICE, (one_worker, 4): MIRRORED,
    }  # fmt: skip


@pytest.mark.parametrize(("config", "message"), [
    ("{cluster", "TF_CONFIG is not a JSON object with 'cluster' and 'task'"),
    ("[1, 2]", "TF_CONFIG is not a JSON object with 'cluster' and 'task'"),
    (tf_config({"worker": ["a:1"], "ps": ["b:2"]}, "worker", 0), "TF_CONFIG names ps tasks"),
    (tf_config({"worker": ["a:1", "b:2"]}, "evaluator", 0), "this process's task"),
])  # fmt: skip
def test_a_tf_config_that_cannot_train_is_refused(config, message):
    from training.distribute import choose_strategy

    with pytest.raises(ValueError, match=message):
        choose_strategy(config, 0)


def test_without_tf_config_or_gpus_training_runs_on_one_device(monkeypatch):
    from training.distribute import describe, is_chief, strategy_from_environment, summary

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = strategy_from_environment()  # no GPU on the machines the tests run on
    assert strategy is None and is_chief(strategy)
    assert describe(strategy) == {"strategy": "none (one device)", "replicas": 1, "workers": 1}
    assert summary(strategy) == "distribution: none (one device), 1 replica"


def test_a_batch_is_split_by_rows_with_padding_rows_when_uneven():
    from assistant.core import constants
    from training.distribute import split_batch

    batch = tuple(np.arange(10 * i, 10 * i + 10, dtype=np.int32).reshape(5, 2) for i in (1, 2, 3))
    first, second = split_batch(batch, 2)
    for index, array in enumerate(batch):
        np.testing.assert_array_equal(first[index], array[:3])
        np.testing.assert_array_equal(second[index][:2], array[3:])
        np.testing.assert_array_equal(second[index][2], [constants.PAD_ID] * 2)
    halves = split_batch(tuple(array[:4] for array in batch), 2)
    assert [part[0].shape for part in halves] == [(2, 2), (2, 2)]


def test_only_the_chief_writes_into_the_bundle(tmp_path):
    from training.distribute import write_directory

    with write_directory(tmp_path, chief=True) as directory:
        assert directory == tmp_path
    with write_directory(tmp_path, chief=False) as directory:
        assert directory != tmp_path and directory.is_dir()
        (directory / "model.weights.h5").write_bytes(b"")
    assert not directory.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_replica_optimizer_clips_like_keras_clipnorm():
    import keras
    import tensorflow as tf

    from training.replicated_steps import replica_optimizer

    gradients = [
        [tf.constant([3.0, 4.0, 0.0]), tf.constant([0.01, 0.0])],  # the first is clipped
        [tf.constant([0.1, 0.1, 0.1]), tf.constant([0.0, 0.02])],
    ]
    results = []
    for optimizer in (
        keras.optimizers.Adam(0.1, clipnorm=1.0),
        replica_optimizer(0.1, 1.0),
        keras.optimizers.Adam(0.1),
    ):
        variables = [keras.Variable(np.ones(3, np.float32)), keras.Variable(np.ones(2, np.float32))]
        optimizer.build(variables)
        for step in gradients:
            optimizer.apply(step, variables)
        results.append(np.concatenate([v.numpy() for v in variables]))
    clipped, replicated, unclipped = results
    np.testing.assert_array_equal(replicated, clipped)
    assert not np.allclose(clipped, unclipped)


@pytest.mark.slow
def test_two_workers_train_like_one_and_resume_after_a_worker_is_killed(tmp_path):
    # One cluster covers both within the suite's time budget: its first epoch on two
    # workers, then worker 1 killed, then the second epoch on the restarted cluster. The
    # one-worker run trains in this process while the chief finds out that worker 1 died.
    from assistant.runtime.assistant import Assistant

    data, out = write_pairs(tmp_path / "pairs.tsv", 160), tmp_path / "model"
    first = start_workers(data, out, tmp_path / "first")
    kill_worker_after_first_epoch(first, out)
    reference = train_one_worker(data, tmp_path / "one_worker")
    check_the_chief_stopped(first, out)

    results = finish(start_workers(data, out, tmp_path / "restart"))
    assert [code for code, _ in results] == [0, 0], results
    (_, chief), (_, worker) = results
    assert (
        "distribution: MultiWorkerMirroredStrategy, 2 replicas on 2 workers; this is "
        "worker 0, the chief, which writes the bundle\nresumed from the checkpoint of epoch 1"
    ) in chief
    assert "this is worker 1, not the chief\nresumed from the checkpoint of epoch 1" in worker
    log = read_log(out)
    assert log["distribution"] == {
        "strategy": "MultiWorkerMirroredStrategy",
        "replicas": 2,
        "workers": 2,
    }
    expected = [epoch["valid_loss"] for epoch in read_log(reference)["epochs"]]
    assert len(expected) == 2
    np.testing.assert_allclose([e["valid_loss"] for e in log["epochs"]], expected, rtol=LOSS_RTOL)
    for a, b in zip(read_weights(out), read_weights(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert Assistant.load(out).model.count_params() == read_log(reference)["parameters"]
    # Worker 1 wrote its bundle files into a temporary directory, since removed.
    assert list((tmp_path / "restart" / "tmp").glob("keras-assistant-worker-*")) == []
    assert list((tmp_path / "first" / "tmp").glob("keras-assistant-worker-*"))  # killed


def train_one_worker(data: Path, out: Path) -> Path:
    """Trains the reference bundle on one worker, in this process."""
    from rich.console import Console

    from training.trainer import train

    train(data, out, load_run_config(overrides=OVERRIDES), console=Console(file=io.StringIO()))
    return out


def kill_worker_after_first_epoch(workers: list[Worker], out: Path) -> None:
    """Kills worker 1 as soon as the chief has checkpointed the first epoch."""
    state = out / "checkpoint" / "state.json"
    deadline = time.monotonic() + WORKERS_TIMEOUT
    while not state.exists() and workers[0].process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers[1].process.send_signal(signal.SIGKILL)


def check_the_chief_stopped(workers: list[Worker], out: Path) -> None:
    """The chief of a cluster that lost worker 1 stops with a one-line error instead of
    waiting for it, after the checkpoint of the first epoch."""
    (chief_code, chief_error), (worker_code, _) = finish(workers)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1  # killed during the second epoch
    assert (chief_code, worker_code) == (1, -signal.SIGKILL), chief_error
    assert re.search(
        r"^error: an operation between the workers failed \(\w+Error\): a worker stopped or "
        r"cannot be reached; start every worker again with the same command to resume from "
        r"the chief's last checkpoint$",
        chief_error,
        re.MULTILINE,
    ), chief_error


def read_log(bundle: Path) -> dict:
    return json.loads((bundle / "training_log.json").read_text())


def start_workers(data: Path, out: Path, workdir: Path) -> list[Worker]:
    """Two `python -m training train` processes, workers 0 and 1 of a TF_CONFIG cluster on
    free ports of 127.0.0.1, with their stderr in files of `workdir` and their TMPDIR
    `workdir`/tmp."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    command = [
        sys.executable,
        "-m",
        "training",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--no-data-sizing",
        *[arg for item in OVERRIDES for arg in ("--set", item)],
    ]
    (workdir / "tmp").mkdir(parents=True)
    workers = []
    for index in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(workdir / "tmp"),
            "TF_CONFIG": tf_config(cluster, "worker", index),
        }
        stderr = workdir / f"worker{index}-port{ports[index]}.stderr"
        with stderr.open("w") as handle:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=handle
            )
        workers.append(Worker(process, stderr))
    return workers


def finish(workers: list[Worker]) -> list[tuple[int, str]]:
    """Each worker's exit code and stderr; kills them all (and fails) when they outlast
    WORKERS_TIMEOUT, so that a hung collective cannot hang the test run."""
    deadline = time.monotonic() + WORKERS_TIMEOUT
    try:
        for worker in workers:
            worker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        for worker in workers:
            worker.process.kill()
            worker.process.wait()
        pytest.fail(f"the workers did not finish within {WORKERS_TIMEOUT} s")
    return [(worker.process.returncode, worker.stderr.read_text()) for worker in workers]


def free_ports(count: int) -> list[int]:
    """Ports of 127.0.0.1 that nothing listens on (the OS picks them)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
