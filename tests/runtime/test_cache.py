"""The reply cache: LRU bounds and order at both levels (inputs, units), counters, keys, and
`Assistant.reply_batch` through it."""

import numpy as np
import pytest

from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.domains.warehouse import segment
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.runtime import Assistant, Domain, ReplyOptions
from assistant.runtime.cache import DEFAULT_CACHE_SIZE, CacheStats, ReplyCache, options_key
from assistant.runtime.options import default_options
from assistant.runtime.reply import Reply

OPTIONS = ReplyOptions.resolve(default_options())
BEAM = {"strategy": "beam", "beam_width": 3, "n_best": 2}
TEXTS = ["CV07:E217 T=85", "hello there, how are you today?", "SN02:W301 N=12; CV1:E217", "x"]


def reply(text: str, error: str | None = None) -> Reply:
    return Reply(text=text, score=-1.0, error=error)


def test_the_least_recently_used_entry_goes_first():
    cache = ReplyCache(4)  # two inputs, two units
    cache.put("a", reply("A"))
    cache.put("b", reply("B"))
    assert cache.get("a").text == "A"  # "a" is now the most recently used
    cache.put("c", reply("C"))  # one over the bound: "b" goes
    assert len(cache) == 2
    assert cache.get("b") is None
    assert (cache.get("a").text, cache.get("c").text) == ("A", "C")
    cache.put("a", reply("A2"))  # storing again refreshes: "c" is now the oldest
    cache.put("d", reply("D"))
    assert cache.get("c") is None
    assert (cache.get("a").text, cache.get("d").text) == ("A2", "D")
    assert len(cache) == 2


def test_each_level_keeps_its_own_half_of_the_bound():
    cache = ReplyCache(5)  # 5 // 2 = 2 inputs, the other 3 units
    for name in "abcd":
        cache.put(name, reply(name.upper()))
        cache.put(name, reply(name), unit=True)  # the same key at the other level
    assert len(cache) == cache.stats.entries == 5
    assert [cache.get(name) for name in "ab"] == [None, None]
    assert [cache.get(name).text for name in "cd"] == ["C", "D"]
    assert cache.get("a", unit=True) is None
    assert [cache.get(name, unit=True).text for name in "bcd"] == ["b", "c", "d"]
    cache.put("e", reply("e"), unit=True)  # units drop their own oldest ("b"), inputs keep theirs
    assert cache.get("b", unit=True) is None and cache.get("c").text == "C"
    one = ReplyCache(1)  # no room for an input: the one entry is a unit's
    one.put("a", reply("A"))
    one.put("a", reply("a"), unit=True)
    assert (one.get("a"), one.get("a", unit=True).text, len(one)) == (None, "a", 1)


def test_hits_and_misses_are_counted_and_clear_resets_everything():
    cache = ReplyCache(3)
    assert cache.get("a") is None
    cache.put("a", reply("A"))
    cache.get("a")
    cache.get("a")
    cache.get("b")
    cache.put("u", reply("U"), unit=True)
    cache.get("u", unit=True)
    cache.get("a", unit=True)  # the levels are apart: a miss
    assert cache.stats == CacheStats(hits=2, misses=2, unit_hits=1, unit_misses=1, entries=2,
                                     max_entries=3)
    assert (cache.stats.lookups, cache.stats.unit_lookups) == (4, 2)
    cache.clear()
    assert cache.stats == CacheStats(hits=0, misses=0, unit_hits=0, unit_misses=0, entries=0,
                                     max_entries=3)
    assert cache.get("a") is None and cache.get("u", unit=True) is None


def test_errors_are_not_stored_and_stored_attention_is_read_only():
    cache = ReplyCache(4)
    cache.put("empty", reply("", error="empty input"))
    cache.put("empty", reply("", error="empty input"), unit=True)
    assert len(cache) == 0
    attention = np.ones((2, 3), np.float32)
    cache.put("a", Reply(text="A", score=0.0, attention=attention))
    with pytest.raises(ValueError, match="read-only"):
        cache.get("a").attention[0, 0] = 2.0


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "8"])
def test_the_bound_must_be_a_positive_int(size):
    with pytest.raises(ValueError, match="max_entries must be an int >= 1"):
        ReplyCache(size)


def test_options_keys_are_hashable_and_tell_every_option_and_type_apart():
    key = options_key(OPTIONS)
    assert hash(key) == hash(options_key(ReplyOptions.resolve(default_options())))
    assert len(key) == len(default_options())
    wider = options_key(ReplyOptions.resolve(default_options(), {"beam_width": 6}))
    as_float = options_key(ReplyOptions.resolve(default_options(), {"max_length_b": 2}))
    no_rerank = options_key(ReplyOptions.resolve(default_options(), {"rerank": False}))
    assert len({key, wider, as_float, no_rerank}) == 4  # max_length_b defaults to 2.0


def test_answer_decodes_each_distinct_input_once_and_keeps_the_order():
    cache = ReplyCache(8)
    asked: list[list] = []

    def answer(texts):
        asked.append(list(texts))
        return [reply("") if not isinstance(text, str) else
                reply("", error="too long") if "long" in text else reply(text.strip().upper())
                for text in texts]

    texts = ["a", " a\n", "b", 7, "long", "a", "long", ""]
    replies = cache.answer(texts, OPTIONS, answer)

    assert asked == [["a", "b", "long", 7, ""]]  # misses first, then what is never keyed
    assert [r.text for r in replies] == ["A", "A", "B", "", "", "A", "", ""]
    assert replies[0] is replies[1] is replies[5]
    assert replies[4].error == replies[6].error == "too long"
    assert cache.stats == CacheStats(hits=3, misses=3, unit_hits=0, unit_misses=0, entries=2,
                                     max_entries=8)

    again = cache.answer(["b", "long", "a "], OPTIONS, answer)

    assert asked[1:] == [["long"]]  # errors are asked again, the rest come from the cache
    assert again[0] is replies[2] and again[2] is replies[0]
    other = ReplyOptions.resolve(default_options(), {"strategy": "greedy"})
    cache.answer(["a"], other, answer)
    assert asked[2:] == [["a"]]  # other options: another key


# --- Assistant.reply_batch through the cache, on the tiny bundle ---------------------------


@pytest.fixture(scope="module")
def loaded(bundle):
    return Assistant.load(bundle)


@pytest.fixture
def assistant(loaded):
    """The module's assistant (its graphs stay compiled) with an empty cache."""
    loaded.cache = ReplyCache(64)
    return loaded


@pytest.fixture
def decoded(monkeypatch):
    """The texts of every unit `Assistant._decode_chunk` decodes, in the order decoded."""
    texts: list[str] = []
    original = Assistant._decode_chunk

    def spy(self, chunk, search, request):
        texts.extend(unit.text for unit in chunk)
        return original(self, chunk, search, request)

    monkeypatch.setattr(Assistant, "_decode_chunk", spy)
    return texts


def fields(result: Reply) -> tuple:
    attention = None if result.attention is None else result.attention.tolist()
    return (result.text, result.score, result.alternatives, result.source_pieces,
            result.pieces, result.token_log_probs, result.copy_gate, result.flags,
            result.error, attention)


def test_load_keeps_the_default_bound_and_parts_alone_keep_none(loaded, bundle):
    assert Assistant.load(bundle).cache.max_entries == DEFAULT_CACHE_SIZE
    assert Assistant.load(bundle, cache_size=0).cache is None
    parts = Assistant(loaded.model, loaded.tokenizer)
    assert parts.cache is None
    assert Assistant(loaded.model, loaded.tokenizer, cache_size=5).cache.max_entries == 5
    with pytest.raises(ValueError, match="cache_size must be an int >= 0"):
        Assistant.load(bundle, cache_size=-1)


def test_replies_are_the_same_with_the_cache_on_and_off(assistant):
    padded = [f" {text}\n" for text in TEXTS]
    assistant.cache = None
    plain = assistant.reply_batch(TEXTS, **BEAM)
    plain_padded = assistant.reply_batch(padded, **BEAM)
    assistant.cache = ReplyCache(64)

    first = assistant.reply_batch(TEXTS, **BEAM)
    again = assistant.reply_batch(padded + TEXTS, **BEAM)

    assert [fields(r) for r in first] == [fields(r) for r in plain]
    assert [fields(r) for r in again[:4]] == [fields(r) for r in plain_padded]
    assert all(again[i] is first[i % 4] for i in range(8))
    # the model alone splits nothing: each input is its own unit, held at both levels
    assert assistant.cache.stats == CacheStats(hits=8, misses=4, unit_hits=0, unit_misses=4,
                                               entries=8, max_entries=64)


def test_repeats_within_one_call_are_decoded_once(assistant, decoded):
    texts = ["CV07:E217 T=85", "hello", " CV07:E217 T=85 ", "CV07:E217 T=85", "hello"]

    replies = assistant.reply_batch(texts, strategy="greedy")

    assert sorted(decoded) == ["CV07:E217 T=85", "hello"]
    assert replies[0] is replies[2] is replies[3] and replies[1] is replies[4]
    assistant.reply_batch(texts, strategy="greedy")
    assert len(decoded) == 2  # all five from the cache
    assert assistant.cache.stats == CacheStats(hits=8, misses=2, unit_hits=0, unit_misses=2,
                                               entries=4, max_entries=64)


def test_other_options_are_other_keys(assistant, decoded, monkeypatch):
    text = "CV07:E217 T=85"
    greedy = assistant.reply(text, strategy="greedy")
    beam = assistant.reply(text, strategy="beam", beam_width=2)
    assert decoded == [text, text]
    assert assistant.reply(text, strategy="greedy") is greedy
    assert assistant.reply(text, strategy="beam", beam_width=2) is beam
    assert len(decoded) == 2
    # the bundle's defaults are part of the resolved options, so changing them is a miss too
    monkeypatch.setattr(assistant, "defaults", {**assistant.defaults, "max_length_a": 2,
                                                "max_length_b": 0.0})
    short = assistant.reply(text, strategy="greedy")
    assert decoded == [text, text, text]
    assert len(short.pieces) <= 2


def test_bad_inputs_stay_error_replies_in_place(assistant, decoded):
    long_text = "CV07:E217 " * (MAX_SOURCE_PIECES // 2)
    texts = ["", "CV07:E217 T=85", "   ", long_text, "CV07:E217 T=85", 5, "x\udc80y",
             "  x\udc80y", long_text]

    replies = assistant.reply_batch(texts, strategy="greedy")

    errors = [r.error for r in replies]
    assert errors[:3] == ["empty input", None, "empty input"]
    assert errors[3].startswith("input too long: ") and errors[8] == errors[3]
    assert errors[4] is None and replies[4] is replies[1]
    assert errors[5] == "input must be text, not int"
    assert "lone surrogate U+DC80 at character 2 " in errors[6]
    assert "lone surrogate U+DC80 at character 4 " in errors[7]  # its own position
    assert decoded == ["CV07:E217 T=85"]
    assert len(assistant.cache) == 2  # error replies are not stored (one input, one unit)
    assistant.reply_batch([long_text], strategy="greedy")
    assert assistant.cache.stats == CacheStats(hits=2, misses=3, unit_hits=0, unit_misses=3,
                                               entries=2, max_entries=64)


def test_a_split_line_is_cached_whole_and_order_is_kept(loaded, decoded):
    order = segment.RecordOrder({"CV:E217": 0, "SN:W301": 2}, default_rank=1)
    domain = WarehouseDomain(lambda source, reply: [f"checked {source.strip()}"], order)
    segmenting = Assistant(loaded.model, loaded.tokenizer, defaults=loaded.defaults,
                           domain=domain)
    line = "SN02:W301 N=12; cv1:e217"
    texts = [line, "", f"  {line} ", "CV07:E217 T=85", line]
    expected = segmenting.reply_batch(texts, strategy="greedy")
    segmenting.cache = ReplyCache(8)
    del decoded[:]

    replies = segmenting.reply_batch(texts, strategy="greedy")

    assert sorted(decoded) == ["CV07:E217 T=85", "SN02:W301 N=12", "cv1:e217"]
    assert [(r.text, r.flags, r.error, r.pieces) for r in replies] == [
        (r.text, r.flags, r.error, r.pieces) for r in expected]
    # other batch shapes than without the cache: the same numbers up to float rounding
    np.testing.assert_allclose([r.score for r in replies if r.error is None],
                               [r.score for r in expected if r.error is None], rtol=1e-4)
    assert replies[0].flags == (f"checked {line}",)
    assert replies[0] is replies[2] is replies[4]
    assert replies[1].error == "empty input"


# --- the unit level: records of a split line, on the tiny bundle ----------------------------

A, B, C = "CV07:E217 T=85", "SN02:W301 N=12", "cv1:e217"
RERANK = {"strategy": "beam", "beam_width": 2, "n_best": 2, "retry_beam": 4}


class Records(Domain):
    """Lines split at ";", answers told in the order of their records' text; a unit's
    hypothesis is flagged by the parity of its length (so rerank and retry choose), a whole
    line when it holds "cv1" (so it falls back)."""

    name = "records"
    runtime_options = ("rerank", "retry_beam", "greedy_first", "segment")

    def split(self, text):
        parts = [part.strip() for part in text.split(";")]
        return parts if len(parts) > 1 else None

    def order(self, units):
        return sorted(range(len(units)), key=lambda index: units[index])

    def check(self, source, reply):
        if ";" in source:
            return ["a line with cv1"] if "cv1" in source else []
        return ["odd length"] if len(reply) % 2 else []

    def fallback(self, source, flags):
        return f"could not read {source.strip()}"


@pytest.fixture(scope="module")
def records_model(loaded):
    return Assistant(loaded.model, loaded.tokenizer, defaults=loaded.defaults,
                     domain=Records())


@pytest.fixture
def records(records_model):
    """The tiny model with the `Records` domain (its graphs stay compiled), an empty cache."""
    records_model.cache = ReplyCache(64)
    return records_model


def assert_same(results: list[Reply], expected: list[Reply]) -> None:
    """The same replies; the numbers up to float rounding (other batch shapes)."""
    def exact(r):
        return (r.text, [a.text for a in r.alternatives], r.source_pieces, r.pieces, r.flags,
                r.error)

    assert [exact(r) for r in results] == [exact(r) for r in expected]
    for result, other in zip(results, expected, strict=True):
        np.testing.assert_allclose(
            [result.score, *(a.score for a in result.alternatives), *result.token_log_probs,
             *result.copy_gate],
            [other.score, *(a.score for a in other.alternatives), *other.token_log_probs,
             *other.copy_gate], rtol=1e-4)
        if other.attention is not None:
            np.testing.assert_allclose(result.attention, other.attention, atol=1e-5)


def test_a_line_of_units_seen_before_decodes_nothing(records, decoded):
    lines = [f"{A}; {B}", f" {B} ;{A}", f"{A}; {C}", f"{C}; {B}"]
    records.cache = None
    expected = records.reply_batch(lines, **RERANK)
    records.cache = ReplyCache(64)
    records.reply_batch([A], **RERANK)
    records.reply_batch([B], **RERANK)
    del decoded[:]

    first = records.reply_batch(lines[:2], **RERANK)
    assert decoded == []  # two new lines of units answered before: nothing decoded
    rest = records.reply_batch(lines[2:], **RERANK)
    assert set(decoded) == {C}  # decoded (and maybe retried) once for both lines

    assert_same(first + rest, expected)  # joined, checked and fallen back as without cache
    assert [r.text for r in rest] == [f"could not read {line}" for line in lines[2:]]
    assert records.cache.stats == CacheStats(hits=0, misses=6, unit_hits=7, unit_misses=3,
                                             entries=9, max_entries=64)
    assert records.reply_batch(lines[:1], **RERANK)[0] is first[0]  # found whole


def test_a_unit_that_cannot_be_answered_is_never_cached(records, decoded):
    long_unit = "CV07:E217 " * (MAX_SOURCE_PIECES // 2)
    lines = [f"{A}; {long_unit}", f"{long_unit}; {A}", f"{B};x;"]

    replies = records.reply_batch(lines, strategy="greedy")

    assert replies[0].error.startswith("record 2: input too long: ")
    assert replies[1].error.startswith("record 1: input too long: ")
    assert replies[2].error == "record 3: empty input"  # the text after the last ";"
    assert sorted(decoded) == sorted([A, B, "x"])
    assert len(records.cache) == 3  # the units A, B and x; no error at either level
    records.reply_batch(lines[:1], strategy="greedy")
    assert len(decoded) == 3
    assert records.cache.stats == CacheStats(hits=0, misses=4, unit_hits=3, unit_misses=5,
                                             entries=3, max_entries=64)


def test_sampling_reaches_neither_level(records, decoded):
    sample = {"strategy": "sample", "seed": 3, "top_k": 5}
    records.reply_batch([A, f"{A}; {B}"], **sample)
    records.reply_batch([f"{B}; {A}"], **sample)
    assert sorted(decoded) == sorted([A, A, B, B, A])
    assert records.cache.stats == CacheStats(hits=0, misses=0, unit_hits=0, unit_misses=0,
                                             entries=0, max_entries=64)


def test_the_bound_holds_across_both_levels(records, decoded):
    records.cache = ReplyCache(3)  # one input, two units
    records.reply_batch([f"{A}; {B}"], strategy="greedy")
    records.reply_batch([C], strategy="greedy")  # drops the line, and the unit A (the oldest)
    assert len(records.cache) == 3
    del decoded[:]

    records.reply_batch([f"{B}; {A}"], strategy="greedy")  # B found (now the newest), C dropped
    records.reply_batch([C], strategy="greedy")

    assert decoded == [A, C]
    assert records.cache.stats.entries == len(records.cache) == 3
