"""Tests for the fault catalog, the reply templates and the corpus builder."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assistant.domains.warehouse import catalog as catalog_lib
from assistant.domains.warehouse import corpus, faithfulness, faultcodes, messages
from assistant.domains.warehouse.faultcodes import FaultRecord

SMALL = corpus.CorpusSizes(train=1500, valid=200, test=300)
FAULT_CATEGORIES = ("single", "multi", "unknown")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw_catalog():
    return yaml.safe_load(catalog_lib.DEFAULT_CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog():
    return catalog_lib.load_catalog()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = corpus.build_corpus(out, seed=3, sizes=SMALL)
    splits = {
        split: [
            json.loads(line) for line in (out / f"{split}.jsonl").read_text("utf-8").splitlines()
        ]
        for split in corpus.SPLITS
    }
    return out, summary, splits


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


def test_phrasings_per_question_type():
    assert set(corpus.PHRASINGS) == set(messages.QUESTION_TYPES)
    for phrasings in corpus.PHRASINGS.values():
        assert sum(len(p) for p in phrasings.values()) >= 6
        assert len(phrasings["test"]) == 2 and len(phrasings["valid"]) >= 1


def test_smalltalk_has_one_digit_free_reply_per_prompt():
    pairs = corpus.load_smalltalk()
    keys = [re.sub(r"[\s?!.]+$", "", prompt.lower()) for prompt, _ in pairs]

    assert len(pairs) >= 100
    assert len(set(keys)) == len(keys)
    assert not any(re.search(r"[0-9]", prompt + reply) for prompt, reply in pairs)
    assert dict(pairs)["Who are you?"] == corpus.HOUSE_SMALLTALK[0][1]
    assert not set(keys) & corpus.SMALLTALK_EXCLUDED


# --- the built corpus -------------------------------------------------------------------


def test_summary_matches_files_and_sizes(built):
    out, summary, splits = built
    for split, rows in splits.items():
        assert summary[split]["total"] == len(rows) == getattr(SMALL, split)
        for category in corpus.CATEGORIES:
            assert summary[split][category] == sum(r["category"] == category for r in rows) > 0
        for row in rows:
            assert set(row) <= {"source", "target", "category", "qtype"}
            assert ("qtype" in row) == (row["category"] == "prompt")
    assert not list(out.glob(".*.tmp"))


def test_build_is_deterministic_across_processes(built, tmp_path):
    out, _, _ = built
    script = (
        "import sys; from pathlib import Path; from training import corpus; "
        "corpus.build_corpus(Path(sys.argv[1]), seed=3, "
        f"sizes=corpus.CorpusSizes(train={SMALL.train}, valid={SMALL.valid}, test={SMALL.test}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env, cwd=REPO)

    for split in corpus.SPLITS:
        name = f"{split}.jsonl"
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_another_seed_gives_another_corpus(built, tmp_path):
    out, _, _ = built
    corpus.build_corpus(tmp_path, seed=4, sizes=SMALL)

    assert (tmp_path / "train.jsonl").read_bytes() != (out / "train.jsonl").read_bytes()


def test_no_source_is_in_two_splits(built):
    _, _, splits = built
    sources = {split: {r["source"] for r in rows} for split, rows in splits.items()}

    assert not sources["train"] & sources["valid"]
    assert not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]
    assert len(sources["valid"]) == len(splits["valid"])
    assert len(sources["test"]) == len(splits["test"])


def test_held_out_numbers_never_reach_train(built):
    _, _, splits = built
    seen = {split: _numbers(rows) for split, rows in splits.items()}

    assert all(corpus.number_split(n) == "train" for n in seen["train"])
    for split in ("valid", "test"):
        assert {corpus.number_split(n) for n in seen[split]} == {"train", split}
    test_units = {
        r.unit for r in _records(splits["test"]) if corpus.number_split(str(r.unit)) == "test"
    }
    train_units = {r.unit for r in _records(splits["train"])}
    assert test_units and not test_units & train_units


def test_every_held_out_fault_line_has_something_unseen(built):
    _, _, splits = built
    train_rows = [r for r in splits["train"] if r["category"] in FAULT_CATEGORIES]
    train_numbers = _numbers(train_rows)
    train_codes = {r.code for r in _records(train_rows)}
    train_combos = {_combo(faultcodes.parse_line(r["source"])) for r in train_rows}
    for split in ("valid", "test"):
        for row in splits[split]:
            if row["category"] not in FAULT_CATEGORIES:
                continue
            records = faultcodes.parse_line(row["source"])
            unseen_numbers = set(_numbers([row])) - train_numbers
            unseen_codes = {r.code for r in records} - train_codes
            unseen_combo = len(records) > 1 and _combo(records) not in train_combos
            assert unseen_numbers or unseen_codes or unseen_combo, row


def test_test_combinations_are_absent_from_train(built):
    _, _, splits = built
    combos = {
        split: {
            _combo(faultcodes.parse_line(r["source"])) for r in rows if r["category"] == "multi"
        }
        for split, rows in splits.items()
    }

    assert combos["test"] and not combos["test"] & combos["train"]
    assert not combos["valid"] & combos["train"]


def test_held_out_phrasings_only_in_their_split(built):
    _, _, splits = built
    for qtype, phrasings in corpus.PHRASINGS.items():
        for held_out in ("valid", "test"):
            patterns = [_phrasing_regex(p) for p in phrasings[held_out]]
            for split, rows in splits.items():
                hits = [r for r in rows if r.get("qtype") == qtype
                        and any(p.fullmatch(r["source"]) for p in patterns)]  # fmt: skip
                assert bool(hits) == (split == held_out), (qtype, held_out, split)


def test_categories_and_targets_follow_the_templates(built, catalog):
    _, _, splits = built
    for rows in splits.values():
        for row in rows:
            fault = row["category"] in FAULT_CATEGORIES
            assert faultcodes.looks_like_fault_line(row["source"]) == fault, row
            if not fault:
                continue
            records = faultcodes.parse_line(row["source"])
            assert row["target"] == messages.render_reply(records, catalog)
            unknown = any(r.code not in _valid_codes(r, catalog) for r in records)
            expected = "unknown" if unknown else "single" if len(records) == 1 else "multi"
            assert row["category"] == expected, row
            assert len(row["target"]) <= corpus.MAX_TARGET_CHARS


def test_targets_are_ordered_by_severity(built, catalog):
    _, _, splits = built
    words = {severity: rank for rank, severity in enumerate(catalog_lib.SEVERITIES)}
    multi = [r for rows in splits.values() for r in rows if r["category"] == "multi"]
    for row in multi:
        found = re.findall(r" (critical|fault|warning|info) [A-Z][0-9]{3}: ", row["target"])
        ranks = [words[severity] for severity in found]
        assert len(found) == len(faultcodes.parse_line(row["source"]))
        assert ranks == sorted(ranks), row["target"]


def test_unknown_lines_mention_maintenance(built):
    _, _, splits = built
    for row in splits["train"]:
        if row["category"] == "unknown":
            assert "to maintenance." in row["target"]


def test_every_target_is_faithful_to_its_source(built, raw_catalog):
    out, _, splits = built
    settings = json.loads((out / faithfulness.BUNDLE_FILE).read_text("utf-8"))
    assert settings["equipment_names"] == raw_catalog["equipment"]
    assert settings["message_phrases"] == messages.MESSAGE_PHRASES
    table = faithfulness.code_table_from_catalog(raw_catalog)
    assert settings["code_table"] == {code: entry.to_json() for code, entry in table.items()}
    check = faithfulness.load_checker(out / faithfulness.BUNDLE_FILE)  # every check on
    for rows in splits.values():
        for row in rows:
            assert check(row["source"], row["target"]) == [], row


def test_train_covers_every_code_and_digit(built, catalog):
    _, _, splits = built
    train = splits["train"]
    text = " ".join(r["source"] for r in train)
    assert set("0123456789") <= set(text)
    targets = " ".join(r["target"] for r in train)
    assert all(code in targets for code in catalog.entries)


def test_sources_vary_but_targets_are_canonical(built):
    _, _, splits = built
    sources = [r["source"] for r in splits["train"] if r["category"] in FAULT_CATEGORIES]
    assert any(s != faultcodes.canonicalize(s) for s in sources)
    assert any(re.match(r"\s*[a-z]{2}", s) for s in sources)
    assert any(re.match(r"\s*[A-Za-z]{2}0[1-9]:", s) for s in sources)
    assert any(re.match(r"\s*[A-Za-z]{2}[1-9]:", s) for s in sources)


def test_register_adds_build_corpus_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    corpus.register(subparsers)
    args = parser.parse_args(
        ["build-corpus", "--out", str(tmp_path), "--seed", "1", "--train", "300",
         "--valid", "50", "--test", "60"]
    )  # fmt: skip

    assert args.needs_tensorflow is False
    assert args.handler(args) == 0
    output = capsys.readouterr().out
    assert "train" in output and "smalltalk" in output and "300" in output
    assert len((tmp_path / "valid.jsonl").read_text("utf-8").splitlines()) == 50


def test_sizes_must_be_consistent():
    with pytest.raises(ValueError, match="sum to 1"):
        corpus.CorpusSizes(single=0.9)
    with pytest.raises(ValueError, match=">= 0"):
        corpus.CorpusSizes(train=-1)


def _records(rows) -> list[FaultRecord]:
    return [
        record
        for row in rows
        if row["category"] in FAULT_CATEGORIES
        for record in faultcodes.parse_line(row["source"])
    ]


def _numbers(rows) -> set[str]:
    return {n for row in rows for n in faithfulness.extract_numbers(row["source"])}


def _combo(records) -> tuple[str, ...]:
    return tuple(sorted(f"{r.prefix}:{r.code}" for r in records))


def _valid_codes(record: FaultRecord, catalog) -> set[str]:
    return set(catalog.codes_for(record.prefix)) if record.prefix in catalog.equipment else set()


def _phrasing_regex(phrasing: str) -> re.Pattern:
    pattern = re.escape(phrasing.rstrip("?"))
    for field, value in (("code", r"[A-Za-z][0-9]{3}"), ("eq", r".+"), ("name", r".+")):
        pattern = pattern.replace(re.escape("{" + field + "}"), value)
    return re.compile(pattern + r"\??", re.IGNORECASE)
