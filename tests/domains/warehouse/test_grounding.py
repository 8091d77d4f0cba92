"""Tests for the grounding check on any input: the faithfulness flags of hand-written
replies to the spellings operators use, and no flag on any target of a built corpus."""

from __future__ import annotations

import json

import pytest

from assistant.core.tokenizer import split_context
from assistant.domains.warehouse import corpus, faithfulness, faultcodes, messages

# As the catalog's `aliases` will write them into faithfulness.json (lower case, name first).
ALIASES = {"CV": ["conveyor", "conv", "belt"], "BS": ["barcode scanner", "scanner", "bcr"]}
E217 = ("Conveyor 7 fault E217: motor over-temperature, motor at 85 °C; stop the conveyor and "
        "let the motor cool before restarting.")
W301 = ("Sorter 2 warning W301: repeated jams, 12 jams in the last hour; check the diverter "
        "and guide rails for debris.")
SEPARATORS = (", ", " | ", " / ", "\t", " and ", " ", "\n", "; ")


@pytest.fixture(scope="module")
def facts(raw_catalog):
    return {
        "allowed_numbers": faithfulness.allowed_numbers_from_catalog(raw_catalog),
        "allowed_codes": faithfulness.allowed_codes_from_catalog(raw_catalog),
        "equipment_names": dict(raw_catalog["equipment"]),
        "code_table": faithfulness.code_table_from_catalog(raw_catalog),
        "message_phrases": messages.MESSAGE_PHRASES,
        "equipment_aliases": ALIASES,
    }


@pytest.fixture(scope="module")
def check(facts):
    return lambda source, reply: faithfulness.check_reply(source, reply, **facts)


@pytest.mark.parametrize(("source", "canonical"), [
    ("AGV4:W120", "AG04:W120"),
    ("barcode scanner 33 W824 N=23", "BS33:W824 N=23"),
    ("scanner 33 w824 n=23", "BS33:W824 N=23"),
    ("SN13 C501 S=24", "SN13:C501 S=24"),
    ("conveyor 7 E217 T=85", "CV07:E217 T=85"),
    ("belt 7 E217 T=85", "CV07:E217 T=85"),
    ("CV 7:E217 T=85C", "CV07:E217 T=85"),
    ("XX07:E999 T=8", "XX07:E999 T=8"),
    ("CV07:E217 T=85; SN02:W301 N=12; AG04:W102 B=20; DD09:E701; LP40:W811 R=9; "
     "CH05:E105 V=24.5", None),
])
def test_the_canonical_reply_to_any_spelling_has_no_flags(check, catalog, source, canonical):
    records = _six(source) if canonical is None else faultcodes.parse_line(canonical)
    assert check(source, messages.render_reply(records, catalog)) == []


@pytest.mark.parametrize("separator", SEPARATORS)
def test_every_record_must_be_answered_whatever_the_separator(check, separator):
    source = f"CV07:E217 T=85{separator}SN02:W301 N=12"

    assert check(source, f"{E217} {W301}") == []
    assert check(source, E217) == ["code W301 missing from reply", "unit SN02 missing from reply"]


def test_every_record_of_a_long_line_must_be_answered(check, catalog):
    line = ("CV07:E217 T=85; SN02:W301 N=12; AG04:W102 B=20; DD09:E701; LP40:W811 R=9; "
            "CH05:E105 V=24.5")
    sentences = [messages.render_record(record, catalog) for record in _six(line)]

    assert check(line, " ".join(sentences[:2])) == [
        "code W102 missing from reply", "unit AG04 missing from reply",
        "code E701 missing from reply", "unit DD09 missing from reply",
        "code W811 missing from reply", "unit LP40 missing from reply",
        "code E105 missing from reply", "unit CH05 missing from reply",
    ]


def test_a_reply_may_not_name_another_unit_value_or_prefix(check, catalog):
    eight = E217.replace("Conveyor 7", "Conveyor 8")
    assert check("conveyor 7 E217 T=85", eight) == [
        "number 8 not in input", "unit CV08 not in input", "unit CV07 missing from reply",
    ]
    wrong_value = messages.render_reply(faultcodes.parse_line("SN13:C501 S=25"), catalog)
    assert check("SN13 C501 S=24", wrong_value) == [
        "number 25 not in input", "S=24 missing for SN13",
        "25 told for SN13, not a value of its record",
    ]
    invented_prefix = "Equipment ZZ 4 is not in the catalog; report code W120 to maintenance."
    assert check("AGV4:W120", invented_prefix) == ["unit ZZ 4 not in input",
                                                   "unit AG04 missing from reply"]


def test_an_answer_may_not_name_another_code_or_equipment_type(check, catalog):
    assert check("what does E218 mean?", "E217 means motor over-temperature.") == [
        "code E217 not in input"
    ]
    scanner_codes = messages.answer_question("codes", catalog, prefix="BS")
    assert check("what should I do about a low battery on AGV 4?", scanner_codes) == [
        "equipment barcode scanner not in input"
    ]
    assert check("which codes can the scanner raise?", scanner_codes) == []  # an alias
    assert check("list the BS codes", scanner_codes) == []


def test_a_question_about_a_code_on_a_unit_must_answer_for_that_unit(check, catalog):
    question = "E217 on CV07, what do I do?"

    assert check(question, messages.answer_question("action_unit", catalog, "E217", "CV", 7)) == []
    assert check(question, messages.answer_question("action", catalog, "E217")) == [
        "unit CV07 missing from reply"
    ]
    unknown = messages.answer_question("action_unit", catalog, "E999", "CV", 7)
    assert check("E999 on CV07, what do I do?", unknown) == []  # names no unit


def test_the_action_must_be_the_one_of_the_code_and_equipment(check):
    wrong = "To fix E217 on Conveyor 7, stop the lift and let the motor cool before restarting."
    assert check("E217 on CV07, what do I do?", wrong) == [
        "action for E217 on CV07 is not the catalog's"
    ]
    assert check("CV07:E217 T=85", E217.replace("the conveyor", "the lift")) == [
        "action for E217 on CV07 is not the catalog's"
    ]
    assert check("how do I fix E217?", wrong.replace(" on Conveyor 7", "")) == [
        "action for E217 is not the catalog's"
    ]
    right = "To fix E217, stop the unit and let the motor cool before restarting."
    assert check("how do I fix E217?", right) == []


def test_the_catalogs_fixed_wording_of_an_action_is_allowed(check, catalog):
    for line in ("AG04:E105 V=24.5", "AG04:C101 B=5", "SH03:W102 B=20"):
        reply = messages.render_reply(faultcodes.parse_line(line), catalog)
        assert check(line, reply) == [], reply


def test_without_actions_in_the_table_the_action_is_not_checked(facts):
    table = {code: entry.__class__(entry.equipment, entry.meaning, entry.params, entry.numbers,
                                   entry.phrases)
             for code, entry in facts["code_table"].items()}
    wrong = "To fix E217 on Conveyor 7, stop the lift and let the motor cool before restarting."

    flags = faithfulness.check_reply("E217 on CV07, what do I do?", wrong,
                                     **{**facts, "code_table": table})

    assert flags == []


def test_catalog_agreement_applies_to_fault_lines_in_any_spelling(check):
    assert check("conveyor 7 E217 T=85", E217.replace(", motor at 85 °C", "")) == [
        "T=85 missing for CV07"
    ]
    assert check("belt 7 E217 T=85 and SN02 W301 N=12", f"{W301} {E217}") == []


def test_load_checker_reads_the_aliases(tmp_path, facts):
    settings = {
        "allowed_numbers": sorted(facts["allowed_numbers"]),
        "allowed_codes": sorted(facts["allowed_codes"]),
        "equipment_names": facts["equipment_names"],
        "message_phrases": facts["message_phrases"],
        "equipment_aliases": ALIASES,
    }
    path = tmp_path / faithfulness.BUNDLE_FILE
    path.write_text(json.dumps(settings), encoding="utf-8")

    assert faithfulness.load_checker(path)("belt 7 E217", "Thanks.") == [
        "code E217 missing from reply", "unit CV07 missing from reply"
    ]
    del settings["equipment_aliases"]  # a file written before aliases: names only
    path.write_text(json.dumps(settings), encoding="utf-8")
    assert faithfulness.load_checker(path)("belt 7 E217", "Thanks.") == []
    assert faithfulness.load_checker(path)("conveyor 7 E217", "Thanks.") == [
        "code E217 missing from reply", "unit CV07 missing from reply"
    ]


def test_no_target_of_a_built_corpus_is_flagged(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(out, seed=11, sizes=corpus.CorpusSizes(train=1500, valid=200, test=300))
    check = faithfulness.load_checker(out / faithfulness.BUNDLE_FILE)
    reader = check.detector()
    for split in corpus.SPLITS:
        for line in (out / f"{split}.jsonl").read_text("utf-8").splitlines():
            row = json.loads(line)
            context, source = split_context(row["source"])
            assert check(source, row["target"], context or "") == [], row
            canonical = _canonical(source)
            if canonical is not None:
                assert reader.records(source) == canonical, row


def _canonical(source: str) -> tuple[faultcodes.FaultRecord, ...] | None:
    try:
        return faultcodes.parse_line(source) if faultcodes.looks_like_fault_line(source) else None
    except ValueError:
        return None


def _six(line: str) -> tuple[faultcodes.FaultRecord, ...]:
    """A line of more records than the grammar allows, parsed record by record."""
    return tuple(faultcodes.parse_record(part) for part in line.split(";"))


def test_a_question_naming_one_unit_and_one_code_is_about_that_unit(check):
    # The words "down with" are no pattern of the detector; the unit and code still count.
    source = "SH82 down with E224, what now"
    assert check(source, "E224 is a fault code.") == [
        "unit SH82 missing from reply",
        "the question asks what to do about E224; the reply does not say"]
    assert check(source, "To fix E224 on Shuttle 82, lock out the shuttle and have "
                         "maintenance check the brake.") == []


def test_a_catalog_unit_told_as_not_in_the_catalog(check):
    assert check("SC67 says rack position not found, what do I do",
                 "Stacker crane 67 is not in the fault catalog; report it to maintenance.") == [
        "Stacker crane 67 is in the catalog, the reply says it is not",
        "code E623 (rack position not found) missing from reply"]


def test_panel_text_between_code_and_values_keeps_the_values_the_records(check):
    source = "WS72:E108 SUPPLY UNDERVOLTAGE V=201"
    assert check(source, "Weigh scale 72 fault E108: supply undervoltage; check the supply "
                         "breaker and call an electrician.") == ["V=201 missing for WS72"]
    assert check(source, "Weigh scale 72 fault E108: supply undervoltage, supply at 201 V; "
                         "check the supply breaker and call an electrician.") == []


def test_only_a_code_is_told_as_not_in_the_fault_catalog(check):
    assert check("sc13 says telescopic forks fault, what do I do",
                 "S 13 is not in the fault catalog; report it to maintenance.") == [
        "S 13 told as not in the catalog", "code E721 (telescopic forks fault) missing from reply"]
    assert "That 23 told as not in the catalog" in check("barcode scanner 33 W824 N=23",
                                                         "That 23 is not in the fault catalog.")
    assert check("what is E999?", "E999 is not in the fault catalog; report it to "
                                   "maintenance.") == []


def test_a_record_whose_code_is_told_for_another_unit(check):
    source = "LP89:W824 N=8\nCV28:E201"
    reply = ("Label printer 89 reported code E201, which is not valid for this equipment; "
             "report it to maintenance. Conveyor 28 warning W824: label check failed, 8 "
             "labels rejected; check the label stock.")
    assert "E201 not told for CV28" in check(source, reply)
    assert "W824 not told for LP89" in check(source, reply)


@pytest.mark.parametrize("source", [
    "LF3 E422 - LOAD SENSOR FAULT",
    "lf3 e422: load sensor fault",
    "LF03:E422 load-sensor fault",
])
def test_a_code_followed_by_its_catalog_meaning_is_a_fault_record(check, source):
    canonical = ("Lift 3 fault E422: load sensor fault; check that the load sensor is clean "
                 "and aligned.")
    assert check(source, canonical) == []
    # answered as a question ("To fix ..."), the record's meaning is missing: flagged
    assert "meaning of E422 missing for LF03" in check(
        source, "To fix E422 on Lift 3, check that the load sensor is clean and aligned.")


def test_panel_text_with_a_dash_keeps_the_values_the_records(check):
    source = "LP36 E815 - LABEL NOT APPLIED N=15"
    assert check(source, "Label printer 36 fault E815: label not applied, 15 missed labels; "
                         "check the applicator pad and its air supply.") == []
    assert check(source, "Label printer 36 fault E815: label not applied; check the applicator "
                         "pad and its air supply.") != []


@pytest.mark.parametrize("reply", [
    "I'm doing well.",
    "I93 is not in the fault catalog; report it to maintenance.",
    "Stacker crane 93; report it to maintenance.",
])
def test_a_fault_named_by_its_meaning_must_be_answered(check, reply):
    source = "AGV 93 says localisation lost, what do I do"
    assert "code E601 (localisation lost) missing from reply" in check(source, reply)
    assert check(source, "To fix E601 on AGV 93, move the AGV to the nearest marker and "
                         "re-localise it.") == []
    assert check("how do I fix scanner offline?", "I'm doing well.") == [
        "the question asks what to do about E407; the reply does not say",
        "code E407 (scanner offline) missing from reply"]
    # a question about what to do gets the fix even when the reply names the code
    assert check("what to do about charger earth fault", "Codes for the charger: C103, W104, "
                 "E105, E106, I107, C109, W905 and I908.") == [
        "the question asks what to do about C109; the reply does not say"]


@pytest.mark.parametrize(("source", "reply", "flag"), [
    ("LP41 W102 help", "Label printer 41 warning W102: battery low; send the item to a charger "
     "after the current task.", "W102 explained for LP41, where it is not valid"),
    ("08:57 LF78:I314 N=45", "Lift 78 info I314: mission paused; resume the mission from the "
     "fleet manager.", "I314 on LF78 not reported as not valid there"),
    ("wat is I821", "I821 is an info code.", "the question asks what I821 means; the reply "
     "does not say"),
    ("C505", "C505 is a critical code.", "the question asks what C505 means; the reply does "
     "not say"),
    ("CV46:W301 V=41 N=40 jams", "Conveyor 46 warning W301: repeated jams, 41 jams in the "
     "last hour; check the diverter and guide rails for debris.", "V=41 told for CV46, not a "
     "parameter of W301"),  # values may be lost, but one of another key is not the code's
])
def test_a_line_that_is_not_a_fault_line_is_still_checked(check, source, reply, flag):
    assert flag in check(source, reply)


def test_record_sentences_of_other_lines_keep_their_catalog_facts(check):
    assert check("LP41 W102 help", "W102 is not valid for Label printer 41; report it to "
                 "maintenance.") == []
    assert check("wat is I821", "I821 means printer paused.") == []
    assert check("07:37 SC54:W419 D=8.0", "Stacker crane 54 warning W419: encoder deviation, "
                 "deviation 8.0 mm; re-home the stacker crane and check the encoder "
                 "coupling.") == []
    # a log line with its time is a fault line: a stray value is not told as a parameter
    assert check("[07:37:10] SC54:W419 F=8.0", "Stacker crane 54 warning W419: encoder "
                 "deviation, deviation 8.0 mm; re-home the stacker crane and check the encoder "
                 "coupling.") == ["F=8.0 told for SC54, not a parameter of W419",
                                  '"deviation {value} mm" told for SC54, which has no D']


@pytest.mark.parametrize("source", [
    "I have W718, what now?", "what is the fix for W718?", "W718 - what do I do",
    "how do I clear W718", "steps for W718 please", "what to do about W718",
])
def test_a_question_about_what_to_do_is_answered_with_the_fix(check, source):
    flag = "the question asks what to do about W718; the reply does not say"
    assert check(source, "W718 is a warning code.") == [flag]
    assert check(source, "W718 means layer misaligned.") == [flag]
    assert check(source, "To fix W718, check the layer squaring plates.") == []


def test_a_question_about_what_to_do_may_be_told_why_there_is_nothing_to_fix(check):
    assert check("I have W999, what now?",
                 "W999 is not in the fault catalog; report it to maintenance.") == []
    assert check("how severe is W718?", "W718 is a warning code.") == []  # not asked


@pytest.mark.parametrize("line", ["CV07:E217 T=85", "AG04:C101 B=2", "DD96:I704 M=64",
                                  "SH02:I230 H=869"])
def test_the_reply_bound_of_a_record_is_its_catalog_message(facts, catalog, line):
    # the runtime limits the reranked search of a record to a margin over this text's pieces
    bound = faithfulness.reply_bound(line, facts["equipment_names"], facts["code_table"])
    assert bound == messages.render_reply(faultcodes.parse_line(line), catalog)


@pytest.mark.parametrize("text", ["what does E217 mean?", "ZZ04:W120", "CV07:E999", "hello"])
def test_only_a_line_of_valid_catalog_records_has_a_reply_bound(facts, text):
    assert faithfulness.reply_bound(text, facts["equipment_names"], facts["code_table"]) is None


def test_a_reply_cut_at_the_length_limit_is_flagged(check):
    reply = ("Shuttle 2 info I230: service interval due, 869 h since last service; book "
             "preventive maintenance with the maintenance team")
    assert check("SH02:I230 H=869", reply) == ["the reply stops mid-sentence"]
    assert check("SH02:I230 H=869", reply + ".") == []
    assert check("how are you", "I'm doing well") == []  # small talk may end without a stop


def test_which_equipment_raises_a_code_is_answered_with_equipment(check):
    source = "which machine throws W602"
    assert check(source, "W602 is a warning code.") == [
        "the question asks which equipment raises W602; the reply does not say"]
    assert check(source, "Equipment that can raise W602: AGV.") == []
    assert check("Y443 comes from which equipment?",
                 "Y443 is not in the fault catalog; report it to maintenance.") == []
    assert check("where would W602 come from", "To fix W602, remove the obstacle from the AGV "
                 "path.") == [
        "the question asks which equipment raises W602; the reply does not say"]


@pytest.mark.parametrize("source", ["W608? never seen it", "whats W608 mean",
                                    "anyone know what W608 is", "what's W608 all about"])
def test_what_a_code_means_is_answered_with_its_meaning(check, source):
    assert check(source, "W608 means drive wheels slipping.") == []
    assert check(source, "W608 is a warning code.") == [
        "the question asks what W608 means; the reply does not say"]
    unknown = source.replace("W608", "Y608")
    assert check(unknown, "Y608 is not in the fault catalog; report it to maintenance.") == []
    assert "the question asks what Y608 means; the reply does not say" in check(
        unknown, "Y608 is a warning code.")


def test_an_unknown_code_must_be_a_code(catalog_checker):
    told = "Shuttle 23 reported unknown code Shuttle 23; report it to maintenance."

    assert 'no code after "reported unknown code"' in catalog_checker("SH23:E", told)
    assert catalog_checker("SH23:E999", "Shuttle 23 reported unknown code E999; report it to "
                                        "maintenance.") == []


def test_a_unit_told_as_not_in_the_catalog_is_one_the_input_names(catalog_checker):
    unknown = "Equipment {} is not in the catalog; report code I230 to maintenance."
    for typed in ("XP62:I230", "XP 62 I230", "xp-62 I230", "[16:14] XP_062 I230"):
        assert "unit XP 62 not in input" not in catalog_checker(typed, unknown.format("XP 62"))
    assert catalog_checker("where else can that come from?", unknown.format("CANL 62"),
                           "PL62:I230 H=4777 W=2023")[:1] == ["unit CANL 62 not in input"]
    assert catalog_checker("AGV4:W120", unknown.format("ZZ 4").replace("I230", "W120")) == [
        "unit ZZ 4 not in input", "unit AG04 missing from reply"]

