"""Tests for the corpus's variant pairs (what operators type), the catalog's aliases and the
held-out families; the canonical corpus is tested in `test_corpus.py`."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from assistant.domains.warehouse import catalog as catalog_lib
from assistant.domains.warehouse import corpus, faithfulness, faultcodes, heldout, messages
from assistant.domains.warehouse.phrasings import CANONICAL_QUESTIONS

SMALL = corpus.CorpusSizes(train=2000, valid=150, test=150)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = corpus.build_corpus(out, seed=7, sizes=SMALL)
    rows = {split: [json.loads(line) for line in (out / f"{split}.jsonl").open(encoding="utf-8")]
            for split in corpus.SPLITS}
    return out, summary, rows


def test_held_out_families_never_reach_the_corpus(built):
    _, summary, rows = built
    for split, pairs in rows.items():
        for pair in pairs:
            assert heldout.held_out_families(pair["source"]) == [], pair
            assert pair.get("family") not in heldout.HELD_OUT
        assert all(summary[split][family] == 0 for family in heldout.HELD_OUT)
    sources = " ".join(p["source"] for pairs in rows.values() for p in pairs).lower()
    assert not re.search(r"\bbelt\s*#?\s*[0-9]", sources)
    assert " / " not in sources and "_" not in sources


def test_every_trainable_family_is_in_train(built):
    _, summary, rows = built
    variants = [pair for pair in rows["train"] if pair["category"] == "variant"]
    assert all(set(pair) <= {"source", "target", "category", "qtype", "family", "canonical"}
               for pair in variants)
    families = {pair["family"] for pair in variants}
    assert families == set(heldout.trainable(heldout.FAMILIES))
    assert sum(summary["train"][family] for family in heldout.FAMILIES) == \
        summary["train"]["variant"] == SMALL.quota("train")["variant"]


def test_valid_and_test_keep_their_canonical_part_and_add_variants(built):
    _, summary, _ = built
    for split in ("valid", "test"):
        quota = SMALL.quota(split)
        assert quota["variant"] == round(getattr(SMALL, split) * SMALL.variants)
        assert sum(quota[c] for c in corpus.CANONICAL_CATEGORIES) == getattr(SMALL, split)
        assert summary[split]["variant"] == quota["variant"]


def test_variant_lines_keep_the_canonical_target_and_their_facts(built, catalog):
    _, _, rows = built
    lines = [p for pairs in rows.values() for p in pairs
             if p["category"] == "variant" and "qtype" not in p]
    assert len(lines) > 200
    for pair in lines:
        records = tuple(faultcodes.parse_record(part) for part in pair["canonical"].split(";"))
        assert faultcodes.format_line(records) == pair["canonical"]
        assert pair["target"] == messages.render_reply(records, catalog)
        assert pair["source"] != pair["canonical"]
        source = pair["source"].upper()
        for record in records:
            assert record.code in source and str(record.unit) in source, pair
            assert all(value in source for _, value in record.params), pair
        if pair["family"] == "many_records":
            assert len(records) > faultcodes.MAX_RECORDS


def test_variant_questions_keep_the_canonical_answer(built, catalog):
    _, _, rows = built
    questions = [p for pairs in rows.values() for p in pairs
                 if p["category"] == "variant" and "qtype" in p]
    assert {p["family"] for p in questions} == {"ask_casual", "ask_by_meaning", "alias_short"}
    for pair in questions:
        template = CANONICAL_QUESTIONS[pair["qtype"]]
        code = re.search(r"[A-Z][0-9]{3}", pair["canonical"])
        unit = re.search(r" on ([A-Z]{2})([0-9]{2})\?$", pair["canonical"])
        if pair["qtype"] == "codes":
            shape = re.escape(template).replace(re.escape("{name}"), "(.+)")
            name = re.fullmatch(shape, pair["canonical"])[1]
            prefix = next(p for p, n in catalog.equipment.items() if n == name)
            expected = messages.answer_question("codes", catalog, prefix=prefix)
        else:
            prefix, number = (unit[1], int(unit[2])) if unit else ("", 0)
            expected = messages.answer_question(pair["qtype"], catalog, code[0], prefix, number)
        assert pair["target"] == expected, pair
        if pair["family"] == "ask_by_meaning":
            assert catalog.entries[code[0]].meaning.lower() in pair["source"].lower()
        elif code:
            assert code[0] in pair["source"].upper()


def test_the_catalog_gives_every_equipment_type_its_aliases(catalog, raw_catalog):
    assert set(catalog.aliases) == set(catalog.equipment)
    for prefix, aliases in catalog.aliases.items():
        assert aliases[0] == catalog.equipment[prefix].lower()
        assert all(alias == alias.lower() for alias in aliases)
    every = [alias for aliases in catalog.aliases.values() for alias in aliases]
    assert len(every) == len(set(every))
    assert catalog.aliases["CV"] == ("conveyor", "conv", "belt")
    assert set(heldout.HELD_OUT_ALIASES) <= set(catalog.aliases)
    assert all(set(names) <= set(catalog.aliases[prefix])
               for prefix, names in heldout.HELD_OUT_ALIASES.items())
    settings = corpus.faithfulness_settings(catalog)
    assert settings["equipment_aliases"] == {p: list(a) for p, a in catalog.aliases.items()}


def test_catalog_problems_name_bad_aliases(raw_catalog):
    broken = {**raw_catalog, "aliases": {"CV": ["conveyor", "Belt"], "XX": ["x ray"],
                                         "SH": ["shuttle car"]}}
    problems = catalog_lib.catalog_problems(broken)
    assert any("aliases of CV: a list of lower-case names" in p for p in problems)
    assert any("unknown prefix 'XX'" in p for p in problems)
    assert any("the first must be the name 'shuttle'" in p for p in problems)
    twice = {**raw_catalog, "aliases": {"CV": ["conveyor", "conv"], "SN": ["sorter", "conv"]}}
    assert any("'conv' is given twice" in p for p in catalog_lib.catalog_problems(twice))


def test_a_catalog_without_aliases_calls_each_type_by_its_name(raw_catalog, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in raw_catalog.items() if k != "aliases"}),
                    encoding="utf-8")
    loaded = catalog_lib.load_catalog(path)
    assert loaded.aliases["AG"] == ("agv",) and loaded.aliases["SC"] == ("stacker crane",)


def test_the_bundle_file_carries_every_alias_held_out_ones_included(built):
    out, _, _ = built
    settings = json.loads((out / faithfulness.BUNDLE_FILE).read_text("utf-8"))
    assert "belt" in settings["equipment_aliases"]["CV"]
    assert settings["equipment_aliases"]["AG"][0] == "agv"


def test_one_record_lines_leave_out_what_the_runtime_splits(tmp_path):
    from assistant.domains.warehouse import segment
    from assistant.domains.warehouse.phrasings import SEPARATORS

    sizes = corpus.CorpusSizes(train=1500, valid=100, test=100, one_record_lines=True)
    summary = corpus.build_corpus(tmp_path, seed=3, sizes=sizes)
    train = [json.loads(line) for line in (tmp_path / "train.jsonl").open(encoding="utf-8")]
    assert summary["train"]["multi"] == 0 and summary["train"]["total"] == len(train)
    plain_quota = corpus.CorpusSizes(train=1500).quota("train")
    assert sizes.quota("train") == {**plain_quota, "multi": 0,
                                    "single": plain_quota["single"] + plain_quota["multi"]}
    split_up = [p["source"] for p in train if "context" not in p
                and segment.split_line(p["source"]) is not None]
    assert split_up == []
    families = {p["family"] for p in train if p["category"] == "variant"}
    assert not families & {*SEPARATORS, "many_records"}
    assert families  # the other families are still there
    whole = [p for p in train if p["category"] == "variant" and p["family"].startswith("alias")
             and p["canonical"].count(";") >= 1]
    assert whole  # several records named by an alias: the runtime decodes them whole
    # valid and test do not depend on the option: their canonical part is that of a corpus
    # without it
    plain = corpus.build_corpus(tmp_path / "plain", seed=3,
                                sizes=corpus.CorpusSizes(train=1500, valid=100, test=100))
    for split in ("valid", "test"):
        assert summary[split]["total"] == plain[split]["total"]
