"""Tests for the fault-line parser, canonical spelling and detector."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.domains.warehouse import faultcodes
from assistant.domains.warehouse.faultcodes import FaultLineError, FaultRecord


def test_parses_the_example_line():
    records = faultcodes.parse_line("CV07:E217 T=85; SN02:W301 N=12")

    assert records == (
        FaultRecord("CV", 7, "E217", (("T", "85"),)),
        FaultRecord("SN", 2, "W301", (("N", "12"),)),
    )
    assert records[0].label == "CV07"
    assert records[0].param("t") == "85"
    assert records[0].param("N") is None


@pytest.mark.parametrize(
    "text",
    [
        "CV07:E217 T=85",
        "cv7:e217 t=85",
        "  Cv 07 : E217   T = 85  ",
        "CV7:E217, T=85",
        "CV07:E217 T=85;",
    ],
)
def test_case_spaces_and_leading_zero_do_not_matter(text):
    assert faultcodes.canonicalize(text) == "CV07:E217 T=85"


def test_canonical_form_of_several_records():
    text = "sn2:w301 n=12;ag14 : c101 b=4 x=2.50 ;  dd9:i704"

    assert faultcodes.canonicalize(text) == "SN02:W301 N=12; AG14:C101 B=4 X=2.50; DD09:I704"


def test_values_are_kept_exactly_as_typed():
    (record,) = faultcodes.parse_line("WS3:E801 W=12.50 D=085 T=85.0")

    assert record.params == (("W", "12.50"), ("D", "085"), ("T", "85.0"))
    assert record.format() == "WS03:E801 W=12.50 D=085 T=85.0"


def test_parameter_order_is_kept_and_may_be_empty():
    assert faultcodes.parse_line("PL12:C502")[0].params == ()
    assert faultcodes.parse_line("CV1:E801 D=3 W=2")[0].params == (("D", "3"), ("W", "2"))


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_one_to_four_records(count):
    line = "; ".join(f"CV{unit}:E217 T=9{unit}" for unit in range(1, count + 1))

    records = faultcodes.parse_line(line)

    assert [r.unit for r in records] == list(range(1, count + 1))


def test_units_one_and_ninety_nine_are_valid():
    assert faultcodes.parse_line("CV1:E217; CV01:E217; CV99:E217")[2].unit == 99


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CV1:E1; CV2:E1; CV3:E1; CV4:E1; CV5:E1", "5 records in one line; at most 4"),
        ("CV00:E217", "unit 00 is out of range 1-99"),
        ("CV0:E217", "unit 0 is out of range 1-99"),
        ("CV100:E217", "unit 100 is out of range 1-99"),
        ("CV007:E217", "unit 007 is out of range 1-99"),
        ("CV07 E217 T=85", "record 1 'CV07 E217 T=85': missing ':' between unit and code"),
        ("CV07:E217; SN02 W301", "record 2 'SN02 W301': missing ':'"),
        ("CV07:E217 T=8x5", "value '8x5' of T is not a number"),
        ("CV07:E217 T=-5", "value '-5' of T is not a number"),
        ("CV07:E217 T=.5", "value '.5' of T is not a number"),
        ("CV07:E217 T=", "parameter T has no value"),
        ("CV07:E217 T85", "parameter 'T85' is not KEY=value"),
        ("CV07:E217 =85", "'E217=85' is not a fault code"),
        ("CV07:E217 T2=85", "parameter name 'T2' must be 1-8 letters"),
        ("CV07:E217 T=85 t=86", "parameter T is given twice"),
        ("CV07:E21", "'E21' is not a fault code"),
        ("CV07:217", "'217' is not a fault code"),
        ("CV07:", "missing fault code after ':'"),
        ("CVX07:E217", "equipment prefix 'CVX' must be 2 letters"),
        ("07:E217", "'07' is not an equipment unit"),
        ("CV:E217", "'CV' is not an equipment unit"),
        ("CV07:E217;;SN02:W301", "record 2 is empty"),
        ("   ", "empty line"),
    ],
)
def test_malformed_lines_raise_value_error_saying_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        faultcodes.parse_line(text)


def test_errors_are_fault_line_errors():
    with pytest.raises(FaultLineError):
        faultcodes.parse_line("CV100:E217")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CV07:E217 T=85", True),
        ("cv 7 : e217", True),
        ("  SN02:W301; CV07:E217", True),
        ("CV07 E217", True),  # missing colon: parse_line explains
        ("CV100:E217", True),  # out-of-range unit: parse_line explains
        ("what does E217 mean?", False),
        ("how do I fix E217 on CV07?", False),
        ("CV07 shows E217, what do I do?", False),
        ("E217 on CV07, what now?", False),
        ("hello", False),
        ("", False),
        ("CV07: hello", False),
    ],
)
def test_looks_like_fault_line(text, expected):
    assert faultcodes.looks_like_fault_line(text) is expected


_records = st.builds(
    FaultRecord,
    prefix=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    unit=st.integers(1, 99),
    code=st.from_regex(r"[A-Z][0-9]{3}", fullmatch=True),
    params=st.lists(
        st.tuples(
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
            st.from_regex(r"[0-9]{1,5}(\.[0-9]{1,3})?", fullmatch=True),
        ),
        max_size=3,
        unique_by=lambda pair: pair[0],
    ).map(tuple),
)


@given(st.lists(_records, min_size=1, max_size=4))
def test_format_then_parse_round_trips(records):
    line = faultcodes.format_line(records)

    assert faultcodes.parse_line(line) == tuple(records)
    assert faultcodes.canonicalize(line.lower()) == line
    assert faultcodes.looks_like_fault_line(line)
