import json

import pytest

from training.model_card import render_card

LOG = {
    "config": {
        "tokenizer": {"model_type": "unigram"},
        "train": {"batch_size": 64, "schedule": "cosine", "learning_rate": 0.003,
                  "warmup_steps": 300, "label_smoothing": 0.1, "seed": 0},
    },
    "vocab_size": 1803, "parameters": 2340747, "pairs": {"train": 40000, "valid": 2000},
    "best_epoch": 2,
    "epochs": [
        {"epoch": 1, "train_loss": 3.0, "valid_loss": 0.5, "valid_accuracy": 0.9,
         "seconds": 120.0, "tokens_per_second": 10000.0},
        {"epoch": 2, "train_loss": 1.0, "valid_loss": 0.25, "valid_accuracy": 0.975,
         "seconds": 60.0, "tokens_per_second": 11000.0},
    ],
}
CONFIG = {"version": 1, "decoding": {"strategy": "beam", "beam_width": 5},
          "model": {"embedding_dim": 128, "rnn_type": "gru", "encoder_layers": 2,
                    "encoder_units": 128, "decoder_units": 256, "attention_units": 256,
                    "source_case": "upper"}}
REPORT = {
    "data": "test.jsonl", "pairs": 3,
    "teacher_forced_accuracy": {"single": 0.99, "all": 0.98},
    "settings": {"greedy": {"seconds": 2.0, "scores": {
        "single": {"count": 2, "exact_match": 0.5, "bleu": 80.0, "chrf": 90.0,
                   "hallucinated": 1, "dropped": 0}}}},
}


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "training_log.json").write_text(json.dumps(LOG))
    return tmp_path


def test_card_states_the_bundles_own_figures(bundle):
    card = render_card(bundle)
    assert "- 2,340,747 parameters; SentencePiece unigram vocabulary of 1,803 pieces" in card
    assert "- inputs: ASCII letters upper-cased, stripped" in card
    assert "- training time: 3.0 minutes" in card
    assert "| 2 | 1.0000 | 0.2500 | 97.50% | 60 | 11,000 |" in card
    assert card.endswith("Not evaluated yet.\n")


def test_card_has_the_evaluation_table_and_notes(bundle):
    (bundle / "evaluation.json").write_text(json.dumps(REPORT))
    card = render_card(bundle, notes="## Limits\n\nSome.")
    assert "| single | greedy | 2 | 50.00% | 80.0 | 90.0 | 99.00% | 1 | 0 |" in card
    assert card.endswith("## Limits\n\nSome.\n")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"config.json: missing"):
        render_card(tmp_path)
