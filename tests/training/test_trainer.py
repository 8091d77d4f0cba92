import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.core import constants
from assistant.core.tokenizer import Tokenizer
from tests.conftest import TINY_OVERRIDES as CONFTEST_TINY
from training import data as data_lib
from training.config import load_run_config

ROOT = Path(__file__).resolve().parents[2]
TINY_OVERRIDES = [
    *CONFTEST_TINY,
    "train.warmup_steps=5",
    "train.learning_rate=0.005",
]


def write_pairs(path: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        unit, temp = rng.integers(1, 99), rng.integers(20, 99)
        lines.append(f"CV{unit:02d}:E217 T={temp}\tConveyor {unit}: motor at {temp} °C (case {i}).")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_weights(bundle: Path) -> list[np.ndarray]:
    with np.load(bundle / "checkpoint" / f"epoch-{_state(bundle)['epoch']}.npz") as arrays:
        return [arrays[f"v{i}"] for i in range(len(arrays.files))]


def _state(bundle: Path) -> dict:
    return json.loads((bundle / "checkpoint" / "state.json").read_text())


def test_tiny_model_overfits_twenty_pairs():
    import keras

    from assistant.core.config import ModelConfig
    from assistant.core.model import Seq2Seq
    from training.data import EncodedPairs, make_batches
    from training.steps import TrainSteps

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    data = EncodedPairs(
        [rng.integers(4, 30, rng.integers(2, 7)).astype(np.int32) for _ in range(20)],
        [rng.integers(4, 30, rng.integers(2, 9)).astype(np.int32) for _ in range(20)],
        0,
    )
    model = Seq2Seq(
        ModelConfig(
            vocab_size=30,
            embedding_dim=16,
            encoder_units=16,
            decoder_units=32,
            attention_units=16,
            dropout=0.0,
        )
    )
    model.build()
    optimizer = keras.optimizers.Adam(0.01)
    steps = TrainSteps(model, optimizer, label_smoothing=0.0)
    ((source, target_in, target_out),) = make_batches(data, 20, seed=None)
    for _ in range(300):
        steps.train(source, target_in, target_out)
    _, correct, count = steps.evaluate(source, target_in, target_out)
    assert float(count) == data.target_tokens()
    assert float(correct) == float(count)  # 100% teacher-forced token accuracy


def test_mixed_bfloat16_computes_in_bfloat16_with_float32_weights_and_loss(tmp_path):
    import keras
    import tensorflow as tf

    from assistant.core.config import ModelConfig
    from assistant.core.model import Seq2Seq
    from training.data import EncodedPairs, make_batches
    from training.steps import TrainSteps
    from training.trainer import build_model

    config = ModelConfig(
        vocab_size=30, embedding_dim=16, encoder_units=8, decoder_units=16, attention_units=8
    )
    keras.utils.set_random_seed(0)
    mixed = build_model(config, "mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert mixed.compute_dtype == "bfloat16"
    assert {v.dtype for v in mixed.weights} == {"float32"}
    exact = build_model(config)
    exact.set_weights(mixed.get_weights())
    rng = np.random.default_rng(0)
    data = EncodedPairs(
        [rng.integers(4, 30, rng.integers(2, 7)).astype(np.int32) for _ in range(8)],
        [rng.integers(4, 30, rng.integers(2, 9)).astype(np.int32) for _ in range(8)],
        0,
    )
    ((source, target_in, target_out),) = make_batches(data, 8, seed=None)
    mixed_loss, _, count = TrainSteps(mixed, None, 0.1).evaluate(source, target_in, target_out)
    exact_loss, _, _ = TrainSteps(exact, None, 0.1).evaluate(source, target_in, target_out)
    assert mixed_loss.dtype == tf.float32
    np.testing.assert_allclose(float(mixed_loss), float(exact_loss), rtol=2e-2)

    optimizer = keras.optimizers.Adam(0.01)
    steps = TrainSteps(mixed, optimizer, 0.1)
    steps.train(source, target_in, target_out)
    loss, _, sampled_count = steps.train_sampled(
        source, target_in, target_out, tf.constant(0.5), tf.constant([0, 1])
    )
    assert loss.dtype == tf.float32 and np.isfinite(float(loss))
    assert float(sampled_count) == float(count)
    assert {v.dtype for v in mixed.weights} == {"float32"}

    mixed.save_weights(tmp_path / "model.weights.h5")  # what inference loads, in float32
    reloaded = Seq2Seq(config)
    reloaded.build()
    reloaded.load_weights(tmp_path / "model.weights.h5")
    assert reloaded.compute_dtype == "float32"
    for a, b in zip(mixed.get_weights(), reloaded.get_weights(), strict=True):
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_precision_must_be_known():
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_bfloat16"):
        load_run_config(overrides=["train.precision=float16"])
    assert load_run_config(overrides=["train.precision=float32"]).train.precision == "float32"


@pytest.mark.slow
def test_training_writes_a_bundle_and_resume_equals_uninterrupted(tmp_path):
    from training.trainer import train

    data = write_pairs(tmp_path / "pairs.tsv", 120)
    config = load_run_config(
        overrides=[*TINY_OVERRIDES, "train.epochs=3", "model.dropout=0.2", "train.patience=5"]
    )
    straight = train(data, tmp_path / "straight", config)
    assert straight.epochs_completed == 3
    bundle = tmp_path / "straight"
    for name in (
        constants.CONFIG_FILE,
        constants.TOKENIZER_FILE,
        constants.WEIGHTS_FILE,
        constants.TRAINING_LOG_FILE,
    ):
        assert (bundle / name).is_file(), name
    log = json.loads((bundle / constants.TRAINING_LOG_FILE).read_text())
    assert [e["epoch"] for e in log["epochs"]] == [1, 2, 3]
    decoding = json.loads((bundle / constants.CONFIG_FILE).read_text())["decoding"]
    longest = max(len(ids) for ids in data_lib.encode_pairs(
        data_lib.read_pairs(data), Tokenizer.load(bundle / constants.TOKENIZER_FILE), 256,
        320).targets) + 1
    assert decoding["max_length_a"] >= longest  # the longest training reply fits
    assert decoding["strategy"] == "beam"
    assert list((bundle / "tensorboard").iterdir())

    paused = train(data, tmp_path / "resumed", config, stop_after_epochs=1)
    assert (paused.epochs_completed, paused.stop_reason) == (1, "paused")
    resumed = train(data, tmp_path / "resumed", config)
    assert resumed.epochs_completed == 3
    for a, b in zip(read_weights(bundle), read_weights(tmp_path / "resumed"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    resumed_log = json.loads((tmp_path / "resumed" / constants.TRAINING_LOG_FILE).read_text())
    assert [e["epoch"] for e in resumed_log["epochs"]] == [1, 2, 3]
    np.testing.assert_allclose(
        [e["valid_loss"] for e in resumed_log["epochs"]],
        [e["valid_loss"] for e in log["epochs"]],
        rtol=1e-5,
    )


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    from training.trainer import train

    data = write_pairs(tmp_path / "pairs.tsv", 300)
    overrides = [*TINY_OVERRIDES, "train.epochs=3", "train.patience=5"]
    train(data, tmp_path / "straight", load_run_config(overrides=overrides))

    command = [
        sys.executable,
        "-m",
        "training",
        "train",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "killed"),
        "--no-data-sizing",  # the same config as the Python call (no sizing there)
    ]
    for override in overrides:
        command += ["--set", override]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    state = tmp_path / "killed" / "checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state.exists()
    assert _state(tmp_path / "killed")["epoch"] < 3  # killed mid-run

    train(data, tmp_path / "killed", load_run_config(overrides=overrides))
    for a, b in zip(
        read_weights(tmp_path / "straight"), read_weights(tmp_path / "killed"), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_config_is_refused(tmp_path):
    from training.checkpoints import load_state
    from training.trainer import TrainingError

    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "state.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(TrainingError, match="checkpoint of a different configuration"):
        load_state(tmp_path, load_run_config(), overwrite=False)
    assert load_state(tmp_path, load_run_config(), overwrite=True) is None


def test_a_checkpoint_from_before_a_setting_existed_resumes_at_its_default(tmp_path):
    from training.checkpoints import load_state
    from training.trainer import TrainingError

    before = load_run_config().to_dict()
    del before["train"]["neighbours"]  # written before train.neighbours existed
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "state.json").write_text(json.dumps({"config": before}))
    assert load_state(tmp_path, load_run_config(), overwrite=False) == {"config": before}
    with pytest.raises(TrainingError, match="checkpoint of a different configuration"):
        load_state(tmp_path, load_run_config(overrides=["train.neighbours=true"]),
                   overwrite=False)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_cli_help_and_bad_flags():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "train" in result.stdout
    result = run_cli("train", "--help")
    assert result.returncode == 0
    assert "--data" in result.stdout and "--set" in result.stdout
    result = run_cli("train", "--data", "x.tsv", "--out", "y", "--bogus")
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr
    result = run_cli("train", "--out", "y")
    assert result.returncode == 2
    assert "the following arguments are required: --data" in result.stderr


def test_cli_reports_bad_data_and_settings_in_one_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\nbroken line\n")
    result = run_cli("train", "--data", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"error: {bad}:2: expected 2 tab-separated fields "
        "(source, target), found 1"
    )
    result = run_cli(
        "train", "--data", str(bad), "--out", str(tmp_path / "out"), "--set", "train.batch_size=big"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: train.batch_size must be int, not 'big'"
