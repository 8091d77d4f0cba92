"""Tests for the faithfulness flags: hand-made replies with exact expected flags.

Hallucination and coverage flags, and the extraction of numbers and codes; the tests of
catalog agreement, answers, the bundle file and the catalog facts are in
`test_faithfulness_catalog.py`.
"""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import faithfulness

SOURCE = "CV07:E217 T=85"
GOOD = (
    "Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor and "
    "let the motor cool before restarting."
)
NAMES = {"CV": "conveyor", "SN": "sorter"}


def test_a_faithful_reply_has_no_flags():
    assert faithfulness.check_reply(SOURCE, GOOD) == []
    assert faithfulness.check_reply(SOURCE, GOOD, equipment_names=NAMES) == []


def test_unit_with_leading_zero_matches_plain_number():
    assert faithfulness.check_reply("cv7:e217 t=85", GOOD) == []
    assert faithfulness.check_reply("CV07:E217 T=085", GOOD) == []


def test_changed_number_is_flagged():
    reply = GOOD.replace("85 °C", "86 °C")

    assert faithfulness.check_reply(SOURCE, reply) == ["number 86 not in input"]


def test_decimal_must_be_copied_exactly():
    assert faithfulness.check_reply("CV07:E217 T=85.0", GOOD) == ["number 85 not in input"]


def test_fixed_catalog_numbers_need_the_allow_list():
    source = "SN03:E201"
    reply = (
        "Sorter 3 fault E201: drive fault; reset the drive and wait 30 seconds before restarting."
    )

    assert faithfulness.check_reply(source, reply) == ["number 30 not in input"]
    assert faithfulness.check_reply(source, reply, allowed_numbers={"30"}) == []


def test_missing_record_is_flagged_by_code_and_unit():
    source = "CV07:E217 T=85; SN02:W301 N=12"

    assert faithfulness.check_reply(source, GOOD) == [
        "code W301 missing from reply",
        "unit SN02 missing from reply",
    ]


def test_a_record_told_twice_is_flagged_once():
    source = "CV07:E217 T=85; SN02:W301"
    told_twice = GOOD + " " + GOOD + " Sorter 2 warning W301."

    assert faithfulness.check_reply(source, told_twice) == ["code E217 repeated in reply"]
    # the same code on two units is told twice, and that is right
    two_units = "CV07:E217 T=85; CV08:E217"
    reply = GOOD + " Conveyor 8 fault E217: motor over-temperature."
    assert faithfulness.check_reply(two_units, reply) == []
    assert faithfulness.check_reply(two_units, reply + " " + GOOD) == [
        "code E217 repeated in reply"
    ]


def test_wrong_code_is_both_invented_and_missing():
    reply = GOOD.replace("E217", "E218")

    assert faithfulness.check_reply(SOURCE, reply) == [
        "code E218 not in input",
        "code E217 missing from reply",
    ]


def test_allowed_codes_do_not_excuse_a_fault_line_reply():
    reply = GOOD.replace("E217", "E218")

    flags = faithfulness.check_reply(SOURCE, reply, allowed_codes={"E217", "E218"})

    assert flags == ["code E218 not in input", "code E217 missing from reply"]


def test_equipment_names_check_the_named_unit():
    reply = GOOD.replace("Conveyor 7", "Sorter 7")

    assert faithfulness.check_reply(SOURCE, reply) == []
    assert faithfulness.check_reply(SOURCE, reply, equipment_names=NAMES) == [
        "unit SN07 not in input",
        "unit CV07 missing from reply",
    ]


def test_a_prefix_the_catalog_lacks_must_be_repeated():
    source = "QQ12:E217"
    good = "Equipment QQ 12 is not in the catalog; report code E217 to maintenance."
    assert faithfulness.check_reply(source, good, equipment_names=NAMES) == []
    assert faithfulness.check_reply(source, good.replace("QQ", "EN"), equipment_names=NAMES) == [
        "unit EN 12 not in input", "unit QQ12 missing from reply"
    ]


def test_unit_number_missing():
    reply = GOOD.replace("Conveyor 7", "Conveyor")

    assert faithfulness.check_reply(SOURCE, reply) == ["unit CV07 missing from reply"]


def test_question_reply_may_list_catalog_codes_when_allowed():
    source = "what codes can the sorter raise?"
    reply = "Codes for the sorter: E108 and W301."

    assert faithfulness.check_reply(source, reply) == [
        "code E108 not in input",
        "code W301 not in input",
    ]
    assert faithfulness.check_reply(source, reply, allowed_codes={"E108", "W301"}) == []


def test_question_reply_checks_numbers_but_not_coverage():
    source = "how do I fix E217 on conveyor 07?"

    assert faithfulness.check_reply(source, "To fix E217 on Conveyor 7, stop it.") == []
    assert faithfulness.check_reply(source, "To fix E217 on Conveyor 8, stop it.") == [
        "number 8 not in input"
    ]
    assert faithfulness.check_reply(source, "I cannot help with that.") == []


def test_small_talk_reply_with_a_number_is_flagged():
    assert faithfulness.check_reply("hello", "Hi! I am 3 years old.") == ["number 3 not in input"]
    assert faithfulness.check_reply("hello", "Hi there.") == []


def test_malformed_fault_line_gets_only_the_hallucination_check():
    assert faithfulness.check_reply("CV07 E217 T=85", "Please add a colon.") == []
    assert faithfulness.check_reply("CV07 E217 T=85", "Try 42.") == ["number 42 not in input"]


def test_flags_are_not_repeated():
    reply = "Conveyor 7 fault E217: 86 °C, 86 °C."

    assert faithfulness.check_reply(SOURCE, reply) == ["number 86 not in input"]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("CV07:E217 T=85.0", ["7", "85.0"]),
        ("Conveyor 7 fault E217: motor at 85.0 °C.", ["7", "85.0"]),
        ("battery at 4 %; wait 30 seconds", ["4", "30"]),
        ("e217 and W301", []),
        ("E2170 is not a code", ["2170"]),
    ],
)
def test_extract_numbers(text, numbers):
    assert faithfulness.extract_numbers(text) == numbers


def test_extract_codes():
    assert faithfulness.extract_codes("e217, W301 and CV07:C101 but not E2170") == [
        "E217",
        "W301",
        "C101",
    ]


@pytest.mark.parametrize(
    ("text", "normal"),
    [("07", "7"), ("0", "0"), ("00", "0"), ("85.0", "85.0"), ("007.50", "7.50"), ("0.5", "0.5")],
)
def test_normalize_number(text, normal):
    assert faithfulness.normalize_number(text) == normal


def test_hallucinated_and_dropped_numbers_for_evaluation():
    source = "CV07:E217 T=85 X=3"
    reply = "Conveyor 7 fault E217: motor at 86 °C."

    assert faithfulness.hallucinated_numbers(source, reply) == ["86"]
    assert faithfulness.dropped_numbers(source, reply) == ["85", "3"]
    assert faithfulness.hallucinated_codes(source, "E217 or E999?") == ["E999"]
