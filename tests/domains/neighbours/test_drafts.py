"""`draft_below` on a neighbours bundle: a reply the model scores below it is the nearest
train pair's target, flagged with the model's reply, in the runtime and in the export alike;
`python -m training calibrate-drafts` chooses it on validation pairs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.core import constants
from assistant.runtime import Assistant
from assistant.runtime.drafts import low_score_flag
from assistant.serving.export import export_options, export_saved_model
from tests.domains.neighbours.support import TEXTS
from tests.serving.support import SERVE_CHILD, run_script
from training import cli

ANSWERED = [text for text in TEXTS if text.strip()]


@pytest.fixture
def assistant(neighbours_bundle):
    return Assistant.load(neighbours_bundle, cache_size=0)


def middle_score(assistant, **options) -> float:
    """A threshold with model replies on both sides of it."""
    scores = sorted(r.score for r in assistant.reply_batch(ANSWERED, draft_below=None,
                                                           **options))
    assert scores[0] < scores[-1]
    return (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2


def test_replies_scored_below_the_threshold_are_the_neighbour_s_target(assistant):
    below = middle_score(assistant)
    model = assistant.reply_batch(ANSWERED, draft_below=None)
    drafted = assistant.reply_batch(ANSWERED, draft_below=below)
    drafts = assistant.domain.index.replies(ANSWERED)

    low = [r.score < below for r in model]
    assert 0 < sum(low) < len(low)
    for reply, alone, draft, is_low in zip(drafted, model, drafts, low, strict=True):
        if is_low:
            assert (reply.text, reply.flags) == (draft, (low_score_flag(alone.score, below,
                                                                        alone.text),))
            # the draft heads the n-best list in the model reply's place (the flag names it)
            assert [a.text for a in reply.alternatives] == [draft]
        else:
            assert (reply.text, reply.flags) == (alone.text, ())
        assert reply.score == alone.score


def test_a_drafted_n_best_list_keeps_its_length(assistant):
    model = assistant.reply_batch(ANSWERED, draft_below=None, n_best=3)
    drafted = assistant.reply_batch(ANSWERED, draft_below=0.0, n_best=3)
    for reply, alone in zip(drafted, model, strict=True):
        assert [a.text for a in reply.alternatives] == [
            reply.text, *(a.text for a in alone.alternatives[1:])]
        assert len(reply.alternatives) == 3


def test_the_flag_names_the_model_s_reply():
    assert low_score_flag(-1.23456, -0.5, "NAME 0045") == (
        "score -1.235 below -0.500: answered with the draft, not 'NAME 0045'")


def test_no_drafts_when_off_when_sampling_or_for_an_empty_text(assistant):
    everything = 0.0  # every score is a log-probability, below 0
    assert all(not r.flags for r in assistant.reply_batch(ANSWERED, draft_below=None))
    sampled = assistant.reply_batch(ANSWERED, draft_below=everything, strategy="sample")
    assert all(not r.flags for r in sampled)
    empty = assistant.reply_batch(["", "U+0045"], draft_below=everything)
    assert empty[0].error is not None and empty[1].flags


def test_the_cache_keeps_drafted_and_model_replies_apart(neighbours_bundle):
    cached = Assistant.load(neighbours_bundle)  # with the reply cache
    fresh = Assistant.load(neighbours_bundle, cache_size=0)
    def seen(replies):
        return [(r.text, r.score, r.flags, [a.text for a in r.alternatives]) for r in replies]

    for below in (None, 0.0, None, 0.0):
        assert seen(cached.reply_batch(ANSWERED, draft_below=below)) == \
            seen(fresh.reply_batch(ANSWERED, draft_below=below))
    assert all(reply.flags for reply in cached.reply_batch(ANSWERED, draft_below=0.0))


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "low", True])
def test_a_threshold_that_is_not_a_finite_number_is_one_line(assistant, value):
    with pytest.raises(ValueError, match=r"draft_below must be a finite number or null"):
        assistant.reply("U+0045", draft_below=value)


@pytest.mark.slow
def test_the_export_drafts_the_same_replies(assistant, tmp_path):
    below = middle_score(assistant, strategy="greedy")
    assistant.defaults = {**assistant.defaults, "draft_below": below}
    options = export_options(assistant.defaults, {"strategy": "greedy"})
    result = export_saved_model(assistant, tmp_path / "served", options, jit_compile=False,
                                max_beam_width=1)
    served = run_script(SERVE_CHILD, {"export": str(result.path), "texts": TEXTS}, tmp_path)

    expected = assistant.reply_batch(TEXTS, strategy="greedy")
    assert any(reply.flags for reply in expected) and not all(r.flags for r in expected)
    assert served["reply"] == [reply.text for reply in expected]
    scores = [r.score if r.error is None else float("-inf") for r in expected]
    np.testing.assert_allclose(served["score"], scores, rtol=1e-5)


def test_calibration_writes_the_chosen_threshold_into_the_bundle(neighbours_bundle, tmp_path,
                                                                 capsys):
    bundle = tmp_path / "model"
    shutil.copytree(neighbours_bundle, bundle)
    assistant = Assistant.load(bundle, cache_size=0)
    model = assistant.reply_batch(ANSWERED, draft_below=None)
    drafts = assistant.domain.index.replies(ANSWERED)
    # references the drafts match: drafting every unsure reply raises chrF
    valid = bundle.parent / "valid.jsonl"
    valid.write_text("".join(json.dumps({"source": s, "target": d}) + "\n"
                             for s, d in zip(ANSWERED, drafts, strict=True)), encoding="utf-8")

    assert cli.main(["calibrate-drafts", "--model", str(bundle), "--data", str(valid)]) == 0

    config = json.loads((bundle / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    below = config["decoding"]["draft_below"]
    assert below > min(r.score for r in model)
    assert Assistant.load(bundle).defaults["draft_below"] == below
    assert f"draft_below: {below:.4f}" in capsys.readouterr().out


def test_calibration_leaves_a_bundle_without_drafts_alone(bundle, tmp_path, capsys):
    copy = tmp_path / "model"
    shutil.copytree(bundle, copy)
    before = (copy / constants.CONFIG_FILE).read_text(encoding="utf-8")
    (tmp_path / "valid.tsv").write_text("a\tb\n", encoding="utf-8")

    assert cli.main(["calibrate-drafts", "--model", str(copy), "--data",
                     str(tmp_path / "valid.tsv")]) == 0

    assert (copy / constants.CONFIG_FILE).read_text(encoding="utf-8") == before
    assert "its domain has no drafts; config.json unchanged" in capsys.readouterr().out
