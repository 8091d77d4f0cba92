"""The corpus's follow-up pairs: kinds, held-out phrasings, and the other pairs untouched."""

from __future__ import annotations

import json
import re

import pytest

from assistant.core.tokenizer import join_context, split_context
from assistant.domains.warehouse import context, corpus, messages
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.followup_phrasings import PRONOUN_PHRASINGS, SELECT_PHRASINGS

SIZES = dict(train=600, valid=100, test=200)


def build(out, followups: float) -> dict[str, list[str]]:
    corpus.build_corpus(out, seed=5, sizes=corpus.CorpusSizes(**SIZES, followups=followups))
    return {split: (out / f"{split}.jsonl").read_text("utf-8").splitlines()
            for split in corpus.SPLITS}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return (build(tmp_path_factory.mktemp("without"), 0.0),
            build(tmp_path_factory.mktemp("with"), 0.3))


@pytest.fixture(scope="module")
def followups(files):
    return {split: [row for row in map(json.loads, lines)
                    if row["category"] in corpus.FOLLOWUP_CATEGORIES]
            for split, lines in files[1].items()}


def test_the_other_pairs_stay_byte_for_byte_in_their_order(files):
    without, with_followups = files
    for split in corpus.SPLITS:
        kept = [line for line in with_followups[split] if '"category": "followup_' not in line]
        assert kept == without[split]
        assert len(with_followups[split]) - len(kept) == round(SIZES[split] * 0.3)


def test_a_source_is_its_context_and_turn_joined(followups):
    for rows in followups.values():
        for row in rows:
            assert row["source"] == join_context(row["context"], row["turn"])
            assert split_context(row["source"]) == (row["context"], row["turn"])
            assert context.parse_context(row["context"]).text == row["context"]  # canonical
            assert {row["followup"] for row in rows} == {"pronoun", "select", "switch"}


def test_each_kind_has_the_subjects_it_says(followups, catalog):
    reader = Detector(catalog.equipment)
    for row in (row for rows in followups.values() for row in rows):
        kept = context.parse_context(row["context"])
        ambiguous = row["category"] == "followup_ambiguous"
        if row["followup"] == "pronoun":
            subjects = kept.subjects()
        elif ambiguous:  # "what about the conveyor?" after two conveyors
            types = reader.named_prefixes(row["turn"])
            subjects = tuple(record for record in kept.records if record.prefix in types)
        elif row["followup"] == "select":  # the record the chat's `remember` picks
            subjects = context.remember(kept, row["turn"], reader).subjects()
            assert row["target"] == messages.render_record(subjects[0], catalog), row
        else:
            continue
        assert (len(subjects) > 1) == ambiguous, row
        if ambiguous:
            assert row["target"] == context.ask_which(subjects, catalog.equipment)


def test_valid_and_test_refer_back_in_phrasings_of_their_own(followups):
    for split, rows in followups.items():
        own = {t for table in (PRONOUN_PHRASINGS, SELECT_PHRASINGS)
               for phrasings in table.values() for t in phrasings[split]}
        for row in rows:
            assert (row["followup"] == "switch") == ("phrasing" not in row)
            assert row.get("phrasing", next(iter(own))) in own, row
            if split != "train" and "phrasing" in row:  # kept as written (case and "?" aside)
                assert _written_as(row["phrasing"], row["turn"]), row
    assert {row["category"] for row in followups["test"]} == set(corpus.FOLLOWUP_CATEGORIES)


def test_follow_up_shares_must_be_consistent():
    with pytest.raises(ValueError, match="followup_shares 2 numbers >= 0 that sum to 1"):
        corpus.CorpusSizes(followup_shares=(0.5, 0.5))
    with pytest.raises(ValueError, match="followups must be >= 0"):
        corpus.CorpusSizes(followups=-0.1)
    assert corpus.CorpusSizes(test=1000, followups=0.2).followup_quota("test") == {
        "followup_refer": 90, "followup_switch": 60, "followup_ambiguous": 50}


def _written_as(phrasing: str, turn: str) -> bool:
    pattern = re.sub(r"\\{\w+\\}", ".+", re.escape(phrasing.rstrip("?")))
    return re.fullmatch(pattern + r"\??", turn, flags=re.IGNORECASE) is not None
