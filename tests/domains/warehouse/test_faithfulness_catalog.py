"""Tests for the faithfulness flags of catalog agreement and of answers, the bundle file
and the catalog facts: hand-made replies with exact expected flags."""

from __future__ import annotations

import dataclasses
import json

import pytest

from assistant.domains.warehouse import faithfulness

GOOD = (
    "Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor and "
    "let the motor cool before restarting."
)
NAMES = {"CV": "conveyor", "SN": "sorter"}

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
        "unit DD09 not in input", "unit CV09 missing from reply"  # the question's record
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
            (("T", "at {value} °C"),), "Reset and wait 30 seconds, then 2.5 more.",
            rank=0, equipment_order=("CV",),
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
