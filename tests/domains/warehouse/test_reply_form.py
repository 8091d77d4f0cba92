"""Checks of session 12: replies of no form the domain writes, a list naming a machine twice,
a severity question answered otherwise, a parameter phrase for a value the record lacks; and
which units the check can judge (greedy-first keeps an unflagged greedy reply only for them)."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import WarehouseDomain, reply_form


@pytest.mark.parametrize(("source", "reply", "context", "flags"), [
    ("what is a computer", "Stacker crane  COMPUTER COMPUTER warning W COMPUTER: motor running "
     "hot; check that the load sensor is clean and aligned.", "",
     ["COMPUTER is not a word replies write in capitals"]),
    ("my mouse is not responding", "It depends on which is not valid for this equipment; "
     "report it to maintenance.", "SH41:W905; DD19:E701", ["a catalog sentence without a code"]),
    ("my printer is not printing", "I am not in the fault catalog; report it to maintenance.",
     "", ["a catalog sentence without a code"]),
    ("C212 is raised by which equipment?", "Equipment that can raise C212: conveyor, sorter, "
     "shuttle, lift, stacker crane and shuttle.", "", ["equipment of C212: shuttle repeated"]),
    ("is w902 a big deal", "To fix W902, tell the control room that WMS messages are late.", "",
     ["the question asks how serious W902 is; the reply does not say"]),
    ("should I worry about it?", "E715 means pallet dispenser empty.", "PL35:E715",
     ["the question asks how serious E715 is; the reply does not say"]),
    ("ws75:E801 W=24.05", "Weigh scale 75 fault E801: weight out of tolerance, weight 24.05 kg "
     "and off by 24.05 kg; send the item to the audit station.", "",
     ['"off by {value} %" told for WS75, which has no D']),
])
def test_replies_of_no_form_the_domain_writes_are_flagged(catalog_checker, source, reply,
                                                          context, flags):
    assert catalog_checker(source, reply, context) == flags


@pytest.mark.parametrize(("source", "reply", "context"), [
    ("what is unix", "UNIX is a family of operating systems.", ""),  # a small-talk reply's
    ("AG07:E601", "AGV 7 fault E601: localisation lost; move the AGV to the nearest marker and "
     "re-localise it.", ""),
    ("is w902 a big deal", "W902 is a warning code.", ""),
    ("should I worry about it?", "E715 is a fault code.", "PL35:E715"),
    ("how serious is X123?", "X123 is not in the fault catalog; report it to maintenance.", ""),
    ("E217 serious? how do I fix it", "To fix E217, stop the unit and let the motor cool "
     "before restarting.", ""),  # the fix answers both
    ("C212 is raised by which equipment?", "Equipment that can raise C212: conveyor, sorter, "
     "shuttle, lift and stacker crane.", ""),
    ("ws75:E801 W=24.05 D=3.5", "Weigh scale 75 fault E801: weight out of tolerance, weight "
     "24.05 kg, off by 3.5 %; send the item to the audit station.", ""),
])
def test_replies_of_the_domains_form_are_not(catalog_checker, source, reply, context):
    assert catalog_checker(source, reply, context) == []


def test_capitals_the_catalog_writes_are_allowed():
    phrases = {"not_valid": "which is not valid for this equipment"}
    assert reply_form.form_flags("The WMS is late.", phrases, frozenset({"WMS"})) == []
    assert reply_form.form_flags("The WMS is late.", phrases) == [
        "WMS is not a word replies write in capitals"]
    assert reply_form.form_flags("E217, which is not valid for this equipment.", phrases) == []


def test_the_check_judges_units_that_name_what_replies_are_checked_against(catalog_checker):
    domain = WarehouseDomain(catalog_checker)
    judged = ["CV07:E217 T=85", "what is e217", "which codes belong to the sorter?",
              "conveyor 7 is down", "What can the barcode scanner throw?"]
    unjudged = ["what is a computer", "how are you", "how do I fix it?", ""]
    assert [domain.judges(text) for text in judged] == [True] * len(judged)
    assert [domain.judges(text) for text in unjudged] == [False] * len(unjudged)
