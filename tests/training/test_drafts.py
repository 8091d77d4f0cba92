"""Choosing `draft_below` (`training.drafts.choose`) on deterministic replies."""

from __future__ import annotations

import pytest

from training.drafts import Choice, choose

TARGETS = ["ALPHA ONE", "BETA TWO", "GAMMA THREE", "DELTA FOUR"]


def test_the_low_scored_replies_are_drafted_when_that_raises_chrf():
    replies = ["ALPHA ONE", "BETA TWO", "XQ", "ZZ"]  # the model: right when sure
    scores = [-0.1, -0.2, -3.0, -4.0]
    drafts = ["ALPHA ONX", "BETA TWX", "GAMMA THREX", "DELTA FOUX"]  # retrieval: near

    choice = choose(replies, scores, drafts, TARGETS)

    assert -3.0 < choice.draft_below <= -0.2  # drafts the two unsure replies only
    assert (choice.drafted, choice.exact, choice.model_exact) == (2, 2, 2)
    assert choice.chrf > choice.model_chrf
    assert choice.describe().startswith(f"draft_below: {choice.draft_below:.4f} (2 of 4 ")


def test_a_threshold_that_loses_exact_replies_is_not_chosen():
    # drafting the low-scored reply would raise chrF (three near drafts) but lose an exact one
    replies = ["ALPHA ONE", "B", "G", "D"]
    scores = [-5.0, -0.1, -0.2, -0.3]
    drafts = ["ALPHA ONX", "BETA TWX", "GAMMA THREX", "DELTA FOUX"]

    choice = choose(replies, scores, drafts, TARGETS)

    assert choice.draft_below is None  # every threshold that drafts "ALPHA ONE" loses it
    assert (choice.model_exact, choice.exact) == (1, 1)


def test_no_threshold_when_drafts_never_help():
    replies = list(TARGETS)
    choice = choose(replies, [-1.0, -2.0, -3.0, -4.0], ["X", "Y", None, "W"], TARGETS)
    assert choice == Choice(None, 4, 0, choice.model_chrf, choice.model_chrf, 4, 4)
    assert choice.describe().startswith("draft_below: off (no threshold raises")


def test_inputs_without_a_draft_keep_the_model_s_reply():
    choice = choose(["XQ", "ZZ"], [-3.0, -4.0], [None, "BETA TWO"], TARGETS[:2])
    assert choice.drafted == 1
    assert choice.exact == 1


@pytest.mark.parametrize("scores", [[float("-inf")] * 2, []])
def test_no_finite_score_chooses_nothing(scores):
    n = len(scores)
    choice = choose(["a"] * n, scores, ["b"] * n, ["b"] * n)
    assert choice.draft_below is None
