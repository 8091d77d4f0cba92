import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import TINY_OVERRIDES
from training.config import explicit_settings, load_run_config
from training.sizing import describe, machine_precision, size_from_data

ROOT = Path(__file__).resolve().parents[2]


def pairs(count: int, words: int = 3000) -> list[SimpleNamespace]:
    return [SimpleNamespace(source=f"U+{i:04X}", target=f"NAME W{i % words}") for i in range(count)]


def test_small_corpus_gets_a_small_regularised_model_trained_longer():
    config, chosen = size_from_data(load_run_config(), frozenset(), pairs(1_500))
    assert chosen == {
        "model.embedding_dim": 64, "model.encoder_layers": 1, "model.encoder_units": 64,
        "model.decoder_units": 128, "model.attention_units": 128, "model.dropout": 0.3,
        "tokenizer.vocab_size": 500, "train.epochs": 200, "train.patience": 6,
        "train.warmup_steps": 300,
        "train.precision": machine_precision(), "train.neighbours": True, "model.copy": True,
        "model.attention_query": "current",
    }  # fmt: skip
    assert config.model.vocab_size == config.tokenizer.vocab_size == 500
    assert (config.model.encoder_units, config.train.epochs) == (64, 200)


def test_epochs_follow_the_step_budget_and_warm_up_is_cut_for_short_runs():
    _, chosen = size_from_data(load_run_config(), frozenset(), pairs(5_000))
    assert chosen["train.epochs"] == 76  # 79 steps an epoch: ceil(6,000 / 79)
    _, chosen = size_from_data(load_run_config(), frozenset(), pairs(12_000))
    assert chosen["train.epochs"] == 32  # 188 steps an epoch: ceil(6,000 / 188)
    assert chosen["train.patience"] == 3  # from 8,000 pairs on: the default
    _, chosen = size_from_data(load_run_config(overrides=["train.epochs=2"]),
                               frozenset({"train.epochs"}), pairs(12_000))
    assert "train.epochs" not in chosen
    assert chosen["train.warmup_steps"] == 37  # a tenth of 2 x 188 steps


def test_vocabulary_is_capped_by_the_words_of_the_corpus():
    _, chosen = size_from_data(load_run_config(), frozenset(), pairs(20_000, words=100))
    # 260 special and byte pieces + 20,101 distinct words: over the tier's 2,000
    assert chosen["tokenizer.vocab_size"] == 2_000
    few = [SimpleNamespace(source="a b", target="c") for _ in range(100)]
    _, chosen = size_from_data(load_run_config(), frozenset(), few)
    assert chosen["tokenizer.vocab_size"] == 300  # the floor: 260 + 40


def test_explicit_settings_are_never_changed(tmp_path):
    yaml = tmp_path / "run.yaml"
    yaml.write_text("model:\n  dropout: 0.05\ntokenizer:\n  vocab_size: 800\n")
    given = explicit_settings(yaml, ["model.encoder_units=32", "epochs=3"])
    assert given == {"model.dropout", "tokenizer.vocab_size", "model.encoder_units",
                     "train.epochs"}
    config, chosen = size_from_data(load_run_config(yaml, ["model.encoder_units=32", "epochs=3"]),
                                    given, pairs(1_000))
    assert (config.model.dropout, config.tokenizer.vocab_size, config.model.encoder_units,
            config.train.epochs) == (0.05, 800, 32, 3)
    assert set(chosen) == {"model.embedding_dim", "model.encoder_layers", "model.decoder_units",
                           "model.attention_units", "train.warmup_steps", "train.precision",
                           "train.patience", "train.neighbours", "model.copy",
                           "model.attention_query"}
    assert describe({}, 10) == "every sized setting was given; nothing chosen from the data"
    assert machine_precision() in ("float32", "mixed_bfloat16")
    assert describe({"model.dropout": 0.3}, 1_000) == (
        "sized from 1,000 train pairs (set any of these to override): model.dropout=0.3")


def _drafts(chosen: dict) -> dict:
    return {key: chosen[key] for key in ("train.neighbours", "model.copy",
                                         "model.attention_query") if key in chosen}


def test_short_sources_without_a_domain_are_read_with_their_neighbours():
    on = {"train.neighbours": True, "model.copy": True, "model.attention_query": "current"}
    config, chosen = size_from_data(load_run_config(), frozenset(), pairs(3_000))
    assert _drafts(chosen) == on
    assert (config.train.neighbours, config.model.copy) == (True, True)
    # a domain's data, or sources longer than 32 bytes at the median: no neighbours
    _, chosen = size_from_data(load_run_config(), frozenset(), pairs(3_000), domain=True)
    assert _drafts(chosen) == {"train.neighbours": False}
    sentences = [SimpleNamespace(source=f"please tell me what code number {i} means",
                                 target="x") for i in range(100)]
    _, chosen = size_from_data(load_run_config(), frozenset(), sentences)
    assert _drafts(chosen) == {"train.neighbours": False}
    _, chosen = size_from_data(load_run_config(), frozenset(), pairs(30_000))
    assert _drafts(chosen) == {"train.neighbours": False}  # every source against every one
    edge = [SimpleNamespace(source="x" * length, target="y") for length in (1, 32, 33)]
    assert _drafts(size_from_data(load_run_config(), frozenset(), edge)[1]) == on  # median 32


def test_neighbours_and_copy_given_are_kept():
    given = load_run_config(overrides=["train.neighbours=false"])
    config, chosen = size_from_data(given, frozenset({"train.neighbours"}), pairs(3_000))
    assert _drafts(chosen) == {} and not config.model.copy
    given = load_run_config(overrides=["model.copy=false"])
    config, chosen = size_from_data(given, frozenset({"model.copy"}), pairs(3_000))
    assert _drafts(chosen) == {"train.neighbours": True, "model.attention_query": "current"}
    assert not config.model.copy


@pytest.mark.slow
def test_training_command_prints_and_saves_what_it_sized(tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"CV{i % 90:02d}:E217\tConveyor {i % 90} is hot.\n"
                            for i in range(200)), encoding="utf-8")
    overrides = [arg for item in [*TINY_OVERRIDES, "train.epochs=1"] for arg in ("--set", item)]
    result = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(data), "--out",
         str(tmp_path / "out"), *overrides],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    train_pairs = json.loads((tmp_path / "out" / "training_log.json").read_text())["pairs"]["train"]
    precision = machine_precision()
    assert (f"sized from {train_pairs} train pairs (set any of these to override): "
            f"model.dropout=0.3, train.patience=6, train.warmup_steps=1, "
            f"train.precision={precision}, "
            "train.neighbours=True, model.copy=True, model.attention_query=current"
            ) in result.stderr
    log = json.loads((tmp_path / "out" / "training_log.json").read_text())
    assert log["sized_from_data"] == {"model.dropout": 0.3, "train.patience": 6,
                                      "train.warmup_steps": 1,
                                      "train.precision": precision, "train.neighbours": True,
                                      "model.copy": True, "model.attention_query": "current"}
    assert log["config"]["train"]["precision"] == precision
    assert log["config"]["model"]["dropout"] == 0.3
    # a neighbours bundle gets its draft_below at the end, chosen on the validation split
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    below = config["decoding"]["draft_below"]
    described = "off (no threshold raises" if below is None else f"{below:.4f} ("
    assert f"{tmp_path / 'out'}: draft_below: {described}" in result.stdout
