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


def _setting(options, exact, seconds=1.0):
    """A setting of an evaluation report: exact match per category (a list: single, all)."""
    return {"options": options, "seconds": seconds, "scores": {
        category: {"count": count, "exact_match": value, "bleu": 90.0, "chrf": 95.0,
                   "hallucinated": 0, "dropped": 0}
        for (category, count), value in zip((("single", 2), ("all", 4)), exact, strict=True)}}


LADDER = {
    "greedy whole lines no rerank": _setting(
        {"strategy": "greedy", "segment": False, "rerank": False}, [0.25, 0.25]),
    "beam no rerank": _setting({"strategy": "beam", "segment": True, "rerank": False},
                               [0.5, 0.5]),
    "beam rerank no retry": _setting(
        {"strategy": "beam", "segment": True, "rerank": True, "retry_beam": 0}, [0.5, 0.75]),
    "beam rerank": _setting({"strategy": "beam", "segment": True, "rerank": True}, [1.0, 1.0]),
}
EXPORT_ROW = _setting({"export": "exports/warehouse/1"}, [1.0, 0.995])


def test_model_alone_product_and_export_side_by_side(bundle):
    report = {"data": "test.jsonl", "pairs": 4, "teacher_forced_accuracy": {},
              "settings": {**LADDER, "export serving_default": EXPORT_ROW}}
    (bundle / "evaluation.json").write_text(json.dumps(report))
    card = render_card(bundle)
    assert "`python -m training evaluate --compare --export`:\n" in card
    assert ("| category | n | model alone (`beam no rerank`) | product (`beam rerank`) | "
            "export (`export serving_default`) | export - product |\n"
            "|---|---:|---:|---:|---:|---:|\n"
            "| single | 2 | 50.00% | 100.00% | 100.00% | +0.00 points |\n"
            "| all | 4 | 50.00% | 100.00% | 99.50% | -0.50 points |\n") in card
    assert "| all | export serving_default | 4 | 99.50% | 90.0 | 95.0 |" in card


def test_bundle_defaults_are_the_product_and_one_setting_has_no_side_table(bundle):
    report = {"data": "test.jsonl", "pairs": 4, "teacher_forced_accuracy": {},
              "settings": {"bundle defaults": _setting({}, [1.0, 0.5]),
                           "export serving_default": EXPORT_ROW}}
    (bundle / "evaluation.json").write_text(json.dumps(report))
    assert ("| category | n | product (`bundle defaults`) | export (`export serving_default`)"
            " | export - product |\n") in render_card(bundle)
    del report["settings"]["export serving_default"]
    (bundle / "evaluation.json").write_text(json.dumps(report))
    assert "| category | n |" not in render_card(bundle)


def test_copy_vs_no_copy(bundle):
    report = {"data": "test.jsonl", "pairs": 4, "teacher_forced_accuracy": {},
              "settings": LADDER}
    nocopy = {"data": "test.jsonl", "pairs": 4, "teacher_forced_accuracy": {},
              "settings": {"beam no rerank": _setting({"strategy": "beam", "segment": True,
                                                       "rerank": False}, [0.0, 0.25]),
                           "beam rerank": _setting({"strategy": "beam", "segment": True,
                                                    "rerank": True}, [0.5, 0.75])}}
    (bundle / "evaluation.json").write_text(json.dumps(report))
    assert "Copy vs no copy" not in render_card(bundle)
    (bundle / "evaluation_nocopy.json").write_text(json.dumps(nocopy))
    assert ("| category | n | model alone, copy | model alone, no copy | product, copy | "
            "product, no copy |\n"
            "|---|---:|---:|---:|---:|---:|\n"
            "| single | 2 | 50.00% | 0.00% | 100.00% | 50.00% |\n"
            "| all | 4 | 50.00% | 25.00% | 100.00% | 75.00% |\n") in render_card(bundle)


def test_card_has_the_follow_up_table_against_its_targets_and_the_baseline(bundle):
    def report(scores):
        return {"data": "test.jsonl", "pairs": 9, "teacher_forced_accuracy": {}, "settings": {
            "bundle defaults": {"seconds": 1.0, "options": {}, "scores": {
                name: {"count": 3, "exact_match": exact, "bleu": 1.0, "chrf": 1.0}
                for name, exact in scores.items()}}}}

    (bundle / "evaluation.json").write_text(json.dumps(report(
        {"followup_ambiguous": 0.9, "followup_refer": 0.96, "followup_switch": 0.5,
         "single": 0.99, "prompt": 0.95, "all": 0.9})))
    card = render_card(bundle)
    table = ["| kind | n | exact match | target | met |", "|---|---:|---:|---:|---|",
             "| ambiguous | 3 | 90.00% | 90% | yes |", "| refer | 3 | 96.00% | 95% | yes |",
             "| switch | 3 | 50.00% | 95% | **no** |"]
    assert "\n".join(table) in card
    assert "(No `evaluation_baseline.json`: the change of the other categories" in card
    (bundle / "evaluation_baseline.json").write_text(json.dumps(report(
        {"single": 0.98, "prompt": 0.96, "all": 0.97})))
    card = render_card(bundle)
    assert ("| single | 3 | 98.00% | 99.00% | +1.00 points |\n"
            "| prompt | 3 | 96.00% | 95.00% | -1.00 points (drop) |\n") in card
    assert "| all |" not in card.split("Other categories")[1]
