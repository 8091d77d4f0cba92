"""Model configuration: a frozen dataclass saved as JSON next to the weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

CONFIG_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters that define the seq2seq network.

    The defaults are the reference size (about 2.4M parameters with a 2,000-piece vocabulary).
    """

    vocab_size: int = 2000  # SentencePiece pieces, shared by source and target
    embedding_dim: int = 128  # one embedding table, shared by encoder and decoder
    rnn_type: str = "gru"  # "gru" or "lstm", for the encoder and the decoder
    encoder_layers: int = 2  # stacked bidirectional layers
    encoder_units: int = 128  # per direction; encoder outputs have 2 x this width
    decoder_units: int = 256  # decoder RNN state width
    attention_units: int = 256  # width of the additive attention's hidden layer
    dropout: float = 0.1  # on embeddings, between encoder layers and before the output layer
    source_case: str = "keep"  # "upper": ASCII letters of inputs are upper-cased before encoding
    # Copy attention (pointer-generator, See et al. 2017): each step's distribution mixes the
    # vocabulary softmax with the attention scattered onto the source's piece ids, weighted
    # by a learned gate, so numbers and codes can be copied from the input.
    copy: bool = False
    # The state the attention reads at step t: "previous" scores s_{t-1}, before the decoder
    # has read y_{t-1} (Bahdanau et al. 2015; bundles before this option); "current" scores
    # s_t, after it (Luong et al. 2015, See et al. 2017), the previous context fed as input.
    # A copy model copies the first piece of a span ("Equipment VW 41") only with
    # "current": with "previous" the step that emits it does not know the piece before it.
    attention_query: str = "previous"

    def __post_init__(self) -> None:
        if self.rnn_type not in ("gru", "lstm"):
            raise ValueError(f"rnn_type must be 'gru' or 'lstm', not {self.rnn_type!r}")
        for name in (
            "vocab_size",
            "embedding_dim",
            "encoder_layers",
            "encoder_units",
            "decoder_units",
            "attention_units",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, not {getattr(self, name)!r}")
        if self.source_case not in ("keep", "upper"):
            raise ValueError(f"source_case must be 'keep' or 'upper', not {self.source_case!r}")
        if self.attention_query not in ("previous", "current"):
            raise ValueError("attention_query must be 'previous' or 'current', "
                             f"not {self.attention_query!r}")
        if not isinstance(self.copy, bool):
            raise ValueError(f"copy must be true or false, not {self.copy!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Builds a config from a dict, rejecting keys this version does not know.

        Raises:
            ValueError: on an unknown key or a value of the wrong kind.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config key(s): {', '.join(unknown)}")
        return cls(**values)


def save_bundle_config(path: Path, model: ModelConfig, **extra: Any) -> None:
    """Writes `config.json` (atomically) with the model config and any extra sections."""
    from assistant.core.atomic_files import atomic_write_text

    payload = {"version": CONFIG_VERSION, "model": model.to_dict(), **extra}
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def load_bundle_config(path: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """Reads `config.json`; returns the model config and the whole payload.

    Raises:
        ValueError: when the file is not valid JSON or not a config this version can read.
    """
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a valid config file ({error})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise ValueError(f"{path}: not a model config (no 'model' section)")
    if payload.get("version") != CONFIG_VERSION:
        raise ValueError(f"{path}: config version {payload.get('version')!r} is not supported")
    return ModelConfig.from_dict(payload["model"]), payload
