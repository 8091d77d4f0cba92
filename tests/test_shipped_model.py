"""Smoke test of the bundle in saved_models/: it loads and answers like the catalog says."""

from pathlib import Path

import pytest

from assistant import faultcodes
from assistant.inference import Assistant
from training.catalog import load_catalog
from training.messages import render_reply

BUNDLE = Path(__file__).resolve().parent.parent / "saved_models" / "warehouse"


@pytest.fixture(scope="module")
def shipped():
    return Assistant.load(BUNDLE)


def test_shipped_model_answers_fault_lines_as_the_catalog_says(shipped):
    lines = ["CV07:E217 T=85", "sn2:w301 n=12; CV07:E217 T=85"]
    catalog = load_catalog()
    replies = shipped.reply_batch(lines, strategy="greedy")  # one batch: one compile
    for line, reply in zip(lines, replies, strict=True):
        assert reply.text == render_reply(faultcodes.parse_line(line), catalog)
        assert reply.flags == ()
