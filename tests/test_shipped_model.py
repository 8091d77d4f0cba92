"""Smoke test of the bundle in saved_models/: it loads and answers like the catalog says."""

import json
from pathlib import Path

import pytest

from assistant.domains.warehouse import WarehouseDomain, faithfulness, faultcodes, hints, segment
from assistant.domains.warehouse.catalog import load_catalog
from assistant.domains.warehouse.corpus import faithfulness_settings, record_order
from assistant.domains.warehouse.messages import render_reply
from assistant.runtime import Assistant

BUNDLE = Path(__file__).resolve().parent.parent / "saved_models" / "warehouse"


@pytest.fixture(scope="module")
def shipped():
    return Assistant.load(BUNDLE)


def test_shipped_model_answers_fault_lines_as_the_catalog_says(shipped):
    # the last two lines are answered record by record and put in the catalog's order
    lines = ["CV07:E217 T=85", "sn2:w301 n=12; CV07:E217 T=85",
             "DD96:I704 M=64; XX01:E217; SH80:C503"]
    catalog = load_catalog()
    replies = shipped.reply_batch(lines, strategy="greedy")  # one batch: one compile
    for line, reply in zip(lines, replies, strict=True):
        assert reply.text == render_reply(faultcodes.parse_line(line), catalog)
        assert reply.flags == ()


def test_shipped_domain_files_match_the_catalog(shipped):
    # Regenerate them (python -m training build-corpus, then copy faithfulness.json,
    # record_order.json into the bundle) after changing the catalog or the message wording.
    assert isinstance(shipped.domain, WarehouseDomain)
    assert shipped.domain.runtime_options == ("rerank", "retry_beam", "greedy_first", "segment")
    catalog = load_catalog()
    checks = json.loads((BUNDLE / faithfulness.BUNDLE_FILE).read_text(encoding="utf-8"))
    assert checks == json.loads(json.dumps(faithfulness_settings(catalog)))
    order = json.loads((BUNDLE / segment.RECORD_ORDER_FILE).read_text(encoding="utf-8"))
    assert order == json.loads(json.dumps(record_order(catalog).to_json()))
    # The shipped weights (run E, session 12) read each input with its catalog hint, from
    # hints.HINTS_FILE (`make corpus-shipped` writes it from the catalog).
    assert shipped.domain.catalog_hints == hints.CatalogHints.from_catalog(catalog)
    assert shipped.domain.model_text("LF99:W311") == "LF99:W311 § UNKNOWN CODE W311"
    assert shipped.domain.model_text("how are you") == "how are you"
    assert shipped.config.attention_query == "current"
