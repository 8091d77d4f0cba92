"""The run's checkpoint: checkpoint/epoch-N.npz (model and optimizer variables) and
checkpoint/state.json (epoch, best loss, patience count, configuration), plus the best
epoch's weights file of the bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from assistant.core.atomic_files import atomic_write_text
from assistant.core.model import Seq2Seq
from training.config import RunConfig

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"


class TrainingError(RuntimeError):
    """The run cannot start or continue; the message says what to do."""


def initial_state(config: RunConfig) -> dict:
    """The state of a run that has not trained an epoch yet."""
    return {
        "epoch": 0,
        "best_valid_loss": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "config": config.to_dict(),
        "finished": False,
    }


def save_weights(model: Seq2Seq, path: Path) -> None:
    """Writes the model's weights to `path` through a temporary file."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save_weights(tmp)
    os.replace(tmp, path)


def save_checkpoint(out_dir: Path, state: dict, model, optimizer) -> None:
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


def load_state(out_dir: Path, config: RunConfig, overwrite: bool) -> dict | None:
    """The checkpoint state in `out_dir`, or None when there is none (or `overwrite`
    discarded it).

    Raises:
        TrainingError: the state is unreadable or belongs to another configuration.
    """
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
    if _with_defaults(state.get("config")) != config.to_dict():
        raise TrainingError(
            f"{out_dir} holds a checkpoint of a different configuration; "
            "use another --out, the same config, or --overwrite"
        )
    return state


def restore_checkpoint(out_dir: Path, state: dict, model, optimizer) -> None:
    """Assigns the checkpoint that `state` names to the model's and optimizer's variables.

    Raises:
        TrainingError: the checkpoint is unreadable or does not match the model.
    """
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


def _checkpoint_variables(model, optimizer) -> list:
    return list(model.variables) + list(optimizer.variables)


def _with_defaults(saved) -> dict | None:
    """A checkpoint's config with the settings added since it was written at their defaults
    (which reproduce how it was trained), so it still resumes."""
    if not isinstance(saved, dict):
        return saved
    defaults = RunConfig().to_dict()
    return {**saved, **{section: {**values, **saved[section]}
                        for section, values in defaults.items()
                        if isinstance(saved.get(section), dict)}}
