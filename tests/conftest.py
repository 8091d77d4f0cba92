"""Shared fixtures: tiny tokenizers and models that build in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

TINY_MODEL = {
    "embedding_dim": 16,
    "encoder_units": 8,
    "decoder_units": 16,
    "attention_units": 8,
    "dropout": 0.0,
}

# `--set` overrides of a training run that finishes in seconds.
TINY_OVERRIDES = [
    "tokenizer.vocab_size=400",
    "model.embedding_dim=16",
    "model.encoder_units=8",
    "model.decoder_units=16",
    "model.attention_units=8",
    "model.encoder_layers=1",
    "train.batch_size=16",
]

SAMPLE_TEXTS = [
    "CV07:E217 T=85",
    "Conveyor 7: motor temperature 85 °C. Stop the conveyor and let the motor cool.",
    "SN02:W301 N=12",
    "Sorter 2: 12 jams in the last hour. Check the diverter.",
    "hello",
    "Hello! How can I help?",
    "what does E217 mean?",
    "E217 means motor over-temperature.",
]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from training.tokenizer_training import TokenizerConfig, train_tokenizer

    return train_tokenizer(SAMPLE_TEXTS * 20, TokenizerConfig(vocab_size=400), seed=0)
