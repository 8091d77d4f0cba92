import pytest

from assistant.domains.warehouse import faithfulness
from assistant.domains.warehouse.answer_checks import answer_flags
from assistant.domains.warehouse.faithfulness import CatalogCode

NAMES = {"CV": "conveyor", "SN": "sorter", "AG": "AGV", "DD": "dock door"}
TABLE = {
    "E108": CatalogCode(frozenset({"CV", "SN"}), "power supply fault"),
    "E217": CatalogCode(frozenset({"CV"}), "motor over-temperature"),
    "W301": CatalogCode(frozenset({"SN"}), "repeated jams"),
    "W602": CatalogCode(frozenset({"AG"}), "path blocked"),
}
PHRASES = {
    "not_in_catalog": "is not in the fault catalog",
    "codes_of": "Codes for the",
    "equipment_of": "Equipment that can raise",
    "means": "means",
    "fix": "To fix",
    "not_valid_for": "is not valid for",
}


def flags(reply):
    return answer_flags(reply, TABLE, NAMES, PHRASES)


@pytest.mark.parametrize("reply", [
    "Codes for the conveyor: E108 and E217.",
    "Codes for the AGV: W602.",
    "Equipment that can raise E108: conveyor and sorter.",
    "Equipment that can raise e108: Sorter and conveyor.",
    "E217 means motor over-temperature.",
    "To fix E217 on Conveyor 7, let the motor cool.",
    "To fix W602, remove the obstacle.",
    "W301 is not valid for Conveyor 7; report it to maintenance.",
    "E999 is not in the fault catalog; report it to maintenance.",
    "Hi! E217 is a fault code.",
])
def test_answers_that_agree_with_the_catalog_have_no_flags(reply):
    assert flags(reply) == []


@pytest.mark.parametrize(("reply", "expected"), [
    ("Codes for the conveyor: E108, E217, E217.", []),  # the repeat is check (b)'s
    ("Codes for the conveyor: E108.", ["codes of the conveyor: E217 missing"]),
    ("Codes for the agv: W602, W301 and E217.", [
        "W301 listed for the AGV, not one of its codes",
        "E217 listed for the AGV, not one of its codes",
    ]),
    ("Equipment that can raise E108: dock door.", [
        "E108 cannot be raised by the dock door",
        "equipment of E108: conveyor, sorter missing",
    ]),
    ("Equipment that can raise E999: conveyor.",
     ["E999 is not in the catalog, the reply says what it is"]),
    ("E217 means repeated jams.", ["meaning of E217 wrong"]),
    ("E999 means label printer.", ["E999 is not in the catalog, the reply says what it is"]),
    ("To fix E217 on Dock door 19, let the motor cool.",
     ["E217 on DD19 told how to fix, where it is not valid"]),
    ("To fix Q104 on conveyor 8, call maintenance.",
     ["Q104 is not in the catalog, the reply says how to fix it"]),
    ("To fix Q104, call maintenance.",
     ["Q104 is not in the catalog, the reply says how to fix it"]),
    ("E217 is not valid for Conveyor 7; report it to maintenance.",
     ["E217 on CV07 told as not valid"]),
])
def test_answers_that_disagree_with_the_catalog_are_flagged(reply, expected):
    assert flags(reply) == expected


def test_a_severity_must_be_the_catalogs_and_of_a_catalog_code():
    table = {"E217": CatalogCode(frozenset({"CV"}), "motor over-temperature",
                                 severity="fault"),
             "W301": CatalogCode(frozenset({"SN"}), "repeated jams")}  # an older file
    phrases = {"severity": "code"}
    assert answer_flags("E217 is a fault code.", table, NAMES, phrases) == []
    assert answer_flags("e217 is a warning code.", table, NAMES, phrases) == [
        "severity of E217 wrong"]
    assert answer_flags("C311 is a critical code.", table, NAMES, phrases) == [
        "C311 is not in the catalog, the reply gives its severity"]
    assert answer_flags("W301 is an info code.", table, NAMES, phrases) == []  # unknown
    assert answer_flags("E217 is a warning code.", table, NAMES, {}) == []


def test_phrases_the_bundle_does_not_give_are_not_checked():
    assert answer_flags("E217 means repeated jams.", TABLE, NAMES, {"fix": "To fix"}) == []


def test_check_reply_applies_the_answer_checks_to_questions_only():
    check = {"equipment_names": NAMES, "code_table": TABLE, "message_phrases": PHRASES,
             "allowed_codes": set(TABLE)}
    wrong = "Codes for the conveyor: E108."
    assert faithfulness.check_reply("which codes does the conveyor have?", wrong, **check) == [
        "codes of the conveyor: E217 missing"
    ]
    line = "CV07:E217"
    told = "Conveyor 7 fault E217: motor over-temperature; let it cool."
    assert faithfulness.check_reply(line, told, **check) == []
    assert faithfulness.check_reply(line, told + " E217 means repeated jams.", **check) == [
        "code E217 repeated in reply"
    ]


ORDERED = {  # a file with the catalog's order: E217, then E108 (sorter before conveyor)
    "E217": CatalogCode(frozenset({"CV"}), "motor over-temperature", rank=0,
                        equipment_order=("CV",)),
    "E108": CatalogCode(frozenset({"CV", "SN"}), "power supply fault", rank=1,
                        equipment_order=("SN", "CV")),
}


@pytest.mark.parametrize(("reply", "expected"), [
    ("Codes for the conveyor: E217 and E108.", []),
    ("Codes for the conveyor: E108 and E217.",
     ["codes of the conveyor not in the catalog's order"]),
    ("Equipment that can raise E108: sorter and conveyor.", []),
    ("Equipment that can raise E108: Conveyor and sorter.",
     ["equipment of E108 not in the catalog's order"]),
    # a list already wrong is not also out of order (a repeat is check (b)'s)
    ("Codes for the conveyor: E108.", ["codes of the conveyor: E217 missing"]),
    ("Codes for the conveyor: E217, E108 and E217.", []),
    ("Equipment that can raise E108: conveyor, sorter and sorter.",
     ["equipment of E108: sorter repeated"]),
    # each list of a reply on its own: the first one's flag does not hide the second's order
    ("Codes for the sorter: E217. Codes for the conveyor: E108 and E217.",
     ["codes of the sorter: E108 missing", "E217 listed for the sorter, not one of its codes",
      "codes of the conveyor not in the catalog's order"]),
])
def test_lists_keep_the_catalogs_order_when_the_file_has_it(reply, expected):
    assert answer_flags(reply, ORDERED, NAMES, PHRASES) == expected


def test_a_file_without_the_catalogs_order_checks_no_order():
    # TABLE predates rank and equipment_order: any order of a right list passes
    assert flags("Codes for the conveyor: E217 and E108.") == []
    assert flags("Equipment that can raise e108: Sorter and conveyor.") == []


def test_the_catalogs_order_round_trips_through_the_bundle_file():
    from assistant.domains.warehouse.catalog import load_catalog
    from assistant.domains.warehouse.catalog_checks import code_table_from_catalog

    table = code_table_from_catalog(load_catalog().raw)
    first, e108 = next(iter(table.values())), table["E108"]
    assert first.rank == 0
    assert e108.equipment_order == ("CV", "SN", "LF", "SC", "PL", "LP", "WS", "BS")
    assert CatalogCode.from_json(e108.to_json()) == e108
    older = {key: value for key, value in e108.to_json().items()
             if key not in ("rank", "equipment_order")}
    assert CatalogCode.from_json(older).rank == -1
    assert CatalogCode.from_json(older).equipment_order == ()
