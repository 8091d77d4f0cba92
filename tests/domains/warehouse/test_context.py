"""What a warehouse conversation is about: contexts, `remember`, and the check in context."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import WarehouseDomain, context
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.faultcodes import FaultRecord

LINE = "CV07:E217 T=85; SN02:W301 N=12"
W301 = ("Sorter 2 warning W301: repeated jams, 12 jams in the last hour; check the diverter "
        "and guide rails for debris.")


@pytest.fixture(scope="module")
def domain(catalog_checker):
    return WarehouseDomain(catalog_checker)


def test_a_conversation_moves_its_context_turn_by_turn(domain):
    turns = [
        ("hello", ""),
        (LINE, LINE),
        ("how do I fix it?", LINE),  # names nothing: "it" is still one of two
        ("what about the sorter?", f"{LINE} >> SN02:W301"),
        ("the first one", f"{LINE} >> CV07:E217"),
        ("what does W301 mean?", f"{LINE} >> SN02:W301"),
        ("what does E108 mean?", f"{LINE} >> E108"),  # outside the line: the focus alone
        ("how do I fix E217 on conveyor 9?", f"{LINE} >> CV09:E217"),
        ("thanks", f"{LINE} >> CV09:E217"),
        ("conveyor 4 e217 t=90, sn2 w301", "CV04:E217 T=90; SN02:W301"),  # any spelling
    ]
    kept, said = "", []
    for text, _ in turns:
        kept = domain.remember(kept, text)
        said.append((text, kept))
    assert said == turns
    assert domain.describe_context(LINE) == "E217 on conveyor 7 or W301 on sorter 2"
    assert domain.describe_context(f"{LINE} >> W301") == "W301 on sorter 2"
    assert domain.describe_context(f"{LINE} >> E108") == "E108"
    assert domain.describe_context("") == ""


def test_a_context_reads_back_and_names_its_subjects():
    parsed = context.parse_context(f"{LINE} >> CV07:E217")
    assert parsed.records == (FaultRecord("CV", 7, "E217", (("T", "85"),)),
                              FaultRecord("SN", 2, "W301", (("N", "12"),)))
    assert parsed.subjects() == parsed.records[:1]
    assert context.parse_context("e217").subjects() == (FaultRecord("", 0, "E217"),)
    assert context.parse_context("CV07:E217 >> CV07").text == "CV07:E217"  # says nothing more
    reader = Detector({"CV": "conveyor"})
    assert context.parse_context("conveyor 7 shows E217", reader).text == "CV07:E217"
    assert context.parse_context("hello there", reader) == context.Context()
    names = {"CV": "conveyor", "SN": "sorter"}
    subjects = [*parsed.records, FaultRecord("XX", 3, "E999"), FaultRecord("", 0, "E108")]
    assert context.ask_which(subjects, names) == (
        "Which one: E217 on conveyor 7, W301 on sorter 2, E999 on XX03 or E108?")


def test_replies_are_checked_with_the_context_as_input(domain):
    check = domain.check
    assert check("how do I fix it?", "Which one: E217 on conveyor 7 or W301 on sorter 2?",
                 context=LINE) == []
    assert check("what about the sorter?", W301, context=LINE) == []
    assert check("how do I fix it?", "To fix W301 on Sorter 2, check the diverter and guide "
                 "rails for debris.", context=f"{LINE} >> W301") == []
    # about something in neither the turn nor the context
    assert check("how do I fix it?", "To fix E217 on Conveyor 9, stop the conveyor and let "
                 "the motor cool before restarting.", context=f"{LINE} >> CV07:E217") == [
        "number 9 not in input", "unit CV09 not in input",
        "the turn means E217 on conveyor 7; the reply names conveyor 9"]
    assert "equipment weigh scale not in input" in check(
        "what does that mean?", "Codes for the weigh scale: E801.", context=LINE)
    # without the context, the same reply is about nothing the turn names
    assert check("what about the sorter?", W301) == [
        "number 2 not in input", "number 12 not in input", "code W301 not in input",
        "unit SN02 not in input"]


def test_a_question_back_must_be_about_what_the_turn_names(domain):
    ask = "Which one: E217 on conveyor 7 or W301 on sorter 2?"
    two_sorters = "SN02:W301 N=12; SN05:W302"
    ask_sorters = "Which one: W301 on sorter 2 or W302 on sorter 5?"
    assert domain.check("how do I fix it?", ask, context=LINE) == []
    assert domain.check("and the sorter?", ask_sorters, context=two_sorters) == []
    # W301 is on one sorter only: the turn means that record, and is not asked about
    assert domain.check("what about W301?", ask_sorters, context=two_sorters) == [
        "the turn means W301 on sorter 2; the reply asks which"]
    assert domain.check("what codes does the palletizer report?", ask, context=LINE) == [
        "the turn asks about the palletizer; the reply asks which of others"]
    assert domain.check("is C311 serious?", ask, context=LINE) == [
        "the turn asks about C311; the reply asks which of others"]
    assert domain.check("and on DD03?", ask, context=LINE) == [
        "the turn asks about the dock door; the reply asks which of others"]


def test_a_flagged_follow_up_falls_back_to_what_the_context_was_about(domain):
    flags = ["unit CV09 not in input"]
    assert domain.fallback("how do I fix it?", flags, context=LINE) == (
        "I could not answer reliably about E217 on conveyor 7 or W301 on sorter 2; please "
        "check the code on the panel and report it to maintenance.")
    assert domain.fallback("how do I fix it?", flags) == domain.fallback("hello", flags)
    assert domain.fallback("what about W999?", flags, context=LINE) == (  # names its own code
        "I could not answer reliably about W999; please check the code on the panel and "
        "report it to maintenance.")
