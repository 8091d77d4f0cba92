"""`questions.question_type`: the question-type rules read every phrasing the corpus asks
with, in every split, as the type it was written for; and they leave other words alone."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import followup_phrasings, phrasings, questions

# the corpus' phrasing kinds -> the type the rules name; a list of a type's codes is none
KINDS = {"meaning": "meaning", "action": "action", "action_unit": "action",
         "severity": "severity", "equipment": "equipment", "codes": None}


def fill(phrasing: str) -> str:
    return phrasing.format(code="E217", eq="CV07", name="conveyor", type="conveyor")


@pytest.mark.parametrize(("kind", "text"), [
    (kind, fill(phrasing)) for kind, splits in phrasings.PHRASINGS.items()
    for texts in splits.values() for phrasing in texts
])
def test_every_question_phrasing_is_read_as_its_type(kind, text):
    assert questions.question_type(text) == KINDS[kind]


@pytest.mark.parametrize(("kind", "turn"), [
    (kind, turn) for kind, splits in followup_phrasings.PRONOUN_PHRASINGS.items()
    for turns in splits.values() for turn in turns
])
def test_every_question_about_it_is_read_as_its_type_with_the_code_after_it(kind, turn):
    # `referents` checks a turn about "it" as the same turn with its subject's code after it
    assert questions.question_type(turn) == questions.question_type(f"{turn} E217") == kind


@pytest.mark.parametrize("text", [
    "", "?", "hello", "what", "who are you", "what can you do", "what is this place",
    "tell me a joke", "what about the lift?", "is it raining", "what codes can the lift raise?",
    "CV07:E217 T=85",
])
def test_other_words_ask_no_question_type(text):
    assert questions.question_type(text) is None


def test_the_first_rule_that_applies_wins():
    assert questions.question_type("what to do about E217") == "action"  # not "about"
    assert questions.question_type("how do I fix it, is it serious?") == "action"
    assert questions.question_type("what is it E217 means") == "meaning"
    assert questions.question_type("is E217 just info?") == "severity"
    # the meaning words added in session 16 come after the severity
    for text in ("tell me about the severity of E217", "info on E217 severity",
                 "what is E217 about, is it serious?", "what is it, is it critical?"):
        assert questions.question_type(text) == "severity"


def test_the_check_asks_only_the_type_read_first():
    from assistant.domains.warehouse.messages import MESSAGE_PHRASES

    def flags(source, reply):
        return questions.question_type_flags(source, reply, MESSAGE_PHRASES)

    severity = "tell me about the severity of E217"
    assert flags(severity, "E217 is a fault code.") == []
    assert flags(severity, "E217 means motor over-temperature.") == [
        "the question asks how serious E217 is; the reply does not say"]
    # both asked: the meaning, read first, is enough
    assert flags("what does E217 mean, is it serious?", "E217 means motor over-temperature.") == []
