"""Tests for the warehouse fallback: the plain reply given instead of a hypothesis the check
flags, naming the records that could not be read, or saying what the assistant helps with."""

from __future__ import annotations

import json

import pytest

from assistant.domains.warehouse import detector as detector_lib
from assistant.domains.warehouse import faithfulness
from assistant.domains.warehouse.domain import HELP_TEXT, WarehouseDomain

NAMES = {"CV": "conveyor", "SN": "sorter", "AG": "AGV", "BS": "barcode scanner"}
ALIASES = {"CV": ["conveyor", "belt"]}  # as faithfulness.json will carry them


@pytest.fixture(scope="module")
def domain():
    return WarehouseDomain(lambda source, reply: [], None,
                           detector_lib.Detector(NAMES, ALIASES))


def test_the_record_a_flag_names_is_the_one_not_read(domain):
    line = "CV07:E217 T=85; XX07:E999 T=8"

    assert domain.fallback(line, ["unit XX07 missing from reply"]) == (
        "I could not read record 2, `XX07:E999 T=8`, as a fault record; please check it and "
        "report the code to maintenance."
    )


def test_records_are_named_by_unit_or_code_in_any_spelling(domain):
    line = "belt 7 E217 T=85C, SN02 W301 N=12 | AGV4:W120"
    flags = ["code W301 missing from reply", "action for W120 on AG04 is not the catalog's"]

    assert domain.fallback(line, flags) == (
        "I could not read records 2 and 3, `SN02 W301 N=12` and `AGV4:W120`, as fault "
        "records; please check them and report the codes to maintenance."
    )


def test_flags_that_name_no_record_concern_every_record(domain):
    assert domain.fallback("SN13 C501 S=24", ["number 25 not in input"]) == (
        "I could not read `SN13 C501 S=24` as a fault record; please check it and report "
        "the code to maintenance."
    )
    assert domain.fallback("CV07:E217 / SN02:W301", ["number 9 not in input"]) == (
        "I could not read records 1 and 2, `CV07:E217` and `SN02:W301`, as fault records; "
        "please check them and report the codes to maintenance."
    )


def test_a_question_about_a_code_on_a_unit(domain):
    flags = ["action for E217 on CV07 is not the catalog's"]

    assert domain.fallback("E217 on CV07, what do I do?", flags) == (
        "I could not answer reliably about `E217 on CV07`; please check the code on the panel "
        "and report it to maintenance."
    )


def test_a_question_without_records(domain):
    flags = ["equipment barcode scanner not in input"]

    assert domain.fallback("what should I do about a low battery on AGV 4?", flags) == HELP_TEXT
    assert domain.fallback("hello", ["number 3 not in input"]) == HELP_TEXT
    assert domain.fallback("what does E218 mean?", ["code E217 not in input"]) == (
        "I could not answer reliably about E218; please check the code on the panel and "
        "report it to maintenance."
    )
    assert HELP_TEXT == (
        "I can help with warehouse fault codes: what a code means, how serious it is, which "
        "equipment raises it and how to fix it. Type the fault records from the panel, or "
        "ask about a code."
    )


def test_the_fallback_names_no_code_or_value_the_input_lacks(domain):
    for source in ("CV07:E217 T=85; XX07:E999 T=8", "E217 on CV07?", "hello"):
        reply = domain.fallback(source, ["code E218 not in input"])
        positions = {"1", "2"}  # "records 1 and 2"
        assert set(faithfulness.hallucinated_numbers(source, reply)) <= positions, reply
        assert faithfulness.hallucinated_codes(source, reply) == [], reply


def test_a_bundles_domain_falls_back_with_its_catalog(tmp_path):
    settings = {"allowed_numbers": [], "allowed_codes": [], "equipment_names": NAMES,
                "equipment_aliases": ALIASES}
    (tmp_path / faithfulness.BUNDLE_FILE).write_text(json.dumps(settings), encoding="utf-8")

    domain = WarehouseDomain.from_bundle(tmp_path)

    assert domain.check("belt 7 E217", "Hi.") == [
        "code E217 missing from reply", "unit CV07 missing from reply"
    ]
    assert domain.fallback("belt 7 E217", domain.check("belt 7 E217", "Hi.")) == (
        "I could not read `belt 7 E217` as a fault record; please check it and report the "
        "code to maintenance."
    )


def test_no_catalog_no_fallback():
    assert WarehouseDomain().fallback("CV07:E217", ["code E217 missing from reply"]) is None
    assert WarehouseDomain.from_bundle(None).fallback("hello", ["x"]) is None


def test_records_told_out_of_the_catalogs_order_are_flagged():
    from assistant.domains.warehouse.segment import RecordOrder

    order = RecordOrder({"SN:C212": 0, "CV:E217": 1}, default_rank=5)
    domain = WarehouseDomain(lambda source, reply: [], order, detector_lib.Detector(NAMES))
    critical = "Sorter 9 critical C212: drive short circuit."
    unknown = "Conveyor 5 reported unknown code C586; report it to maintenance."
    for source in ("CV05:C586\nSN09:C212", "CV05:C586, SN09:C212", "CV05:C586; SN09:C212"):
        assert domain.check(source, f"{unknown} {critical}") == [
            "records out of the catalog's order"]
        assert domain.check(source, f"{critical} {unknown}") == []
    assert domain.check("what about C212 on SN09 and C586 on CV05?", f"{unknown} {critical}") == []


def test_a_reply_in_lower_case_is_flagged(domain):
    checked = WarehouseDomain(lambda source, reply: [], None, detector_lib.Detector(NAMES))
    assert checked.check("SN09:C212", "sorter 9 critical C212.") == ["reply starts in lower case"]
    assert checked.check("SN09:C212", "Sorter 9 critical C212.") == []
