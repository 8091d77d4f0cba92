"""Tests for the faithfulness flags: hand-made replies with exact expected flags."""

from __future__ import annotations

import dataclasses
import json

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
        "unit QQ12 missing from reply"
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


TABLE = {
    "E217": faithfulness.CatalogCode(frozenset({"CV"}), "motor over-temperature", frozenset("T")),
    "W301": faithfulness.CatalogCode(frozenset({"SN"}), "repeated jams", frozenset({"N"})),
}
PHRASES = {
    "unknown_code": "reported unknown code",
    "not_valid": "not valid for this equipment",
    "not_in_catalog": "is not in the fault catalog",
}
NOT_VALID = "Sorter 2 reported code E217, which is not valid for this equipment; report it."
JAMS = "Sorter 2 warning W301: repeated jams; check the diverter."


def test_catalog_check_passes_faithful_replies():
    source = "CV07:E217 T=85; SN02:E217; SN03:W301; SN04:E999; QQ05:W301"
    reply = " ".join([
        GOOD,
        NOT_VALID,
        JAMS.replace("Sorter 2", "Sorter 3"),
        "Sorter 4 reported unknown code E999; report it to maintenance.",
        "Equipment QQ 5 is not in the catalog; report code W301 to maintenance.",
    ])
    assert faithfulness.check_reply(source, reply, equipment_names=NAMES, code_table=TABLE) == []


def test_catalog_check_flags_a_meaning_given_where_the_code_is_not_valid():
    reply = "Sorter 2 fault E217: motor over-temperature; let the motor cool."

    flags = faithfulness.check_reply("SN02:E217", reply, equipment_names=NAMES, code_table=TABLE)

    assert flags == ["E217 explained for SN02, where it is not valid"]
    assert faithfulness.check_reply("SN02:E217", reply, equipment_names=NAMES) == []


def test_catalog_check_flags_a_valid_code_told_without_its_meaning():
    source = "SN02:W301 N=12; CV07:E217 T=85"
    reply = NOT_VALID.replace("E217", "W301") + " " + GOOD

    flags = faithfulness.check_reply(source, reply, equipment_names=NAMES, code_table=TABLE)

    assert flags == ["meaning of W301 missing for SN02", "N=12 missing for SN02"]


def test_catalog_check_judges_each_unit_by_its_own_sentence():
    source = "CV07:E217 T=85; SN02:E217"
    swapped = GOOD.replace("Conveyor 7", "Sorter 2") + " " + NOT_VALID.replace(
        "Sorter 2", "Conveyor 7"
    )

    flags = faithfulness.check_reply(source, swapped, equipment_names=NAMES, code_table=TABLE)

    assert flags == [
        "meaning of E217 missing for CV07",
        "T=85 missing for CV07",
        "E217 explained for SN02, where it is not valid",
        "85 told for SN02, not a value of its record",
    ]


def test_catalog_check_wants_the_wording_of_an_invalid_or_unknown_code():
    source = "SN02:E217; CV08:E999"
    swapped = (
        "Sorter 2 reported unknown code E217; report it to maintenance. Conveyor 8 reported "
        "code E999, which is not valid for this equipment; report it to maintenance."
    )
    right = (
        NOT_VALID + " Conveyor 8 reported unknown code E999; report it to maintenance."
    )
    check = {"equipment_names": NAMES | {"CV": "conveyor"}, "code_table": TABLE}

    assert faithfulness.check_reply(source, swapped, **check, message_phrases=PHRASES) == [
        "E217 on SN02 not reported as not valid there",
        "E999 on CV08 not reported as an unknown code",
    ]
    assert faithfulness.check_reply(source, swapped, **check) == []  # no wording given
    assert faithfulness.check_reply(source, right, **check, message_phrases=PHRASES) == []


def test_catalog_check_wants_exactly_the_catalog_parameter_values():
    check = {"equipment_names": NAMES, "code_table": TABLE}
    source = "CV07:E217 T=85 X=12"

    assert faithfulness.check_reply(source, GOOD, **check) == []
    dropped = GOOD.replace(", motor at 85 °C", "")
    assert faithfulness.check_reply(source, dropped, **check) == ["T=85 missing for CV07"]
    stray = GOOD.replace("85 °C", "85 °C for 12 min")
    assert faithfulness.check_reply(source, stray, **check) == [
        "X=12 told for CV07, not a parameter of E217"
    ]
    # A stray value equal to the unit, to a told value or to fixed wording is not flagged.
    for same in ("CV07:E217 T=85 X=7", "CV07:E217 T=85 X=85.0 X=85"):
        assert faithfulness.check_reply(same, GOOD, **check) == []
    waited = GOOD.replace("restarting", "restarting in 30 s")
    wording = {"E217": dataclasses.replace(TABLE["E217"], numbers=frozenset({"30"}))}
    assert faithfulness.check_reply(
        "CV07:E217 T=85 X=30", waited, allowed_numbers={"30"}, equipment_names=NAMES,
        code_table=wording,
    ) == []
    # Any other number is flagged, even one of another record or of the fixed wording of
    # another code (the allow-list of check (a) does not excuse it here).
    assert faithfulness.check_reply(
        "CV07:E217 T=85; SN03:W301 N=12", GOOD.replace("85 °C", "85 °C, 12 times") + " "
        + JAMS.replace("Sorter 2", "Sorter 3").replace("jams;", "jams, 12 jams;"), **check
    ) == ["12 told for CV07, not a value of its record"]
    assert faithfulness.check_reply(
        "CV07:E217 T=85", waited, allowed_numbers={"30"}, **check
    ) == ["30 told for CV07, not a value of its record"]
    # An invalid code tells no value at all.
    told = NOT_VALID.replace("E217,", "E217 at 85 °C,")
    assert faithfulness.check_reply("SN02:E217 T=85", told, **check) == [
        "T=85 told for SN02, not a parameter of E217"
    ]


def test_an_answer_that_repeats_a_code_is_flagged():
    looping = "Codes for the sorter: E108, E317, E317, E317."
    catalog = {"allowed_codes": {"E108", "E317"}}

    assert faithfulness.check_reply("which codes belong to the sorter?", looping, **catalog) == [
        "code E317 repeated in reply"
    ]
    assert faithfulness.check_reply("sorter codes", "Codes: E108 and E317.", **catalog) == []
    assert faithfulness.check_reply("E217 or E217?", "E217 means X; E217 is a fault.") == []


def test_an_answer_must_not_deny_a_catalog_code():
    check = {"code_table": TABLE, "message_phrases": PHRASES}
    denied = "E217 is not in the fault catalog; report it to maintenance."

    assert faithfulness.check_reply("I have E217, what now?", denied, **check) == [
        "E217 is in the catalog, the reply says it is not"
    ]
    unknown = denied.replace("E217", "E999")
    assert faithfulness.check_reply("I have E999, what now?", unknown, **check) == []
    assert faithfulness.check_reply("I have E217, what now?", denied, code_table=TABLE) == []


def test_a_unit_the_input_does_not_name_is_flagged():
    names = {"CV": "conveyor", "DD": "dock door", "LP": "label printer"}
    question = "What is the fix for I704 on conveyor 9?"
    wrong = "To fix I704 on Dock door 9, close the door when loading is finished."

    assert faithfulness.check_reply(question, wrong, equipment_names=names) == [
        "unit DD09 not in input"
    ]
    assert faithfulness.check_reply(question, wrong) == []  # no names, no unit check
    right = "I704 is not valid for Conveyor 9; report it to maintenance."
    assert faithfulness.check_reply(question, right, equipment_names=names) == []
    for by_label in ("I704 on dd09, what now?", "I704 on DD 9?", "I704 on dock door 09"):
        assert faithfulness.check_reply(by_label, wrong, equipment_names=names) == []
    assert faithfulness.check_reply("LP3:E810", "Label printer 3 fault E810.",
                                    equipment_names=names) == []


def test_load_checker_reads_the_code_table(tmp_path):
    settings = {
        "allowed_numbers": [],
        "allowed_codes": ["E217"],
        "equipment_names": NAMES,
        "code_table": {"E217": {"equipment": ["CV"], "meaning": "motor over-temperature"}},
        "message_phrases": PHRASES,
    }
    path = tmp_path / faithfulness.BUNDLE_FILE
    path.write_text(json.dumps(settings), encoding="utf-8")
    reply = "Sorter 2 fault E217: motor over-temperature; let the motor cool."

    assert faithfulness.load_checker(path)("SN02:E217", reply) == [
        "E217 explained for SN02, where it is not valid"
    ]
    unknown = "Sorter 2 reported unknown code E217; report it to maintenance."
    assert faithfulness.load_checker(path)("SN02:E217", unknown) == [
        "E217 on SN02 not reported as not valid there"
    ]
    del settings["code_table"]  # a bundle written before the table existed
    path.write_text(json.dumps(settings), encoding="utf-8")
    assert faithfulness.load_checker(path)("SN02:E217", reply) == []
    settings["code_table"] = {"E217": {"meaning": "no equipment"}}
    path.write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ValueError, match="not a valid faithfulness file"):
        faithfulness.load_checker(path)


def test_allowed_numbers_from_catalog_reads_fixed_wording_only():
    catalog = {
        "equipment": {"CV": "conveyor"},
        "codes": [
            {
                "code": "E201",
                "meaning": "drive fault",
                "action": "Reset and wait 30 seconds, then 2.5 more.",
                "params": [{"name": "T", "range": [1, 500], "phrase": "at {value} °C"}],
            }
        ],
    }

    assert faithfulness.allowed_numbers_from_catalog(catalog) == {"30", "2.5"}
    assert faithfulness.allowed_codes_from_catalog(catalog) == {"E201"}
    catalog["codes"][0]["equipment"] = ["cv"]
    assert faithfulness.code_table_from_catalog(catalog) == {
        "E201": faithfulness.CatalogCode(
            frozenset({"CV"}), "drive fault", frozenset({"T"}), frozenset({"30", "2.5"}),
            (("T", "at {value} °C"),),
        )
    }


def test_catalog_check_wants_each_value_told_with_its_phrase():
    scale = faithfulness.CatalogCode(
        frozenset({"WS"}), "weight out of tolerance", frozenset({"W", "D"}),
        phrases=(("D", "off by {value} %"), ("W", "weight {value} kg")))
    check = {"equipment_names": {"WS": "weigh scale"}, "code_table": {"E801": scale}}
    right = "Weigh scale 3 fault E801: weight out of tolerance, off by 11 %; send it to audit."

    assert faithfulness.check_reply("WS03:E801 D=11", right, **check) == []
    both = right.replace("off by 11 %", "weight 11 kg and off by 11 %")
    assert faithfulness.check_reply("WS03:E801 D=11", both, **check) == [
        '"weight {value} kg" told for WS03, which has no W'
    ]
    wrong_unit = right.replace("11 %", "11 mm")
    assert faithfulness.check_reply("ws3:e801 d=11", wrong_unit, **check) == [
        'D=11 not told as "off by {value} %" for WS03'
    ]
    # a value the reply leaves out is flagged once, as missing
    dropped = right.replace(", off by 11 %", "")
    assert faithfulness.check_reply("WS03:E801 D=11", dropped, **check) == [
        "D=11 missing for WS03"
    ]
    assert faithfulness.CatalogCode.from_json(scale.to_json()) == scale
