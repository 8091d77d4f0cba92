"""The domain protocol: which domain a bundle names, the null domain, plugins, old bundles."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.core import constants
from assistant.domains.warehouse import WarehouseDomain, faithfulness, segment
from assistant.runtime import Assistant, BundleError, NullDomain
from assistant.runtime.domain import (
    NULL_DOMAIN,
    Domain,
    domain_class,
    domain_name,
    load_domain,
)


def set_domain(bundle, name) -> None:
    path = bundle / constants.CONFIG_FILE
    payload = json.loads(path.read_text())
    if name is None:
        payload.pop("domain", None)
    else:
        payload["domain"] = name
    path.write_text(json.dumps(payload))


def test_a_bundle_trained_on_plain_pairs_has_the_null_domain(bundle):
    assert json.loads((bundle / constants.CONFIG_FILE).read_text())["domain"] == NULL_DOMAIN
    assistant = Assistant.load(bundle)
    assert type(assistant.domain) is NullDomain
    assert assistant.domain.runtime_options == ()
    reply = assistant.reply("CV07:E217 T=85; SN02:W301 N=12")  # nothing splits or checks it
    assert reply.flags == ()
    plain = assistant.reply("CV07:E217 T=85; SN02:W301 N=12", rerank=False, segment=False)
    assert (reply.text, reply.score) == (plain.text, plain.score)


def test_the_null_domain_does_nothing():
    domain = NullDomain()
    assert domain.split("CV07:E217; SN02:W301") is None
    assert domain.order(["b", "a"]) == [0, 1]
    assert domain.check("CV07:E217", "Conveyor 9") == []
    assert domain.graph_splitter() is None and not domain.checks
    assert domain.score("a", "b", "c") == {}
    assert domain.model_texts([" a ", "b"]) == [" a ", "b"]
    with pytest.raises(ValueError, match=r"^the none domain is not built from train pairs$"):
        NullDomain.from_pairs([("a", "b")])


def test_a_bundle_names_its_domain_and_old_bundles_are_recognised(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    assert domain_name(copy) == NULL_DOMAIN
    set_domain(copy, "warehouse")
    assert domain_name(copy) == "warehouse"
    assert isinstance(Assistant.load(copy).domain, WarehouseDomain)
    set_domain(copy, None)  # written before config.json named domains
    assert domain_name(copy) == NULL_DOMAIN
    (copy / faithfulness.BUNDLE_FILE).write_text(json.dumps({
        "allowed_numbers": [], "allowed_codes": [], "equipment_names": {"CV": "conveyor"},
        segment.RECORD_ORDER_KEY: {"ranks": {"CV:E217": 0}, "default_rank": 5}}))
    assert domain_name(copy) == "warehouse"
    domain = Assistant.load(copy).domain
    assert isinstance(domain, WarehouseDomain)
    assert domain.runtime_options == ("rerank", "retry_beam", "greedy_first", "segment")
    assert domain.record_order.ranks == {"CV:E217": 0}  # read from the old section


def test_an_unknown_domain_is_a_one_line_bundle_error(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    set_domain(copy, "kitchen")
    with pytest.raises(BundleError,
                       match=r"unknown domain 'kitchen' \(known: neighbours, none, warehouse"):
        Assistant.load(copy)


def test_the_warehouse_narrows_its_options_to_its_files(tmp_path):
    assert WarehouseDomain.runtime_options == ("rerank", "retry_beam", "greedy_first", "segment")
    assert load_domain("warehouse", tmp_path).runtime_options == ()  # no files: nothing
    (tmp_path / segment.RECORD_ORDER_FILE).write_text(
        json.dumps({"ranks": {"SN:W301": 2}, "default_rank": 1}))
    domain = load_domain("warehouse", tmp_path)
    assert domain.runtime_options == ("segment",) and not domain.checks
    assert domain.split("SN02:W301 N=12; CV1:E217") == ["SN02:W301 N=12", "CV1:E217"]
    assert domain.order(["SN02:W301 N=12", "CV1:E217"]) == [1, 0]


def test_plugins_come_from_entry_points(monkeypatch):
    class Kitchen(Domain):
        name = "kitchen"

    class Entry:
        name, value = "kitchen", "tests.runtime.test_domain:KITCHEN"

    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [Entry()])
    monkeypatch.setitem(globals(), "KITCHEN", Kitchen)
    assert domain_class("kitchen") is Kitchen
    assert isinstance(load_domain("kitchen"), Kitchen)
