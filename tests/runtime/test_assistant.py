"""The runtime facade: batching, options, rerank and retry, segmentation, load errors."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from assistant.core import constants
from assistant.decoding.buckets import MAX_SOURCE_PIECES, bounded_limit
from assistant.domains.warehouse import segment
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.runtime import Assistant, BundleError, Domain, InputError
from tests.conftest import TINY_OVERRIDES

TINY = [*TINY_OVERRIDES, "train.epochs=1"]


class CheckingDomain(Domain):
    """A domain that only checks replies, with the given `check(source, reply)`."""

    name = "checking"
    runtime_options = ("rerank", "retry_beam", "greedy_first")

    def __init__(self, check, fallback=None) -> None:
        self._check = check
        self._fallback = fallback

    def check(self, source: str, reply: str) -> list[str]:
        return self._check(source, reply)

    def fallback(self, source: str, flags) -> str | None:
        return None if self._fallback is None else self._fallback(source, flags)




@pytest.fixture(scope="module")
def assistant(bundle):
    return Assistant.load(bundle)


TEXTS = ["CV07:E217 T=85", "hello there, how are you today?", "x", "SN02:W301 N=12; CV1:E217"]


@pytest.mark.parametrize("options", [
    {"strategy": "greedy"},
    {"strategy": "beam", "beam_width": 3, "n_best": 2},
])
def test_batch_equals_one_by_one_in_input_order(assistant, options):
    batch = assistant.reply_batch(TEXTS, **options)
    single = [assistant.reply(text, **options) for text in TEXTS]
    assert [r.text for r in batch] == [r.text for r in single]
    np.testing.assert_allclose([r.score for r in batch], [r.score for r in single], rtol=1e-4)


def test_sampling_repeats_with_the_same_seed(assistant):
    # A sampled row depends on (seed, step, row position), so compare equal batches.
    first = assistant.reply_batch(TEXTS, strategy="sample", seed=7, top_k=5)
    again = assistant.reply_batch(TEXTS, strategy="sample", seed=7, top_k=5)
    assert [r.text for r in first] == [r.text for r in again]


def test_reply_fields(assistant):
    reply = assistant.reply("CV07:E217 T=85", strategy="beam", beam_width=3, n_best=3)
    assert len(reply.alternatives) == 3
    assert reply.alternatives[0].text == reply.text
    scores = [a.score for a in reply.alternatives]
    assert scores == sorted(scores, reverse=True)
    assert reply.source_pieces == tuple(assistant.tokenizer.encode_pieces("CV07:E217 T=85"))
    assert reply.attention.shape == (len(reply.pieces), len(reply.source_pieces))
    np.testing.assert_allclose(reply.attention.sum(axis=1), 1.0, rtol=1e-4)
    assert len(reply.token_log_probs) == len(reply.pieces)
    assert all(lp <= 0.0 for lp in reply.token_log_probs)


def test_bad_inputs_are_flagged_not_raised_in_batches(assistant):
    long_text = "CV07:E217 " * (MAX_SOURCE_PIECES // 2)
    results = assistant.reply_batch(["", "   ", long_text, "CV07:E217", "\x00\x07 ctrl 😀"])
    assert results[0].error == "empty input"
    assert results[1].error == "empty input"
    assert results[2].error.startswith("input too long: ")
    assert f"the limit is {MAX_SOURCE_PIECES}" in results[2].error
    assert results[3].error is None
    assert results[4].error is None
    with pytest.raises(InputError, match="empty input"):
        assistant.reply("  ")


@pytest.mark.parametrize(("options", "message"), [
    ({"strategy": "beam", "beam_width": 0}, "beam_width"),
    ({"strategy": "sample", "temperature": -1.0}, "temperature"),
    ({"strategy": "sample", "top_p": 1.5}, "top_p"),
    ({"strategy": "sample", "top_p": 0.0}, "top_p"),
    ({"strategy": "beam", "beam_width": 2, "n_best": 3}, "n_best"),
    ({"strategy": "nope"}, "strategy"),
    ({"rerank": "yes"}, "rerank must be true or false"),
    ({"segment": 1}, "segment must be true or false"),
    ({"retry_beam": 2.5}, "retry_beam must be an int >= 0"),
    ({"beam": 3}, "unknown decoding option"),
])
def test_invalid_options_raise_clear_errors(assistant, options, message):
    with pytest.raises(ValueError, match=message):
        assistant.reply("CV07:E217", **options)


def test_new_input_lengths_do_not_retrace(assistant):
    graphs = assistant._graphs
    assistant.reply("CV07:E217 T=85", strategy="greedy")
    traces = graphs.traces
    long_line = "; ".join(f"CV{u:02d}:E217 T={u}" for u in range(1, 5))  # another bucket
    for text in ("CV1:E217", "CV07:E217 T=8", "hello", long_line, long_line * 3):
        assistant.reply(text, strategy="greedy")
    assistant.reply_batch(["CV1:E217", "CV2:E217", "CV3:E217", long_line], strategy="greedy")
    assert graphs.traces == traces
    assistant.reply("CV1:E217", strategy="beam", beam_width=2)  # a new strategy shape traces
    assert graphs.traces == traces + 1


def test_load_errors_are_one_line(bundle, tmp_path):
    with pytest.raises(BundleError, match="no such model directory"):
        Assistant.load(tmp_path / "missing")
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / constants.WEIGHTS_FILE).write_bytes(b"garbage")
    with pytest.raises(BundleError, match=r"model.weights.h5: cannot load weights"):
        Assistant.load(broken)
    (broken / constants.WEIGHTS_FILE).unlink()
    with pytest.raises(BundleError, match=r"model.weights.h5: missing"):
        Assistant.load(broken)
    (broken / constants.TOKENIZER_FILE).write_bytes(b"garbage")
    with pytest.raises(BundleError, match="not a SentencePiece model"):
        Assistant.load(broken)
    config = json.loads((bundle / constants.CONFIG_FILE).read_text())
    config["model"]["vocab_size"] += 1
    shutil.copy(bundle / constants.TOKENIZER_FILE, broken / constants.TOKENIZER_FILE)
    (broken / constants.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(BundleError, match="tokenizer has"):
        Assistant.load(broken)
    (broken / constants.CONFIG_FILE).write_text("{")
    with pytest.raises(BundleError, match="not a valid config file"):
        Assistant.load(broken)


def test_upper_source_case_makes_input_case_irrelevant(bundle):
    upper = Assistant.load(bundle)
    upper.model.config = dataclasses.replace(upper.config, source_case="upper")
    lower, mixed = upper.reply_batch(["cv07:e217 t=85", "Cv07:E217 T=85"], strategy="greedy")
    assert lower.text == mixed.text
    assert lower.source_pieces == tuple(upper.tokenizer.encode_pieces("CV07:E217 T=85"))


def test_rerank_answers_with_the_best_unflagged_hypothesis(assistant):
    beam = {"strategy": "beam", "beam_width": 3}
    plain = assistant.reply("CV07:E217 T=85", **beam, n_best=3, rerank=False)
    top, second, third = (a.text for a in plain.alternatives)
    assert len({top, second, third}) == 3
    flagged = {top: ["number 9 not in input"], second: ["code E217 missing from reply"]}
    checking = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                         domain=CheckingDomain(lambda source, reply: flagged.get(reply, [])))

    reranked = checking.reply("CV07:E217 T=85", **beam, n_best=2)  # rerank is the default

    assert reranked.text == third and reranked.flags == ()
    assert [a.text for a in reranked.alternatives] == [third, top]
    assert reranked.score == pytest.approx(plain.alternatives[2].score, rel=1e-4)
    assert len(reranked.pieces) == len(reranked.token_log_probs) == reranked.attention.shape[0]
    off = checking.reply("CV07:E217 T=85", **beam, rerank=False)
    assert off.text == top and off.flags == ("number 9 not in input",)
    flagged[third] = ["number 9 not in input"]
    every = checking.reply("CV07:E217 T=85", **beam, retry_beam=0, greedy_first=False)
    assert every.text == top and every.flags == ("number 9 not in input",)
    greedy = checking.reply("CV07:E217 T=85", strategy="greedy")
    assert greedy.flags == tuple(flagged.get(greedy.text, []))


def test_greedy_first_searches_the_beam_only_for_a_flagged_greedy_reply(assistant):
    text = "CV07:E217 T=85"
    beam = {"strategy": "beam", "beam_width": 3}
    greedy = assistant.reply(text, strategy="greedy")
    plain = assistant.reply(text, **beam, n_best=3, rerank=False)
    flagged = {}
    checking = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                         domain=CheckingDomain(lambda source, reply: flagged.get(reply, [])))

    assert checking.reply(text, **beam).text == greedy.text  # the check passes it: kept
    flagged[greedy.text] = ["number 9 not in input"]
    searched = checking.reply(text, **beam, retry_beam=0)  # flagged: the beam decides
    expected = next(a for a in plain.alternatives if a.text not in flagged)
    assert searched.text == expected.text and searched.flags == ()
    assert searched.score == pytest.approx(expected.score, rel=1e-4)
    # asked for alternatives, or without the rerank, every input gets the beam
    flagged.clear()
    assert len(checking.reply(text, **beam, n_best=3).alternatives) == 3
    assert checking.reply(text, **beam, rerank=False).text == plain.text


def test_greedy_first_keeps_greedy_only_for_units_the_check_judges(assistant, monkeypatch):
    """A unit the domain's check cannot judge (`Domain.judges`: small talk) gets the beam."""
    domain = CheckingDomain(lambda source, reply: [])
    domain.judges = lambda text: text.startswith("CV")
    checking = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                         domain=domain)
    decoded = []
    original = checking._decode_all

    def spy(units, answers, search, request, **kwargs):
        decoded.append((search.strategy, sorted(unit.turn.text for unit in units)))
        return original(units, answers, search, request, **kwargs)

    monkeypatch.setattr(checking, "_decode_all", spy)
    texts = ["CV07:E217 T=85", "hello there", "SN02:W301 N=12"]
    replies = checking.reply_batch(texts, strategy="beam", beam_width=3, retry_beam=0)
    assert decoded == [("greedy", ["CV07:E217 T=85"]), ("beam", ["SN02:W301 N=12", "hello there"])]
    beam = assistant.reply_batch(texts[1:], strategy="beam", beam_width=3, rerank=False)
    assert [r.text for r in replies] == [assistant.reply(texts[0], strategy="greedy").text,
                                         *(r.text for r in beam)]


def test_retry_beam_answers_a_flagged_input_with_a_wider_search(assistant):
    text = "CV07:E217 T=85"
    narrow = assistant.reply(text, strategy="beam", beam_width=3, n_best=3, rerank=False)
    wide = assistant.reply(text, strategy="beam", beam_width=8, n_best=8, rerank=False)
    flagged = {a.text: ["number 9 not in input"] for a in narrow.alternatives}
    expected = next(a for a in wide.alternatives if a.text not in flagged)
    checking = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                         domain=CheckingDomain(lambda source, reply: flagged.get(reply, [])))

    retried = checking.reply(text, strategy="beam", beam_width=3, retry_beam=8,
                             greedy_first=False)

    assert retried.text == expected.text and retried.flags == ()
    assert retried.score == pytest.approx(expected.score, rel=1e-4)
    # a retry that finds nothing better keeps the first search's reply and flags
    flagged.update({a.text: ["number 9 not in input"] for a in wide.alternatives})
    kept = checking.reply(text, strategy="beam", beam_width=3, retry_beam=8,
                          greedy_first=False)
    assert kept.text == narrow.text and kept.flags == ("number 9 not in input",)
    with pytest.raises(ValueError, match="retry_beam must be an int >= 0"):
        checking.reply(text, retry_beam=-1)


class BoundingDomain(CheckingDomain):
    """A checking domain that sizes the reply to one input (`Domain.reply_bound`)."""

    def __init__(self, bounds: dict) -> None:
        super().__init__(lambda source, reply: [])
        self.bounds = bounds

    def reply_bound(self, text: str) -> str | None:
        return self.bounds.get(text)


def test_the_domains_reply_bound_limits_the_reranked_search(assistant):
    text, other = "CV07:E217 T=85", "SN02:W301 N=12"
    free = [assistant.reply(t, strategy="beam", beam_width=3, rerank=False) for t in (text, other)]
    bound = "Conveyor"
    limit = bounded_limit(len(assistant.tokenizer.encode(bound)))
    assert len(free[0].pieces) > limit  # the tiny model's reply is longer than the bound
    bounding = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                         domain=BoundingDomain({text: bound}))

    bounded, unbounded = bounding.reply_batch([text, other], strategy="beam", beam_width=3,
                                              greedy_first=False)

    assert len(bounded.pieces) <= limit  # the end token counts
    assert unbounded.text == free[1].text  # an input the domain cannot size: as before
    plain = bounding.reply(text, strategy="beam", beam_width=3, rerank=False)
    assert plain.text == free[0].text  # the bound is the rerank's: the model alone is free
    first = bounding.reply(text, strategy="beam", beam_width=3)  # greedy first, bound too
    assert len(first.pieces) <= limit


LINE = "SN02:W301 N=12; cv1:e217 ; XX03:E217"


@pytest.fixture(scope="module")
def segmenting(assistant):
    order = segment.RecordOrder({"CV:E217": 0, "SN:W301": 2}, default_rank=1)
    domain = WarehouseDomain(lambda source, reply: [f"checked {source}"], order)
    return Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                     domain=domain)


def test_a_line_of_records_is_answered_record_by_record(segmenting):
    beam = {"strategy": "beam", "beam_width": 3, "rerank": False}
    parts = segmenting.reply_batch(["SN02:W301 N=12", "cv1:e217", "XX03:E217"], **beam,
                                   segment=False, n_best=2)

    reply = segmenting.reply(LINE, **beam, n_best=2)

    order = [1, 2, 0]  # CV:E217 rank 0, XX:E217 the default rank 1, SN:W301 rank 2
    assert reply.text == " ".join(parts[i].text for i in order)
    assert reply.score == pytest.approx(sum(parts[i].score for i in order), rel=1e-5)
    assert [a.text for a in reply.alternatives] == [
        reply.text, " ".join(parts[i].alternatives[1].text for i in order)]
    assert reply.flags == (f"checked {LINE}",)  # the joined reply, checked against the line
    assert reply.source_pieces == tuple(p for part in parts for p in part.source_pieces)
    ends = [i for i, piece in enumerate(reply.pieces) if piece == constants.EOS_PIECE]
    assert ends == [len(reply.pieces) - 1]
    kept = [p for i in order for p in parts[i].pieces if p != constants.EOS_PIECE]
    assert reply.pieces == (*kept, constants.EOS_PIECE)
    assert len(reply.token_log_probs) == len(reply.pieces)
    assert reply.attention.shape == (len(reply.pieces), len(reply.source_pieces))
    np.testing.assert_allclose(reply.attention.sum(axis=1), 1.0, rtol=1e-4)
    # the first sentence (record 2) attends only to record 2's pieces
    first = len(parts[1].pieces) - 1
    start = len(parts[0].source_pieces)
    stop = start + len(parts[1].source_pieces)
    np.testing.assert_allclose(reply.attention[:first, start:stop].sum(axis=1), 1.0, rtol=1e-4)


def test_segmentation_leaves_other_inputs_whole_and_can_be_turned_off(segmenting, assistant):
    whole = ["CV07:E217 T=85", "what does E217 mean?", "CV07:E217; SN02 W30", LINE]
    expected = assistant.reply_batch(whole, strategy="greedy")
    off = segmenting.reply_batch(whole, strategy="greedy", segment=False)
    assert [r.text for r in off] == [r.text for r in expected]
    on = segmenting.reply_batch(whole, strategy="greedy")
    assert [r.text for r in on[:3]] == [r.text for r in expected[:3]]
    parts = segmenting.reply_batch(segment.split_line(LINE), strategy="greedy")
    assert on[3].text == " ".join(parts[i].text for i in (1, 2, 0))
    # a bundle without a record order never segments
    assert assistant.reply(LINE, strategy="greedy").text == expected[3].text
    with pytest.raises(ValueError, match="segment must be true or false"):
        segmenting.reply(LINE, segment="yes")


def test_a_reply_no_hypothesis_of_which_passes_gets_the_domains_fallback(assistant):
    def fallback(source, flags):
        return f"I could not read {source!r} ({len(flags)} problem)"

    domain = CheckingDomain(lambda source, reply: ["number 9 not in input"], fallback)
    unsure = Assistant(assistant.model, assistant.tokenizer, defaults=assistant.defaults,
                       domain=domain)
    reply = unsure.reply("CV07:E217 T=85", strategy="beam", beam_width=2, retry_beam=0)
    assert reply.text == "I could not read 'CV07:E217 T=85' (1 problem)"
    assert reply.flags == ("number 9 not in input",)  # still flagged: surfaces warn
    assert [a.text for a in reply.alternatives] == [reply.text]
    kept = unsure.reply("CV07:E217 T=85", strategy="beam", beam_width=2, rerank=False)
    assert kept.text != reply.text and kept.flags == ("number 9 not in input",)
