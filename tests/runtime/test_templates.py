"""Value templates of a slim reply cache (`assistant.runtime.templates`): a unit that differs
from one answered before only in its values gets that reply with the values substituted,
only when the substitution is sure and the check passes it; else it is decoded."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.domains.warehouse import segment
from assistant.runtime.cache import ReplyCache
from assistant.runtime.inputs import Turn
from assistant.runtime.reply import Alternative, Reply
from assistant.runtime.templates import answer_by_template, filled


@pytest.mark.parametrize(("text", "old", "new", "expected"), [
    ("motor at 85 °C; stop E217.", ("85",), ("86",), "motor at 86 °C; stop E217."),
    ("weight 32.52 kg.", ("32.52",), ("7.5",), "weight 7.5 kg."),
    ("grade 69 %, read 97 %.", ("97", "69"), ("91", "70"), "grade 70 %, read 91 %."),
    ("code E217 at 217 °C.", ("217",), ("90",), "code E217 at 90 °C."),  # not inside a code
    ("no value told.", ("85",), ("86",), "no value told."),
    ("at 85 °C, 85 °C again.", ("85",), ("86",), None),  # which one is the copy?
    ("at 85.0 °C.", ("85",), ("86",), "at 85.0 °C."),  # 85 is not 85.0
    ("at 85 °C.", ("85",), ("85",), "at 85 °C."),
])
def test_filled(text, old, new, expected):
    assert filled(text, old, new) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("CV07:E217 T=85", ("CV07:E217 T=#", ("85",))),
    ("SN02:W301 N=12 R=3.5", ("SN02:W301 N=# R=#", ("12", "3.5"))),
    ("CV07:E217", None),  # no values
    ("CV07:E217 T=7", None),  # the value repeats the unit number
    ("CV07:E217 T=85 N=85", None),  # two values alike
    ("cv 7 e217 t=85C", None),  # not as a PLC writes it
])
def test_the_warehouse_template_of_a_record(text, expected):
    assert segment.template(text) == expected


class Decoder:
    """A deterministic stand-in for the model: "CV07:E217 T=85" -> "motor at 85 °C."."""

    def __init__(self):
        self.decoded = []

    def __call__(self, units):
        self.decoded.extend(unit.text for unit in units)
        texts = [f"motor at {unit.text.rpartition('=')[2]} °C." for unit in units]
        return [Reply(text=text, score=-1.5, alternatives=(Alternative(text, -1.5),),
                      attention=np.ones((3, 3), np.float32), pieces=("a", "b", "</s>"))
                for text in texts]


def answer(cache, decoder, texts, check=lambda turn, text: []):
    return answer_by_template([Turn(text) for text in texts], cache, segment.template, check,
                              "options", decoder)


def test_a_unit_with_other_values_is_answered_from_its_template():
    cache, decoder = ReplyCache(64, slim=True), Decoder()
    answer(cache, decoder, ["CV07:E217 T=85"])

    replies = answer(cache, decoder, ["CV07:E217 T=91", "CV08:E217 T=91"])

    assert [reply.text for reply in replies] == ["motor at 91 °C.", "motor at 91 °C."]
    assert decoder.decoded == ["CV07:E217 T=85", "CV08:E217 T=91"]  # another unit: decoded
    assert (replies[0].score, replies[0].alternatives) == (-1.5, (Alternative(
        "motor at 91 °C.", -1.5),))
    assert replies[0].attention is None and replies[0].pieces == ()
    assert cache.stats.template_hits == 1


def test_a_substitution_the_check_flags_is_decoded_instead():
    cache, decoder = ReplyCache(64, slim=True), Decoder()
    answer(cache, decoder, ["CV07:E217 T=85"])

    def check(turn, text):
        return ["number 91 not allowed"] if "91" in text else []

    replies = answer(cache, decoder, ["CV07:E217 T=91"], check)

    assert replies[0].text == "motor at 91 °C." and replies[0].pieces  # the decoder's reply
    assert decoder.decoded == ["CV07:E217 T=85", "CV07:E217 T=91"]
    assert cache.stats.template_hits == 0


def test_flagged_replies_and_full_caches_keep_no_template():
    decoder = Decoder()
    flagged = ReplyCache(64, slim=True)
    answer_by_template([Turn("CV07:E217 T=85")], flagged, segment.template,
                       lambda turn, text: [], "options",
                       lambda units: [Reply(text="x", score=0.0, alternatives=(
                           Alternative("x", 0.0),), flags=("bad",))])
    full = ReplyCache(64)
    answer(full, decoder, ["CV07:E217 T=85"])

    for cache in (flagged, full):
        answer(cache, decoder, ["CV07:E217 T=90"])
        assert decoder.decoded[-1] == "CV07:E217 T=90" and cache.stats.template_hits == 0


def test_a_slim_cache_keeps_no_attention():
    cache = ReplyCache(8, slim=True)
    reply = Decoder()([Turn("CV07:E217 T=85")])[0]
    cache.put("key", reply)

    stored = cache.get("key")
    assert (stored.text, stored.score, stored.alternatives) == (
        reply.text, reply.score, reply.alternatives)
    assert (stored.attention, stored.pieces, stored.token_log_probs) == (None, (), ())
