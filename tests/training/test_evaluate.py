"""Evaluation: scores per category, the domain's counters, the compare ladder."""

import argparse

import pytest
import sacrebleu

from assistant.cli import args as cli
from assistant.domains.warehouse import WarehouseDomain
from assistant.runtime.options import RUNTIME_OPTIONS
from training.data import Pair
from training.evaluate import ALL, _setting_name, compare_ladder, score_replies

WAREHOUSE = WarehouseDomain()

PAIRS = [
    Pair("CV07:E217 T=85", "Conveyor 7 fault E217: motor at 85 °C.", "single"),
    Pair("SN02:W301 N=12", "Sorter 2 warning W301: 12 jams.", "single"),
    Pair("what does E217 mean?", "E217 means motor over-temperature.", "prompt"),
]


def test_exact_match_and_fidelity_per_category():
    replies = [
        "Conveyor 7 fault E217: motor at 85 °C.",  # exact
        "Sorter 2 warning W301: 13 jams.",  # 13 is made up, 12 dropped
        "E218 means motor over-temperature.",  # E218 is a made-up code
    ]
    scores = score_replies(PAIRS, replies, WAREHOUSE)
    assert list(scores) == ["prompt", "single", ALL]
    assert scores["single"].count == 2
    assert scores["single"].exact_match == pytest.approx(0.5)
    assert scores["single"].counters['hallucinated'] == 1
    assert scores["single"].counters['dropped'] == 1
    assert scores["prompt"].exact_match == 0.0
    assert scores["prompt"].counters['hallucinated'] == 1
    assert scores[ALL].count == 3
    assert scores[ALL].exact_match == pytest.approx(1 / 3)
    assert scores[ALL].counters['hallucinated'] == 2


def test_bleu_and_chrf_are_sacrebleu_corpus_scores():
    replies = ["Conveyor 7 fault E217: motor at 85 °C.", "Sorter 2 warning.", "E217 means x."]
    scores = score_replies(PAIRS, replies, WAREHOUSE)
    single_refs = [PAIRS[0].target, PAIRS[1].target]
    expected = sacrebleu.corpus_bleu(replies[:2], [single_refs]).score
    assert scores["single"].bleu == pytest.approx(expected)
    assert scores["single"].chrf == pytest.approx(
        sacrebleu.corpus_chrf(replies[:2], [single_refs]).score)
    perfect = score_replies(PAIRS, [p.target for p in PAIRS], WAREHOUSE)
    assert perfect[ALL].bleu == pytest.approx(100.0)
    assert perfect[ALL].exact_match == 1.0
    assert perfect[ALL].counters['hallucinated'] == perfect[ALL].counters['dropped'] == 0


def test_numbers_the_reference_also_leaves_out_are_not_drops():
    pairs = [Pair("CV07:E217 X=99", "Conveyor 7 fault E217.", "single")]  # X is not listed
    scores = score_replies(pairs, ["Conveyor 7 fault E217."], WAREHOUSE)
    assert scores["single"].counters['dropped'] == 0


@pytest.mark.parametrize(("argv", "name", "options"), [
    ([], "bundle defaults", {}),
    (["--greedy"], "greedy", {"strategy": "greedy"}),
    (["--beam", "3", "--lenpen", "1.0"], "beam 3 lp 1.0",
     {"strategy": "beam", "beam_width": 3, "length_penalty": 1.0}),
    (["--no-rerank"], "beam no rerank", {"rerank": False}),
    (["--greedy", "--rerank"], "greedy rerank", {"strategy": "greedy", "rerank": True}),
    (["--no-segment", "--retry-beam", "0"], "beam whole lines no retry",
     {"segment": False, "retry_beam": 0}),
    (["--retry-beam", "12"], "beam retry 12", {"retry_beam": 12}),
    (["--no-greedy-first"], "beam beam for all", {"greedy_first": False}),
    (["--draft-below", "-1.5"], "beam drafts below -1.5", {"draft_below": -1.5}),
    (["--draft-below", "OFF"], "beam no drafts", {"draft_below": None}),
])
def test_decoding_options_from_the_command_line(argv, name, options):
    parser = argparse.ArgumentParser()
    cli.add_decoding_arguments(parser, RUNTIME_OPTIONS)
    parsed = cli.decoding_options(parser.parse_args(argv))
    assert parsed == options
    assert _setting_name(parsed) == name


@pytest.mark.parametrize("value", ["nan", "inf", "low"])
def test_a_draft_threshold_that_is_not_a_finite_score_is_refused(value, capsys):
    parser = argparse.ArgumentParser()
    cli.add_decoding_arguments(parser, RUNTIME_OPTIONS)
    with pytest.raises(SystemExit):
        parser.parse_args(["--draft-below", value])
    assert "--draft-below: expected a" in capsys.readouterr().err


def test_the_compare_ladder_of_a_drafting_domain_ends_with_the_bundle_s_drafts():
    from assistant.domains.neighbours import NeighbourDomain

    names = [_setting_name(step) for step in compare_ladder(NeighbourDomain.runtime_options)]
    assert names == ["greedy no drafts", "beam no drafts", "beam"]


def test_without_a_domain_only_generic_scores_are_counted():
    scores = score_replies(PAIRS, [p.target for p in PAIRS])
    assert scores[ALL].counters == {}
    assert scores[ALL].to_dict() == {"count": 3, "exact_match": 1.0,
                                     "bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}


def test_the_compare_ladder_adds_what_the_domain_does():
    assert compare_ladder(()) == [{"strategy": "greedy"}, {"strategy": "beam"}]
    names = [_setting_name(step) for step in compare_ladder(WarehouseDomain.runtime_options)]
    assert names == ["greedy whole lines no rerank", "beam whole lines no rerank",
                     "beam no rerank", "beam rerank no retry beam for all",
                     "beam rerank beam for all", "beam rerank greedy first"]
