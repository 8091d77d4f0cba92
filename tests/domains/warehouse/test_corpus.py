"""Tests for the corpus builder; the catalog and the reply templates are tested in
`test_corpus_templates.py`, the variant pairs in `test_corpus_variants.py`."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core.tokenizer import split_context
from assistant.domains.warehouse import catalog as catalog_lib
from assistant.domains.warehouse import corpus, faithfulness, faultcodes, messages, segment
from assistant.domains.warehouse.faultcodes import FaultRecord
from assistant.runtime.domain import DOMAIN_MANIFEST

SMALL = corpus.CorpusSizes(train=1500, valid=200, test=300)
FAULT_CATEGORIES = ("single", "multi", "unknown")
REPO = Path(__file__).resolve().parents[3]


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
        assert summary[split]["total"] == len(rows) == (
            sum(SMALL.quota(split).values()) + sum(SMALL.followup_quota(split).values()))
        canonical = [r for r in rows if r["category"] in corpus.CANONICAL_CATEGORIES]
        assert len(canonical) == (SMALL.train - SMALL.quota("train")["variant"]
                                  if split == "train" else getattr(SMALL, split))
        for category in (*corpus.CATEGORIES, *corpus.FOLLOWUP_CATEGORIES):
            assert summary[split][category] == sum(r["category"] == category for r in rows) > 0
        for row in canonical:
            assert set(row) <= {"source", "target", "category", "qtype"}
            assert ("qtype" in row) == (row["category"] == "prompt")
    assert not list(out.glob(".*.tmp"))


def test_build_is_deterministic_across_processes(built, tmp_path):
    out, _, _ = built
    script = (
        "import sys; from pathlib import Path; "
        "from assistant.domains.warehouse import corpus; "
        "corpus.build_corpus(Path(sys.argv[1]), seed=3, "
        f"sizes=corpus.CorpusSizes(train={SMALL.train}, valid={SMALL.valid}, test={SMALL.test}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env, cwd=REPO)

    names = [f"{split}.jsonl" for split in corpus.SPLITS]
    names += [faithfulness.BUNDLE_FILE, segment.RECORD_ORDER_FILE, DOMAIN_MANIFEST]
    for name in names:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


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
        held_out = [row for row in splits[split] if row["category"] in FAULT_CATEGORIES]
        assert len(held_out) >= getattr(SMALL, split) // 2, split
        for row in held_out:
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
            if row["category"] not in corpus.CANONICAL_CATEGORIES:  # see test_corpus_variants.py
                continue  # and test_followups.py
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
    _, summary, splits = built
    words = {severity: rank for rank, severity in enumerate(catalog_lib.SEVERITIES)}
    multi = [r for rows in splits.values() for r in rows if r["category"] == "multi"]
    assert len(multi) == sum(summary[split]["multi"] for split in corpus.SPLITS) >= 100
    for row in multi:
        found = re.findall(r" (critical|fault|warning|info) [A-Z][0-9]{3}: ", row["target"])
        ranks = [words[severity] for severity in found]
        assert len(found) == len(faultcodes.parse_line(row["source"]))
        assert ranks == sorted(ranks), row["target"]


def test_unknown_lines_mention_maintenance(built):
    _, summary, splits = built
    unknown = [row for row in splits["train"] if row["category"] == "unknown"]
    assert len(unknown) == summary["train"]["unknown"] >= 100
    for row in unknown:
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
        for row in rows:  # variants and follow-ups (checked in their context) included
            context, turn = split_context(row["source"])
            assert check(turn, row["target"], context or "") == [], row


def test_domain_files_name_the_warehouse_and_hold_the_record_order(built, catalog):
    out, _, _ = built
    manifest = json.loads((out / DOMAIN_MANIFEST).read_text("utf-8"))
    settings = json.loads((out / faithfulness.BUNDLE_FILE).read_text("utf-8"))
    order = segment.load_record_order(out)

    assert manifest == {"name": "warehouse",
                        "files": [faithfulness.BUNDLE_FILE, segment.RECORD_ORDER_FILE]}
    assert segment.RECORD_ORDER_KEY not in settings  # the order has a file of its own
    assert order == corpus.record_order(catalog)
    assert order.order(["CV7:W205", "SN2:E201", "AG1:C101", "XQ3:C101"]) == [2, 1, 3, 0]


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
         "--valid", "50", "--test", "60", "--followups", "0.2"]
    )  # fmt: skip

    assert args.needs_tensorflow is False
    assert args.handler(args) == 0
    output = capsys.readouterr().out
    assert "train" in output and "smalltalk" in output and "ambiguous" in output
    assert "360" in output  # 300 pairs and 60 follow-ups
    assert len((tmp_path / "valid.jsonl").read_text("utf-8").splitlines()) == 50 + 10 + 10
    assert "build-realistic" in subparsers.choices
    options = parser.parse_args(["build-corpus", "--out", "x", "--codes-weight", "5",
                                 "--one-record-lines"])
    assert (options.codes_weight, options.one_record_lines) == (5.0, True)


def test_codes_weight_sets_how_often_train_asks_for_a_code_list(tmp_path):
    counts = []
    for weight in (1.0, 5.0):
        sizes = corpus.CorpusSizes(train=600, valid=20, test=20, followups=0,
                                   codes_weight=weight)
        corpus.build_corpus(tmp_path / str(weight), seed=2, sizes=sizes)
        rows = [json.loads(line) for line in (tmp_path / str(weight) / "train.jsonl").open()]
        prompts = [row for row in rows if row["category"] == "prompt"]
        counts.append(sum(row["qtype"] == "codes" for row in prompts) / len(prompts))
    # six question types: a sixth of the questions at weight 1, half at weight 5
    assert counts[0] < 0.25 and counts[1] > 0.4


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
