"""Bad input against the Python API (issue 17): `reply_batch` answers or flags every element.

One batch of every case, on the tiny real model: one reply per input, in input order, each
either answered or carrying a one-line `error`; `reply` raises `InputError` for the same.
"""

from __future__ import annotations

import pytest

from assistant.decoding.options import BEAM_WIDTH_LIMIT
from assistant.domains.warehouse import segment
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.runtime import Assistant, InputError

NOT_UNICODE = "input is not valid Unicode: lone surrogate U+{:04X} at character {} " \
              "(decode bytes with errors='replace')"
TOO_LONG = "input too long: "

# (input, its error, or None when it is answered)
CASES = {
    "a fault line": ("CV07:E217 T=85", None),
    "empty": ("", "empty input"),
    "spaces, tabs and line ends": (" \t\r\n ", "empty input"),
    "NULs": ("\x00\x00\x00", "empty input"),
    "zero-width spaces": ("\u200b\u200b", "empty input"),
    "format characters": ("\ufeff\u200c\u200d\u2060\u00ad\u202e", "empty input"),
    "other invisible characters": ("\u3164\ufe0f\u034f \u2028", "empty input"),
    "C0 and C1 controls": ("\x01\x1b\x7f\x85\x9f", "empty input"),
    "a lone surrogate from a stray byte": ("CV07:E217 \udcff", NOT_UNICODE.format(0xDCFF, 11)),
    "a lone high surrogate": ("\ud800", NOT_UNICODE.format(0xD800, 1)),
    "a surrogate in the second record": ("CV07:E217 T=85; SN02:W301 N=1\udc80",
                                         NOT_UNICODE.format(0xDC80, 30)),
    "a record with a zero-width space": ("CV07:E217 T=85\u200b", None),
    "NUL among text": ("CV07:E217\x00 T=85", None),
    "control characters among text": ("CV07:E217 \x07\x1b[31mT=85", None),
    "U+FFFD": ("CV07:E217 \ufffd", None),
    "emoji and right-to-left text": ("😀 שלום CV07", None),
    "a long line": ("x " * 2000, TOO_LONG),
    "a huge line": ("y" * 1_000_000, TOO_LONG),
    "not text": (None, "input must be text, not NoneType"),
    "bytes": (b"CV07:E217", "input must be text, not bytes"),
}


@pytest.fixture(scope="module")
def assistant(bundle):
    return Assistant.load(bundle)


@pytest.fixture(scope="module")
def batch(assistant):
    """The replies to every case, in one `reply_batch` call."""
    texts = [text for text, _ in CASES.values()]
    replies = assistant.reply_batch(texts, strategy="greedy")
    assert len(replies) == len(texts)
    return dict(zip(CASES, replies, strict=True))


def _check(reply, error: str | None) -> None:
    if error is None:
        assert reply.error is None and reply.text, reply
    else:
        assert reply.text == "" and reply.alternatives == ()
        assert reply.error.startswith(error) and "\n" not in reply.error, reply.error


@pytest.mark.parametrize("case", CASES)
def test_every_input_is_answered_or_flagged_in_one_batch(batch, case):
    _check(batch[case], CASES[case][1])


@pytest.mark.parametrize("case", CASES)
def test_reply_answers_or_raises_input_error(assistant, batch, case):
    text, error = CASES[case]
    if error is None:
        assert assistant.reply(text, strategy="greedy").text == batch[case].text
    else:
        with pytest.raises(InputError) as raised:
            assistant.reply(text, strategy="greedy")
        assert str(raised.value) == batch[case].error


def test_bad_inputs_do_not_change_the_replies_to_good_ones(assistant, batch):
    good = [case for case, (_, error) in CASES.items() if error is None]
    alone = assistant.reply_batch([CASES[case][0] for case in good], strategy="greedy")
    assert [reply.text for reply in alone] == [batch[case].text for case in good]


def test_a_batch_of_bad_inputs_only_through_split_check_rerank_and_retry(assistant):
    order = segment.RecordOrder({"CV:E217": 0, "SN:W301": 1}, default_rank=2)
    domain = WarehouseDomain(lambda source, reply: [f"checked {source}"], order)
    checking = Assistant(assistant.model, assistant.tokenizer, domain=domain)
    texts = ["CV07:E217 \udcff", "\u200b\u200b", "CV07:E217 T=85; SN02:W301 N=12\udcff"]
    replies = checking.reply_batch(texts, strategy="beam", beam_width=2, retry_beam=3)
    assert [reply.error.split(":")[0] for reply in replies] == [
        "input is not valid Unicode", "empty input", "input is not valid Unicode"]


@pytest.mark.parametrize(("options", "message"), [
    ({"beam_width": BEAM_WIDTH_LIMIT + 1},
     "beam_width must be an int from 1 to 64 (memory and time grow with the width), got 65"),
    ({"beam_width": 1000, "n_best": 1000}, "beam_width must be an int from 1 to 64"),
    ({"retry_beam": 1000},
     "retry_beam must be an int >= 0 and <= 64 (0 is off; memory and time grow with the width),"
     " got 1000"),
])
def test_a_beam_too_wide_is_refused_before_anything_is_decoded(assistant, options, message):
    with pytest.raises(ValueError) as raised:
        assistant.reply_batch(["CV07:E217 T=85"], **options)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
