"""A turn's context through the Python API: who reads it, the cache's key, bad contexts."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.core import constants
from assistant.core.tokenizer import model_source
from assistant.runtime import Assistant, BundleError, InputError
from assistant.runtime.domain import Domain
from assistant.runtime.reply import Reply

# Short inputs, one at a time: each graph shape compiles once (inputs of 9-16 and 17-32
# pieces, batches of 1 and 2).
CONTEXT = "CV07:E217 T=85"
TURN = "how do I fix it?"
GREEDY = {"strategy": "greedy"}


@pytest.fixture(scope="module")
def reader(context_bundle):
    return Assistant.load(context_bundle, cache_size=16)


class Recording(Domain):
    """Checks everything, flags every reply, and records what it was asked."""

    runtime_options = ("rerank",)

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def check(self, source, reply, context=""):
        self.calls.append(("check", source, context))
        return ["flagged"]

    def fallback(self, source, flags, context=""):
        self.calls.append(("fallback", source, context))
        return f"fallback after {context or 'nothing'}"


def test_a_bundle_trained_with_contexts_reads_them(reader):
    assert reader.reads_context
    reply = reader.reply(TURN, context=f"  {CONTEXT} ", **GREEDY)
    source = model_source(TURN, CONTEXT, reader.config.source_case)
    assert reply.source_pieces == tuple(reader.tokenizer.encode_pieces(source))
    assert constants.CONTEXT_SEPARATOR in reply.source_pieces
    joined = reader.reply(source, **GREEDY)  # the model's own source, typed whole
    assert (joined.text, joined.score) == (reply.text, reply.score)
    alone = reader.reply(TURN, context=" \t", **GREEDY)  # blank: no context
    assert alone.source_pieces == tuple(reader.tokenizer.encode_pieces(TURN))


def test_a_split_line_names_its_own_subjects_and_is_decoded_without_the_context(reader):
    line = "CV07:E217 T=85; SN02:W301 N=12"
    with_context = reader.reply(line, context="E217", **GREEDY)
    assert constants.CONTEXT_SEPARATOR not in with_context.source_pieces
    assert with_context.text == reader.reply(line, **GREEDY).text


def test_the_cache_keys_a_turn_by_its_context_too(reader):
    reader.cache.clear()
    replies = [reader.reply(TURN, context=context, **GREEDY)
               for context in (CONTEXT, "CV08:E217 T=85", f" {CONTEXT}")]
    assert replies[0] is replies[2] and replies[1] is not replies[0]
    assert reader.cache.stats.misses == 2 and reader.cache.stats.hits == 1


def test_bad_contexts_are_one_reply_each_or_a_usage_error(reader):
    replies = reader.reply_batch([TURN] * 3, contexts=[7, "E217\udcff", None], **GREEDY)
    assert [r.error for r in replies[:2]] == [
        "context must be text, not int",
        "context is not valid Unicode: lone surrogate U+DCFF at character 5 (decode bytes "
        "with errors='replace')"]
    assert replies[2].error is None
    with pytest.raises(ValueError, match="one context per input: 1 contexts for 2 inputs"):
        reader.reply_batch(["a", "b"], contexts=["x"])
    with pytest.raises(ValueError, match="a list of one context"):
        reader.reply_batch(["a"], contexts="x")
    with pytest.raises(InputError, match="empty input"):
        reader.reply("  ", context=CONTEXT)


def test_a_bundle_trained_without_contexts_is_not_given_them_but_its_domain_is(bundle):
    assistant = Assistant.load(bundle, cache_size=0)
    assert not assistant.reads_context
    assistant.domain = domain = Recording()
    beam = {"strategy": "beam", "beam_width": 2, "retry_beam": 0}
    reply = assistant.reply(TURN, context=CONTEXT, **beam)
    assert reply.source_pieces == tuple(assistant.tokenizer.encode_pieces(TURN))  # text alone
    assert reply == Reply(text=f"fallback after {CONTEXT}", score=reply.score,
                          alternatives=reply.alternatives, flags=("flagged",),
                          source_pieces=reply.source_pieces)
    assert set(domain.calls) == {("check", TURN, CONTEXT), ("fallback", TURN, CONTEXT)}
    domain.calls.clear()
    assistant.reply(TURN, **beam)
    assert set(domain.calls) == {("check", TURN, ""), ("fallback", TURN, "")}

    class Old(Domain):  # written before contexts: its check takes two arguments
        runtime_options = ("rerank",)

        def check(self, source, reply):
            return []

    assistant.domain = Old()  # the same graphs: nothing more to compile
    assert assistant.reply(TURN, context=CONTEXT, **beam).flags == ()


def test_config_json_may_say_whether_a_bundle_reads_context(context_bundle, bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(context_bundle, copy)
    config = copy / constants.CONFIG_FILE
    payload = json.loads(config.read_text())
    config.write_text(json.dumps({**payload, "context": False}))
    assert not Assistant.load(copy).reads_context
    config.write_text(json.dumps({**payload, "context": "yes"}))
    with pytest.raises(BundleError, match="'context' must be true or false, not 'yes'"):
        Assistant.load(copy)
    plain = tmp_path / "plain"
    shutil.copytree(bundle, plain)
    config = plain / constants.CONFIG_FILE
    config.write_text(json.dumps({**json.loads(config.read_text()), "context": True}))
    with pytest.raises(BundleError, match="the tokenizer has no <CTX> piece"):
        Assistant.load(plain)

