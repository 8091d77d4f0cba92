"""Tests for the liberal record detector: each spelling operators use, read into exact
records, and what is not a record."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import detector as detector_lib
from assistant.domains.warehouse import faultcodes
from assistant.domains.warehouse.faultcodes import FaultRecord

NAMES = {"CV": "conveyor", "SN": "sorter", "AG": "AGV", "BS": "barcode scanner",
         "DD": "dock door", "LP": "label printer", "CH": "charger", "WS": "weigh scale"}
# As the catalog's `aliases` will write them into faithfulness.json (lower case, name first).
ALIASES = {"CV": ["conveyor", "conv", "belt"], "BS": ["barcode scanner", "scanner", "bcr"],
           "DD": ["dock door", "door", "dock"]}

E217 = FaultRecord("CV", 7, "E217", (("T", "85"),))
W301 = FaultRecord("SN", 2, "W301", (("N", "12"),))


@pytest.fixture(scope="module")
def detector():
    return detector_lib.Detector(NAMES, ALIASES)


@pytest.mark.parametrize("text", [
    "CV07:E217 T=85, SN02:W301 N=12",
    "CV07:E217 T=85 | SN02:W301 N=12",
    "CV07:E217 T=85 / SN02:W301 N=12",
    "CV07:E217 T=85\tSN02:W301 N=12",
    "CV07:E217 T=85 and SN02:W301 N=12",
    "CV07:E217 T=85 SN02:W301 N=12",
    "CV07:E217 T=85\nSN02:W301 N=12",
    "CV07:E217 T=85; SN02:W301 N=12",
    "cv7:e217 t=85;sn2:w301 n=12;",
    "CV 7 : E217  T = 85 ,  SN-02 W301 N=12",
    "conveyor 7 E217 T=85, sorter 2: W301 N=12",
    "belt #07 E217 T=85°C and SN02 W301 N=12",
])
def test_two_records_in_any_spelling(detector, text):
    assert detector.records(text) == (E217, W301)
    assert detector.is_fault_line(text, detector.detect(text))


@pytest.mark.parametrize(("text", "records"), [
    ("AGV4:W120", [FaultRecord("AG", 4, "W120")]),
    ("agv 4 w120", [FaultRecord("AG", 4, "W120")]),
    ("barcode scanner 33 W824 N=23", [FaultRecord("BS", 33, "W824", (("N", "23"),))]),
    ("scanner 33 W824 N=23", [FaultRecord("BS", 33, "W824", (("N", "23"),))]),
    ("SN13 C501 S=24", [FaultRecord("SN", 13, "C501", (("S", "24"),))]),
    ("conveyor 7 E217 T=85", [E217]),
    ("CV 7:E217 T=85C", [E217]),
    ("CV_07:E217 T=85", [E217]),  # a PLC tag
    ("cv_7 E217 T=85", [E217]),
    ("CV07:E217 T=85 °C", [E217]),
    ("CV07E217 T=85", [E217]),
    ("CH05:E105 V=24.5V, X=3", [FaultRecord("CH", 5, "E105", (("V", "24.5"), ("X", "3")))]),
    ("AG04:W102 B=20%", [FaultRecord("AG", 4, "W102", (("B", "20"),))]),
    ("XX07:E999 T=8", [FaultRecord("XX", 7, "E999", (("T", "8"),))]),
    ("XX 7:E999", [FaultRecord("XX", 7, "E999")]),
    ("QQ5 W301", [FaultRecord("QQ", 5, "W301")]),
])
def test_one_record_in_any_spelling(detector, text, records):
    assert list(detector.records(text)) == records
    assert detector.is_fault_line(text, detector.detect(text))


def test_six_records_on_a_line_in_input_order(detector):
    line = ("CV07:E217 T=85; SN02:W301 N=12; AG04:W102 B=20; DD09:E701; LP40:W811 R=9; "
            "CH05:E105 V=24.5")

    assert [record.format() for record in detector.records(line)] == line.split("; ")


@pytest.mark.parametrize(("text", "mention"), [
    ("E217 on CV07, what do I do?", "E217 on CV07"),
    ("how do I fix E217 on the conveyor 07?", "E217 on the conveyor 07"),
    ("got e217 at belt 7, what now", "e217 at belt 7"),
    ("conveyor 7 shows E217, what do I do?", "conveyor 7 shows E217"),
    ("CV07 is showing E217: how to fix?", "CV07 is showing E217"),
    ("what about CV07 E217?", "CV07 E217"),
])
def test_a_question_about_a_code_on_a_unit_is_one_mention(detector, text, mention):
    detections = detector.detect(text)

    assert [(d.record, d.text) for d in detections] == [(FaultRecord("CV", 7, "E217"), mention)]
    assert not detector.is_fault_line(text, detections)


@pytest.mark.parametrize("text", [
    "hello",
    "what does E217 mean?",
    "what should I do about a low battery on AGV 4?",
    "what codes can the conveyor raise?",
    "at 7 E217",  # an ordinary two-letter word is no prefix
    "CV00:E217",  # unit out of range
    "CV100:E217",
    "CV07:E2170",  # not a code
])
def test_texts_without_records(detector, text):
    assert detector.detect(text) == []


def test_detections_keep_the_record_as_typed(detector):
    text = "CV 7:E217 T=85C | xx07:e999 t=8"

    assert [(d.text, text[d.start : d.end].strip()) for d in detector.detect(text)] == [
        ("CV 7:E217 T=85C", "CV 7:E217 T=85C"), ("xx07:e999 t=8", "xx07:e999 t=8"),
    ]


@pytest.mark.parametrize("line", [
    "CV07:E217 T=85", "cv 7 : e217  t = 85", "SC10 : W205 T=81; LP98:E812;",
    "ch63:I107 H=7488, B=94", "LF90:E210 I=34.8 ; DD08:E701;  AG67:E601",
    " lp72:W811 Z=35 R=9  ", "QQ05:W301; CV07:E217 T=085.0",
])
def test_canonical_lines_read_as_the_grammar_reads_them(detector, line):
    detections = detector.detect(line)

    assert tuple(d.record for d in detections) == faultcodes.parse_line(line)
    assert detector.is_fault_line(line, detections)


def test_without_aliases_only_names_and_prefixes_are_read():
    plain = detector_lib.Detector(NAMES)

    assert plain.records("belt 7 E217") == ()
    assert plain.records("conveyor 7 E217") == (FaultRecord("CV", 7, "E217"),)


def test_units_and_types_an_input_names(detector):
    text = "is the belt ok? AGV4 and dock door 09 stopped, cv-3 too; codes of the scanners"

    assert detector.named_units(text) == {("AG", 4), ("DD", 9), ("CV", 3)}
    assert detector.named_prefixes(text) == {"CV", "AG", "DD", "BS"}


def test_a_name_wins_over_an_alias_spelled_the_same():
    by_name = detector_lib.name_map({"CV": "conveyor", "SN": "sorter"},
                                    {"SN": ["sorter", "conveyor"], "XX": ["ghost"]})

    assert by_name == {"conveyor": "CV", "sorter": "SN"}
