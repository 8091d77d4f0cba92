"""Settings sized from the data: what `python -m training train` uses for what you leave unset.

The dataclass defaults of `RunConfig` suit a corpus of tens of thousands of pairs. A user
who brings 1-5k pairs of their own and no settings would get a model too large for them,
without dropout enough to keep it from memorising, trained for too few steps. So the
training command fills every setting the config file and `--set` leave unset from the
size of the train split, by the table below; the choices are printed at the start of
training and saved in the bundle's training_log.json ("sized_from_data").

| train pairs | vocab | embedding / encoder / decoder | dropout | epochs (upper bound) | patience |
|---|---:|---|---:|---|---:|
| < 2,000 | 500 | 64 / 1 x 64 / 128 | 0.3 | ~5,000 steps, 20-200 | 6 |
| < 8,000 | 1,000 | 96 / 2 x 96 / 192 | 0.3 | ~6,000 steps, 15-100 | 6 |
| < 30,000 | 2,000 | 128 / 2 x 128 / 256 | 0.2 | ~6,000 steps, 10-60 | 3 |
| more | 4,000 | 256 / 2 x 256 / 512 | 0.1 | ~15,000 steps, 4-30 | 3 |

Patience (epochs without a better validation loss before early stopping) is longer for small
corpora: their validation split is a few hundred pairs, whose loss goes up and down between
epochs while the model still learns.

The training precision is chosen from the machine, not the data (`machine_precision`):
mixed bfloat16 where the hardware computes in bfloat16 (a CPU with AVX512-BF16 or AMX, a
GPU of compute capability 8.0 or more), float32 elsewhere, where bfloat16 is emulated and
about 2.5x slower (measured on a 2-core AMD EPYC without AVX512).

Short sources without a domain (a median train source of at most `SHORT_SOURCE` bytes: codes,
part numbers, identifiers) in fewer than `NEIGHBOURS_PAIRS` train pairs are read with their
nearest train pair (`train.neighbours`), with
copy attention on the current state to edit it (`model.copy`, `model.attention_query`): the
model then edits its neighbour's target instead of guessing one.

The vocabulary is also capped by the corpus (byte pieces plus its distinct words), since
SentencePiece cannot build more pieces than the text holds. Early stopping (`patience`)
still ends a run sooner when the validation loss stops improving, and the warm-up is cut
to a tenth of the run when the run is short. Settings written in the config or with `--set`
are never changed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence
from typing import Any

from training.config import RunConfig

# (fewer than this many train pairs, settings); the last row has no bound.
_TIERS: tuple[tuple[float, dict[str, Any]], ...] = (
    (2_000, {"vocab": 500, "embedding_dim": 64, "encoder_layers": 1, "encoder_units": 64,
             "decoder_units": 128, "attention_units": 128, "dropout": 0.3,
             "steps": 5_000, "epochs": (20, 200), "patience": 6}),
    (8_000, {"vocab": 1_000, "embedding_dim": 96, "encoder_layers": 2, "encoder_units": 96,
             "decoder_units": 192, "attention_units": 192, "dropout": 0.3,
             "steps": 6_000, "epochs": (15, 100), "patience": 6}),
    (30_000, {"vocab": 2_000, "embedding_dim": 128, "encoder_layers": 2, "encoder_units": 128,
              "decoder_units": 256, "attention_units": 256, "dropout": 0.2,
              "steps": 6_000, "epochs": (10, 60), "patience": 3}),
    (math.inf, {"vocab": 4_000, "embedding_dim": 256, "encoder_layers": 2, "encoder_units": 256,
                "decoder_units": 512, "attention_units": 512, "dropout": 0.1,
                "steps": 15_000, "epochs": (4, 30), "patience": 3}),
)  # fmt: skip
_MODEL_KEYS = ("embedding_dim", "encoder_layers", "encoder_units", "decoder_units",
               "attention_units", "dropout")
# Neighbours are chosen when the median train source is at most this many bytes: the bytes
# the neighbours domain compares (`assistant.domains.neighbours.index.KEY_BYTES`).
SHORT_SOURCE = 32
# ... and the train split has fewer pairs than this: every source is compared with every
# train source, in training (numpy) and for each input (in the export's graph too).
NEIGHBOURS_PAIRS = 30_000
_BYTE_PIECES = 4 + 256  # special ids and byte-fallback pieces every vocabulary holds
_MIN_VOCAB = _BYTE_PIECES + 40


def size_from_data(config: RunConfig, explicit: Collection[str], pairs: Sequence[Any],
                   domain: bool = False) -> tuple[RunConfig, dict[str, Any]]:
    """`config` with every sized setting that is not in `explicit` ("section.key" names)
    chosen from the train `pairs` (objects with `source` and `target`) and whether the data
    has a `domain`.

    Returns:
        (the new config, {"section.key": value} of what was chosen), the second empty when
        every sized setting was given.
    """
    tier = next(settings for bound, settings in _TIERS if len(pairs) < bound)
    words = {word for pair in pairs for text in (pair.source, pair.target)
             for word in text.split()}
    steps_per_epoch = max(1, -(-len(pairs) // config.train.batch_size))
    low, high = tier["epochs"]
    epochs = min(high, max(low, -(-tier["steps"] // steps_per_epoch)))
    wanted: dict[str, Any] = {f"model.{key}": tier[key] for key in _MODEL_KEYS}
    wanted["tokenizer.vocab_size"] = max(_MIN_VOCAB, min(tier["vocab"], _BYTE_PIECES + len(words)))
    wanted["train.epochs"] = epochs  # (dropped below when given)
    wanted["train.patience"] = tier["patience"]
    if "train.epochs" in explicit:
        epochs = config.train.epochs
    wanted["train.warmup_steps"] = min(config.train.warmup_steps,
                                       max(1, steps_per_epoch * epochs // 10))
    if "train.precision" not in explicit:  # (reads the machine: only when it is needed)
        wanted["train.precision"] = machine_precision()
    wanted.update(_drafts(config, explicit, pairs, domain))
    chosen = {name: value for name, value in wanted.items() if name not in explicit}
    sections = {section: {} for section in ("model", "tokenizer", "train")}
    for name, value in chosen.items():
        section, key = name.split(".", 1)
        sections[section][key] = value
    if "tokenizer.vocab_size" in chosen:
        sections["model"]["vocab_size"] = chosen["tokenizer.vocab_size"]
    sized = RunConfig(
        model=dataclasses.replace(config.model, **sections["model"]),
        tokenizer=dataclasses.replace(config.tokenizer, **sections["tokenizer"]),
        train=dataclasses.replace(config.train, **sections["train"]),
    )
    return sized, chosen


def _drafts(config: RunConfig, explicit: Collection[str], pairs: Sequence[Any],
            domain: bool) -> dict[str, Any]:
    """Neighbours (and the copy attention that edits them) for short sources without a
    domain: the settings of `train.neighbours` to choose."""
    neighbours = config.train.neighbours
    if "train.neighbours" not in explicit:
        lengths = sorted(len(pair.source.encode("utf-8", "surrogateescape")) for pair in pairs)
        neighbours = (not domain and 0 < len(pairs) < NEIGHBOURS_PAIRS
                      and lengths[len(lengths) // 2] <= SHORT_SOURCE)
    chosen: dict[str, Any] = {"train.neighbours": neighbours}
    if neighbours:  # a draft is edited by copying from it
        chosen.update({"model.copy": True, "model.attention_query": "current"})
    return chosen


def machine_precision() -> str:
    """"mixed_bfloat16" when this machine computes in bfloat16 natively, else "float32"."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (8, 0):
            return "mixed_bfloat16"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = {flag for line in cpuinfo if line.startswith("flags")
                     for flag in line.split(":", 1)[1].split()}
    except OSError:  # not Linux: no way to tell, and float32 is never emulated
        return "float32"
    return "mixed_bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"


def describe(chosen: dict[str, Any], pairs: int) -> str:
    """One line for the start of training: what was sized from how many pairs."""
    if not chosen:
        return "every sized setting was given; nothing chosen from the data"
    settings = ", ".join(f"{name}={value}" for name, value in chosen.items())
    return f"sized from {pairs:,} train pairs (set any of these to override): {settings}"
