"""The referent check: a follow-up is answered about what it refers to in its context."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.domains.warehouse import faithfulness, messages, referents
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.faultcodes import FaultRecord

LINE = "CV07:E217 T=85; SN02:W301 N=12"
E217 = ("Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor and "
        "let the motor cool before restarting.")
W301 = ("Sorter 2 warning W301: repeated jams, 12 jams in the last hour; check the diverter "
        "and guide rails for debris.")
ASK = "Which one: E217 on conveyor 7 or W301 on sorter 2?"


@pytest.fixture(scope="module")
def reader(raw_catalog):
    return Detector(dict(raw_catalog["equipment"]), raw_catalog["aliases"])


@pytest.fixture(scope="module")
def check(raw_catalog, reader):
    table = faithfulness.code_table_from_catalog(raw_catalog)

    def flags(turn, reply, context=LINE):
        return referents.referent_flags(turn, reply, context, reader, table,
                                        messages.MESSAGE_PHRASES)
    return flags


@pytest.mark.parametrize(("turn", "context", "meant"), [
    ("how do I fix it?", LINE, ("CV07:E217", "SN02:W301")),
    ("Sorry, what now?", LINE, ("CV07:E217", "SN02:W301")),  # bare, polite words around
    ("quick question: how do i get rid of it", f"{LINE} >> W301", ("SN02:W301",)),
    ("and on the sorter?", LINE, ("SN02:W301",)),  # a bare choice by type
    ("hey, second one please", LINE, ("SN02:W301",)),  # ... by place
    ("what's up with E217?", LINE, ("CV07:E217",)),  # ... by code
    ("is E217 serious?", LINE, ("CV07:E217",)),  # a question naming a record of the line
    ("what does that mean?", "E108", ("E108",)),  # the focus alone
])
def test_what_a_turn_refers_to(reader, turn, context, meant):
    found = referents.referents(turn, context, reader)
    assert tuple(record.code if not record.prefix else f"{record.label}:{record.code}"
                 for record in found) == meant


@pytest.mark.parametrize("turn", [
    "hi, how is it going",  # "it", but no question about a fault
    "what is it like being a computer",
    "what codes can the sorter raise?",  # names a type of the line, asks about sorters
    "what does W999 mean?",  # a code outside the line: its own subject
    "CV03:E217 T=90",  # a new fault line
    "thanks",
])
def test_turns_with_their_own_subject_refer_to_nothing(reader, turn):
    assert referents.referents(turn, LINE, reader) == ()


def test_the_records_of_the_subject_keep_their_values(reader):
    assert referents.referents("the first one", LINE, reader) == (
        FaultRecord("CV", 7, "E217", (("T", "85"),)),)


def test_a_turn_that_may_mean_two_subjects_must_ask_about_both(check):
    assert check("how do I fix it?", ASK) == []
    assert check("how do I fix it?", E217) == [
        "the turn may mean E217 on conveyor 7 or W301 on sorter 2; the reply does not ask which"]
    assert check("how do I fix it?", "Which one: E217 on conveyor 7 or E217 on conveyor 9?") == [
        "the turn may mean E217 on conveyor 7 or W301 on sorter 2; the reply asks about others"]


def test_a_turn_that_means_one_subject_is_answered_about_it(check):
    assert check("and the sorter?", W301) == []
    assert check("and the sorter?", ASK) == [
        "the turn means W301 on sorter 2; the reply asks which"]
    assert check("the second one", E217) == [
        "the turn means W301 on sorter 2; the reply does not name W301"]
    # a bare choice gets the record's sentence, with that record's values
    assert check("what's up with W301?", "To fix W301, check the diverter and guide rails "
                 "for debris.") == [
        "the turn picks W301 on sorter 2; the reply does not tell its record"]
    assert check("what about the sorter?", W301.replace("12 jams", "85 jams")) == [
        "N=12 missing for SN02", "85 told for SN02, not a value of its record"]
    # a fix of "it" names the unit it is on
    focus = f"{LINE} >> W301"
    assert check("how do I fix it?", "To fix W301 on Sorter 2, check the diverter and guide "
                 "rails for debris.", focus) == []
    assert check("how do I fix it?", "To fix W301, check the diverter and guide rails for "
                 "debris.", focus) == [
        "the turn means W301 on sorter 2; the fix does not name sorter 2"]
    # a question that names the record is answered as a question: any answer naming it
    assert check("what does W301 mean?", "W301 means repeated jams.") == []


def test_a_turn_about_something_else_is_not_answered_about_the_context(check):
    assert check("hi, how is it going", "Good") == []
    assert check("hi, how is it going", "E217 is a fault code.") == [
        "the turn does not ask about E217"]
    assert check("what is ai", ASK) == [
        "the turn refers to nothing in the context; the reply asks which"]
    assert check("what codes does the conveyor report?", ASK) == [
        "the turn refers to nothing in the context; the reply asks which"]
    # a turn that may point back ("the third one" of two records) is left alone
    assert check("the third one", E217) == []


def test_the_check_runs_in_check_reply_with_a_context(catalog_checker):
    assert catalog_checker("and the sorter?", W301, LINE) == []
    assert catalog_checker("and the sorter?", E217, LINE) == [
        "the turn means W301 on sorter 2; the reply does not name W301"]
    assert catalog_checker("and the sorter?", E217) == [  # without the context: other flags
        "number 7 not in input", "number 85 not in input", "code E217 not in input",
        "unit CV07 not in input"]


def test_a_question_about_it_gets_the_answer_of_its_question_type(check):
    focus = f"{LINE} >> W301"
    fix = "To fix W301 on Sorter 2, check the diverter and guide rails for debris."
    assert check("any idea how to fix this?", fix, focus) == []
    assert check("any idea how to fix this?", "Equipment that can raise W301: sorter.",
                 focus) == ["the question asks what to do about W301; the reply does not say"]
    assert check("where else can that come from?", "W301 is a warning code.", "W301") == [
        "the question asks which equipment raises W301; the reply does not say"]
    assert check("where else can that come from?", "Equipment that can raise W301: sorter.",
                 "W301") == []
    assert check("can you explain that one?", W301, focus) == [
        "the question asks what W301 means; the reply does not say"]
    assert check("can you explain that one?", "W301 means repeated jams.", focus) == []
    assert check("what is that about", "W301 is a warning code.", focus) == [
        "the question asks what W301 means; the reply does not say"]
    # a bare choice is told its record, whatever the words around it
    assert check("what's up with the sorter?", W301) == []


def test_a_question_back_names_every_subject_and_only_the_context_s(check):
    line = "SH33:C212 G=109; LF82:W905; WS86:W905"
    both = "Which one: C212 on shuttle 33, W905 on lift 82 or W905 on weigh scale 86?"
    assert check("which machines can report it", both, line) == []
    assert check("which machines can report it",
                 "Which one: C212 on shuttle 33 or W905 on weigh scale 86?", line) == [
        "the turn may mean C212 on shuttle 33, W905 on lift 82 or W905 on weigh scale 86; "
        "the reply leaves out W905 on lift 82"]
    # a turn about a code the context lacks is not asked back about the context
    assert check("can you tell me what e106 means", "Which one: E217 on conveyor 7 or E106 "
                 "on sorter 2?") == [
        "the turn asks about E106, which the context does not hold; the reply asks which"]


def test_a_turn_with_its_own_subject_is_not_answered_about_the_context(check):
    focus = f"{LINE} >> E217"
    assert check("which codes belong to the palletizer?",
                 "Equipment that can raise E217: conveyor, sorter and shuttle.", focus) == [
        "the turn asks about the palletizer; the reply is about E217"]
    palletizer = "Codes for the palletizer: E108, E201, W205, E217 and I230."
    assert check("which codes belong to the palletizer?", palletizer, focus) == []
    assert check("what does E108 mean?", "E217 means motor over-temperature.") == [
        "the turn asks about E108; the reply is about E217"]



@pytest.mark.parametrize(("context", "turn", "narrowed"), [
    ("SH39:C101; WS07:E801 W=2.75 D=25", "What's up with the shuttle?", "SH39:C101"),
    ("SC61:W233 V=19; LP50:I704 >> LP50:I704", "What can I do about it?", "LP50:I704"),
    ("AG78:C101 B=6 F=6; CV62:I314 Z=28 >> C101", "what can I do about it?",
     "AG78:C101 B=6 F=6"),  # the record keeps its values
    ("DD70:E702 P=7; DD86:I704; SH28:E721 S=16", "and for the dock door?",
     "DD70:E702 P=7; DD86:I704"),  # two subjects: the reply must still ask which
    ("SH56:C101 N=41; DD07:I704 >> CH31:R973", "where else can that come from?", "CH31:R973"),
    ("CV07:E217 T=85 >> E901", "how bad is it?", "E901"),  # a focus outside the line
    # refers to nothing in the context: answered alone
    ("LP41:W811 R=11; SC81:C505 G=251", "what does yolo mean", ""),
    ("LP41:W811 R=11; SC81:C505 G=251", "what codes can the sorter raise?", ""),
    ("SN48:W301", "should I worry about it", None),  # the context is what it refers to
    ("C101", "what can I do about it?", None),
])
def test_refocus_narrows_a_context_to_what_the_turn_refers_to(context, turn, narrowed):
    from assistant.domains.warehouse.domain import WarehouseDomain

    domain = WarehouseDomain.from_bundle(Path(__file__).parents[3] / "saved_models" / "warehouse")
    assert domain.refocus(context, turn) == narrowed


@pytest.mark.parametrize(("context", "turn", "spelled"), [
    # a bare choice of one record: its fault line, with its values
    ("SH39:C101; WS07:E801 W=2.75 D=25", "What's up with the shuttle?", "SH39:C101"),
    ("CV07:E217 T=85; SN02:W301 N=12", "and the sorter?", "SN02:W301 N=12"),
    ("SN44:Y558 G=3", "What's up with sorter 44?", "SN44:Y558 G=3"),
    # a question about one record: the canonical question of its type
    ("LP80:W824 N=19", "any idea how to fix this?", "how do I fix W824 on LP80?"),
    ("CV07:E217 T=85; SN02:W301 N=12", "how do I fix W301?", "how do I fix W301 on SN02?"),
    ("SC40:E416 M=96", "which machines can report it", "which equipment raises E416?"),
    ("PL45:I230 H=13229; DD13:E701 >> E106", "can you explain that one?",
     "what does E106 mean?"),
    ("SN48:W301", "should I worry about it", "what is the severity of W301?"),
    ("DD77:E701", "what is that about", "what does E701 mean?"),
    ("C101", "what can I do about it?", "how do I fix C101?"),  # a code alone: no unit
    # nothing to spell: two subjects (ask which), no canonical question, no reference
    ("CV07:E217 T=85; SN02:W301 N=12", "how do I fix it?", None),
    ("DD77:E701", "tell me more about that", None),
    ("LP41:W811 R=11", "what does yolo mean", None),
    ("CV07:E217 T=85", "hello there", None),
])
def test_spell_out_writes_a_follow_up_about_one_record_to_be_read_alone(context, turn,
                                                                         spelled):
    from assistant.domains.warehouse.domain import WarehouseDomain

    domain = WarehouseDomain.from_bundle(Path(__file__).parents[3] / "saved_models" / "warehouse")
    assert domain.spell_out(context, turn) == spelled
