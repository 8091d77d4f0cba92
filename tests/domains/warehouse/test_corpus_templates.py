"""Tests for the fault catalog and the reply templates the corpus is built from."""

from __future__ import annotations

import re

import pytest

from assistant.domains.warehouse import catalog as catalog_lib
from assistant.domains.warehouse import faultcodes, messages
from assistant.domains.warehouse.faultcodes import FaultRecord

# --- catalog schema ---------------------------------------------------------------------


def test_catalog_schema(raw_catalog):
    equipment = raw_catalog["equipment"]
    codes = raw_catalog["codes"]
    assert len(equipment) >= 10
    assert len(codes) >= 60
    assert len({entry["code"] for entry in codes}) == len(codes)
    for entry in codes:
        assert set(entry) >= {"code", "equipment", "severity", "meaning", "action", "params"}
        assert re.fullmatch(r"[CEWI][0-9]{3}", entry["code"])
        assert entry["severity"] in ("info", "warning", "fault", "critical")
        assert entry["code"][0] == catalog_lib.SEVERITY_LETTERS[entry["severity"]]
        assert entry["equipment"] and set(entry["equipment"]) <= set(equipment)
        assert entry["meaning"].strip() and entry["action"].strip()
        for param in entry["params"]:
            assert set(param) >= {"name", "unit", "range", "phrase"}
            low, high = param["range"]
            assert 0 <= low < high
            assert "{value}" in param["phrase"]


def test_catalog_is_realistic_enough(raw_catalog):
    codes = raw_catalog["codes"]
    used = {prefix for entry in codes for prefix in entry["equipment"]}
    assert used == set(raw_catalog["equipment"])  # every equipment type has codes
    assert sum(len(entry["equipment"]) > 1 for entry in codes) >= 20  # shared codes
    assert {entry["severity"] for entry in codes} == set(catalog_lib.SEVERITIES)
    units = {param["unit"] for entry in codes for param in entry["params"]}
    assert {"°C", "%", "kg", "jams"} <= units


def test_catalog_problems_accepts_the_catalog_and_names_errors(raw_catalog):
    assert catalog_lib.catalog_problems(raw_catalog) == []
    broken = {
        "equipment": {"CV": "conveyor"},
        "codes": [
            {"code": "E217", "equipment": ["XX"], "severity": "bad", "meaning": "m",
             "action": "a", "params": [{"name": "T", "unit": "°C", "range": [9, 1],
                                        "phrase": "at {value}"}]},
            {"code": "W1", "equipment": ["CV"], "severity": "warning", "meaning": "m",
             "action": "a", "params": []},
            {"code": "E300", "equipment": ["CV"]},
        ],
    }  # fmt: skip

    problems = catalog_lib.catalog_problems(broken)

    assert any("severity 'bad'" in p for p in problems)
    assert any("unknown prefix 'XX'" in p for p in problems)
    assert any("range must be" in p for p in problems)
    assert any("must show the unit '°C'" in p for p in problems)
    assert any("code must be a letter and three digits" in p for p in problems)
    assert any("missing severity, meaning, action, params" in p for p in problems)


def test_load_catalog_rejects_an_invalid_file(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("equipment: {}\ncodes: []\n", encoding="utf-8")

    with pytest.raises(ValueError, match="invalid catalog"):
        catalog_lib.load_catalog(path)


# --- reply templates --------------------------------------------------------------------


def _reply(line: str, catalog) -> str:
    return messages.render_reply(faultcodes.parse_line(line), catalog)


def test_single_record_message(catalog):
    assert _reply("cv07:e217 t=85.0", catalog) == (
        "Conveyor 7 fault E217: motor over-temperature, motor at 85.0 °C; stop the conveyor "
        "and let the motor cool before restarting."
    )


def test_missing_parameter_drops_its_clause_and_unknown_parameter_is_ignored(catalog):
    assert _reply("SN2:W301", catalog) == (
        "Sorter 2 warning W301: repeated jams; check the diverter and guide rails for debris."
    )
    assert _reply("SN2:W301 X=5 N=12", catalog) == (
        "Sorter 2 warning W301: repeated jams, 12 jams in the last hour; check the diverter "
        "and guide rails for debris."
    )


def test_two_parameters_follow_catalog_order(catalog):
    assert _reply("WS4:E801 D=12 W=3.25", catalog) == (
        "Weigh scale 4 fault E801: weight out of tolerance, weight 3.25 kg and off by 12 %; "
        "send the item to the audit station."
    )


def test_records_are_ordered_by_severity_then_input_order(catalog):
    reply = _reply("DD3:I704 M=20; CV7:W205; AG12:C101 B=4; SN2:E201", catalog)

    assert [sentence.split(":")[0] for sentence in reply.split(". ")] == [
        "AGV 12 critical C101",
        "Sorter 2 fault E201",
        "Conveyor 7 warning W205",
        "Dock door 3 info I704",
    ]


def test_equal_severities_keep_input_order(catalog):
    reply = _reply("CV9:W205; SN2:W301; CV1:W205", catalog)

    assert [sentence.split(" warning")[0] for sentence in reply.split(". ")] == [
        "Conveyor 9",
        "Sorter 2",
        "Conveyor 1",
    ]


def test_unknown_codes_are_reported_to_maintenance_and_sort_like_faults(catalog):
    reply = _reply("CV07:W205 T=70; CV07:E999 T=5; DD4:E217; XQ3:C101", catalog)

    assert reply == (
        "Conveyor 7 reported unknown code E999; report it to maintenance. "
        "Dock door 4 reported code E217, which is not valid for this equipment; report it to "
        "maintenance. "
        "Equipment XQ 3 is not in the catalog; report code C101 to maintenance. "
        "Conveyor 7 warning W205: motor running hot, motor at 70 °C; check the motor fan and "
        "reduce the load."
    )
    assert _reply("SN5:E999; AG1:C101", catalog).startswith("AGV 1 critical C101")


def test_every_code_gives_a_short_regular_message(catalog):
    for code, entry in catalog.entries.items():
        params = tuple((p.name, str(p.high)) for p in entry.params)
        for prefix in entry.equipment:
            message = messages.render_record(FaultRecord(prefix, 7, code, params), catalog)
            assert 12 <= len(message.split()) <= 25, message
            assert message.endswith(".") and message.count(". ") == 0, message
            assert f" 7 {entry.severity} {code}: " in message


@pytest.mark.parametrize(
    ("qtype", "kwargs", "answer"),
    [
        ("meaning", {"code": "E217"}, "E217 means motor over-temperature."),
        ("action", {"code": "E217"},
         "To fix E217, stop the unit and let the motor cool before restarting."),
        ("action_unit", {"code": "E217", "prefix": "SN", "unit": 4},
         "To fix E217 on Sorter 4, stop the sorter and let the motor cool before restarting."),
        ("action_unit", {"code": "E217", "prefix": "DD", "unit": 4},
         "E217 is not valid for Dock door 4; report it to maintenance."),
        ("severity", {"code": "I704"}, "I704 is an info code."),
        ("severity", {"code": "C101"}, "C101 is a critical code."),
        ("equipment", {"code": "W301"}, "Equipment that can raise W301: conveyor and sorter."),
        ("codes", {"prefix": "CH"},
         "Codes for the charger: C103, W104, E105, E106, I107, C109, W905 and I908."),
        ("meaning", {"code": "E999"},
         "E999 is not in the fault catalog; report it to maintenance."),
    ],
)  # fmt: skip
def test_answers(catalog, qtype, kwargs, answer):
    assert messages.answer_question(qtype, catalog, **kwargs) == answer
