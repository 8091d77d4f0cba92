"""Training run configuration: model, tokenizer and training sections, from YAML and --set."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from assistant.core.config import ModelConfig
from training.tokenizer_training import TokenizerConfig

SCHEDULES = ("constant", "inverse_sqrt", "cosine")
SAMPLING_SCHEDULES = ("off", "linear", "exponential", "inverse_sigmoid")
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How the model is trained."""

    seed: int = 0  # seeds Python, NumPy, TensorFlow, dropout, shuffling and the tokenizer
    batch_size: int = 64  # pairs per step
    epochs: int = 30  # upper bound; early stopping usually ends sooner
    learning_rate: float = 2e-3  # peak learning rate, reached after the warm-up
    schedule: str = "inverse_sqrt"  # one of SCHEDULES, after a linear warm-up
    warmup_steps: int = 300  # linear warm-up from 0 to learning_rate
    min_learning_rate: float = 1e-5  # floor of the cosine schedule
    clipnorm: float = 1.0  # gradient norm clipping (per variable, as Keras' clipnorm)
    label_smoothing: float = 0.1  # mass spread uniformly over the vocabulary
    patience: int = 3  # epochs without a better validation loss before stopping
    min_delta: float = 1e-4  # smallest validation-loss decrease that counts as better
    max_source_length: int = 256  # source pieces; longer sources are cut
    max_target_length: int = 320  # target pieces including EOS; longer targets are cut
    bucket_width: int = 4  # target lengths grouped per bucket when batching
    # XLA-compile the train and evaluation steps; batches are then padded to `pad_lengths`
    # (and full rows), so each step compiles once per (source, target) length pair. Off:
    # slower than the plain path on the 2-core CPUs measured (make bench-train).
    xla: bool = False
    pad_lengths: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128, 192, 256, 320)
    valid_fraction: float = 0.05  # of a single data file, split by source hash
    test_fraction: float = 0.05  # of a single data file, split by source hash
    scheduled_sampling: str = "off"  # one of SAMPLING_SCHEDULES
    sampling_k: float = 2000.0  # schedule speed: steps (linear, inverse_sigmoid) or decay base
    max_sampling_probability: float = 0.25  # cap on feeding the model its own predictions
    # Keras dtype policy of training, one of PRECISIONS: mixed_bfloat16 computes in bfloat16
    # with float32 variables (saved weights stay float32) and a float32 loss; faster than
    # float32 on a CPU with AVX512_BF16 (make bench-train); inference is float32 either way.
    precision: str = "mixed_bfloat16"
    # Read each source followed by its nearest other train pair, so the model edits that
    # pair's target instead of guessing (`assistant.domains.neighbours`; pairs without a
    # domain only). The bundle carries the train pairs and the export finds neighbours too.
    neighbours: bool = False

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.scheduled_sampling not in SAMPLING_SCHEDULES:
            raise ValueError(f"scheduled_sampling must be one of {', '.join(SAMPLING_SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be positive")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError("label_smoothing must be in [0, 1)")
        if not 0.0 <= self.max_sampling_probability <= 1.0:
            raise ValueError("max_sampling_probability must be in [0, 1]")
        if not self.pad_lengths or any(int(n) < 1 for n in self.pad_lengths):
            raise ValueError("pad_lengths must be positive lengths")
        if self.max_target_length < 2 or self.max_source_length < 1:
            raise ValueError("max_source_length must be >= 1 and max_target_length >= 2")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs besides the data: one section per concern."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists), as checkpoints and bundles store it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def load_run_config(
    path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Reads a YAML file with `model:`, `tokenizer:` and `train:` sections, then applies
    `section.key=value` overrides (a bare `key=value` works when only one section has it).

    Raises:
        ValueError: a one-line message naming the bad file, section, key or value.
    """
    values = _read_values(path, overrides)
    try:
        return RunConfig(
            model=ModelConfig(**values["model"]),
            tokenizer=TokenizerConfig(**values["tokenizer"]),
            train=TrainConfig(**values["train"]),
        )
    except (TypeError, ValueError) as error:
        raise ValueError(str(error)) from None


def explicit_settings(
    path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> frozenset[str]:
    """The "section.key" names the YAML file and the overrides set (the rest are defaults).

    Raises:
        ValueError: as `load_run_config`.
    """
    values = _read_values(path, overrides)
    return frozenset(f"{section}.{key}" for section, keys in values.items() for key in keys)


def _read_values(path, overrides) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {"model": {}, "tokenizer": {}, "train": {}}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ValueError(f"{path}: cannot read config ({error.strerror})") from None
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: invalid YAML ({_first_line(error)})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping with model/tokenizer/train sections")
        for section, section_values in loaded.items():
            if section not in values:
                raise ValueError(
                    f"{path}: unknown section {section!r} (expected model, tokenizer, train)"
                )
            if not isinstance(section_values, dict):
                raise ValueError(f"{path}: section {section!r} must be a mapping")
            for key, value in section_values.items():
                values[section][key] = _coerce(section, key, value)
    for override in overrides:
        section, key, raw = _parse_override(override)
        values[section][key] = _coerce(section, key, yaml.safe_load(raw) if raw else raw)
    return values


_SECTIONS = {"model": ModelConfig, "tokenizer": TokenizerConfig, "train": TrainConfig}


def _parse_override(override: str) -> tuple[str, str, str]:
    if "=" not in override:
        raise ValueError(f"--set {override!r}: expected key=value")
    name, raw = override.split("=", 1)
    name = name.strip()
    if "." in name:
        section, key = name.split(".", 1)
        if section not in _SECTIONS:
            raise ValueError(f"--set {override!r}: unknown section {section!r}")
        return section, key, raw
    owners = [s for s, cls in _SECTIONS.items() if name in _field_types(cls)]
    if len(owners) != 1:
        where = "no section" if not owners else f"sections {', '.join(owners)}"
        raise ValueError(f"--set {override!r}: key {name!r} is in {where}; write section.key")
    return owners[0], name, raw


def _coerce(section: str, key: str, value: Any) -> Any:
    types_by_name = _field_types(_SECTIONS[section])
    if key not in types_by_name:
        known = ", ".join(sorted(types_by_name))
        raise ValueError(f"unknown {section} setting {key!r} (known: {known})")
    wanted = types_by_name[key]
    if wanted is tuple:
        if not isinstance(value, list | tuple) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{section}.{key} must be a list of whole numbers, not {value!r}")
        return tuple(value)
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if wanted is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise ValueError(f"{section}.{key} must be {wanted.__name__}, not {value!r}")
    return value


def _field_types(cls) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    result = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if isinstance(hint, types.UnionType):
            hint = typing.get_args(hint)[0]
        result[field.name] = typing.get_origin(hint) or hint  # tuple[int, ...] -> tuple
    return result


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
