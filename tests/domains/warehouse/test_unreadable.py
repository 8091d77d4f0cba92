"""Inputs the warehouse refuses before decoding (`unreadable`), and what it says instead."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import unreadable
from assistant.domains.warehouse.domain import WarehouseDomain

REFUSED = {
    "~79WPbyv6W>tQ^V4<G{M": unreadable.NOISE,
    "oAi,K'x@D`E7v{#&\\8Bqiu+=Z*FWpKF,w1]o2#": unreadable.NOISE,
    "😀": unreadable.NOISE,
    "CV88": unreadable.CUT_SHORT,
    "SC79:": unreadable.CUT_SHORT,
    "SH23:E": unreadable.CUT_SHORT,
    "AGV 4": unreadable.CUT_SHORT,
    "CV07:E217 T=85; SH23:E": f"{unreadable.CUT_SHORT}: record 2, `SH23:E`",
    "LF\x1b79:E201": unreadable.CONTROL.format("U+001B"),
    "DD38:W705 N=945\x7f70": unreadable.CONTROL.format("U+007F"),
    "CV07:E217\x00 T=85": unreadable.CONTROL.format("U+0000"),
    "SN02:W301 \x85N=12": unreadable.CONTROL.format("U+0085"),
}
ANSWERED = ["CV07:E217 T=85", "cv 7 e217 t=85C", "SH80:E901 S", "how are you?", "lol :)",
            "hi 5", "what does E217 mean?", "conveyor 7 shows E217, what do I do?",
            "CV07:E217\tT=85\r\n", "שלום", "and on the sorter?", "xyz"]


@pytest.fixture(scope="module")
def detector(catalog_checker):
    return catalog_checker.detector()


@pytest.mark.parametrize("text", REFUSED)
def test_refused(detector, text):
    assert unreadable.unreadable(text, detector) == REFUSED[text]


@pytest.mark.parametrize("text", ANSWERED)
def test_answered(detector, text):
    assert unreadable.unreadable(text, detector) is None


def test_a_unit_alone_after_a_context_is_the_model_s_to_read(detector):
    assert unreadable.unreadable("CV88", detector, context="CV07:E217 T=85") is None


def test_the_fallback_says_what_could_not_be_read(catalog_checker):
    domain = WarehouseDomain(catalog_checker)

    def answer(text):
        return domain.fallback(text, [domain.unreadable(text)])

    assert answer("LF\x1b79:E201") == (
        "I could not read `LF␛79:E201`: it holds a control character (U+001B), so the line "
        "may be corrupt; please check it on the panel.")
    assert answer("SH23:E") == (
        "I could not read `SH23:E` as a fault record: it has no complete fault code (a letter "
        "and three digits, as in CV07:E217); please check it on the panel.")
    assert answer("CV07:E217 T=85; CV88") == (
        "I could not read `CV07:E217 T=85; CV88`: record 2, `CV88`, has no complete fault "
        "code (a letter and three digits, as in CV07:E217); please check the line on the "
        "panel.")
    assert answer("x" * 30 + "`~^{" + "y" * 30) == (
        "I could not read `" + "x" * 30 + "'~^{" + "y" * 5 + "…` as a fault record or a "
        "question.")


def test_a_line_whose_only_flags_are_its_refused_records_keeps_its_reply(catalog_checker):
    domain = WarehouseDomain(catalog_checker)

    assert domain.fallback("CV07:E217 T=85; LF07:E201", [unreadable.NOISE]) is None
