"""`Assistant.min_batch_rows`: decoded batches padded to at least that many rows (convert
uses 8, so a long log compiles few shapes), with the same replies."""

from __future__ import annotations

from assistant.runtime import Assistant
from tests.runtime.graph_calls import batch_rows


def test_batches_are_padded_to_the_minimum_rows_with_the_same_replies(bundle, monkeypatch):
    assistant = Assistant.load(bundle, cache_size=0)
    shapes = batch_rows(assistant, monkeypatch)
    texts = ["CV07:E217 T=85", "CV08:E217 T=61"]
    alone = [reply.text for reply in assistant.reply_batch(texts, strategy="greedy")]
    assistant.min_batch_rows = 8
    padded = [reply.text for reply in assistant.reply_batch(texts, strategy="greedy")]

    assert shapes == [2, 8]
    assert padded == alone
