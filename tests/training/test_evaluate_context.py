"""Evaluation of follow-ups: each pair's context goes to the runtime, kinds are categories."""

from __future__ import annotations

import json

from assistant.core.tokenizer import join_context
from assistant.runtime.assistant import Assistant, Reply
from training.evaluate import ALL, evaluate

PAIRS = [
    {"source": "hello", "target": "Hello!", "category": "smalltalk"},
    {"source": join_context("E217", "what does that mean?"),
     "target": "E217 means motor over-temperature.", "category": "followup_refer"},
    {"source": join_context("CV07:E217 T=85; SN02:W301 N=12", "how do I fix it?"),
     "target": "Which one: E217 on conveyor 7 or W301 on sorter 2?",
     "category": "followup_ambiguous"},
]


def test_follow_ups_are_answered_in_their_context_and_scored_per_kind(context_bundle,
                                                                      tmp_path, monkeypatch):
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in PAIRS), encoding="utf-8")
    asked = []

    def spy(self, texts, batch_size=64, contexts=None, **options):  # nothing to decode
        asked.append((list(texts), contexts))
        return [Reply(text="E217 means motor over-temperature.", score=0.0) for _ in texts]

    monkeypatch.setattr(Assistant, "reply_batch", spy)
    report = evaluate(context_bundle, data, {"greedy": {"strategy": "greedy"}})
    assert asked == [(["hello", "what does that mean?", "how do I fix it?"],
                      [None, "E217", "CV07:E217 T=85; SN02:W301 N=12"])]
    scores = report["settings"]["greedy"]["scores"]
    assert list(scores) == ["followup_ambiguous", "followup_refer", "smalltalk", ALL]
    assert [scores[name]["count"] for name in scores] == [1, 1, 1, 3]
    assert [scores[name]["exact_match"] for name in scores] == [0.0, 1.0, 0.0, 1 / 3]
