"""The inference facade: `Assistant.load(bundle).reply(text, **options) -> Reply`.

Surfaces (chat, convert, export) talk only to this module; it owns tokenization, length
bucketing, the compiled decoding graphs and the conversion of results to plain Python. What
a bundle's domain knows (splitting a line into units, ordering their answers, checking a
reply) comes in through the `Domain` protocol; this module imports no domain.

A text may come with the conversation's context (`reply(text, context=...)`): a bundle
trained with contexts (`reads_context`) reads it before the text
(`assistant.core.tokenizer.model_source`); any bundle's domain checks the reply against
both, and falls back with both in view. A line the domain splits into units (a fault line
of several records) names its own subjects: its units are decoded without the context.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.core import constants
from assistant.core.config import ModelConfig
from assistant.core.tokenizer import Tokenizer
from assistant.decoding.buckets import batch_bucket, bounded_limit, source_bucket, step_budget
from assistant.runtime.bundle import BundleError, load_bundle
from assistant.runtime.cache import DEFAULT_CACHE_SIZE, ReplyCache, new_cache, options_key
from assistant.runtime.domain import Domain, NullDomain, takes_context
from assistant.runtime.drafts import drafted
from assistant.runtime.inputs import Turn, answerable, encode_turn, turns
from assistant.runtime.options import ReplyOptions, default_options
from assistant.runtime.reply import Alternative, InputError, Reply
from assistant.runtime.results import result_reply
from assistant.runtime.templates import answer_by_template
from assistant.runtime.units import join_units

_TURN_KEY = operator.attrgetter("key")  # a turn's cache key: its text and context

__all__ = ["Alternative", "Assistant", "BundleError", "InputError", "Reply"]


@dataclasses.dataclass(frozen=True)
class _Unit:
    """One text decoded on its own: a whole input, or one unit of a split line."""

    index: int  # its place in the flat list of units
    ids: list[int]  # its pieces (of the context too, for a bundle that reads it)
    turn: Turn
    limit: int | None = None  # the most pieces its reply may have (None: the options' limit)

    @property
    def text(self) -> str:
        return self.turn.text


@dataclasses.dataclass(frozen=True)
class _Request:
    """The resolved options of one `reply_batch` call."""

    options: ReplyOptions
    search: Any  # the DecodingOptions searched with (the whole beam when reranking)
    rerank: bool  # choose the best hypothesis the domain's check passes
    batch_size: int

    @property
    def n_best(self) -> int:
        return self.options.decoding.n_best


class Assistant:
    """A loaded model bundle that answers texts.

    Args:
        model: a built `Seq2Seq`.
        tokenizer: its `Tokenizer`.
        name: shown by surfaces (the bundle directory's name).
        domain: the bundle's `Domain` (default: `NullDomain`, the model alone).
        defaults: decoding options of the bundle (config.json's "decoding"); unset ones
            take the defaults of `assistant.runtime.options`.
        cache_size: replies kept by `self.cache` (`assistant.runtime.cache`); 0, the default
            here, keeps none. `load` keeps `DEFAULT_CACHE_SIZE`: a loaded bundle is its own,
            while a model, tokenizer or domain handed in here may still be changed by the
            caller (a model in training), which the cache's key cannot see.
        reads_context: the model was trained with a context before its turns, so it is
            given a turn's context; None: when the tokenizer has the context separator.

    Attributes:
        cache: the `ReplyCache` of `reply_batch`, or None; set it to None (or a new
            `ReplyCache`) at any time.
        reads_context: whether the model is given contexts (else they are accepted, and
            only the domain's check and fallback read them).
        min_batch_rows: a decoded batch is padded to at least this many rows (1: to its
            own bucket). `convert` sets 8: a compiled graph per (search, batch bucket,
            source bucket) costs 5-20 MB, and the small buckets of the rare searches
            (flagged records) kept appearing late in a long log, so peak memory grew
            with its length; batch 1 stays fast for the chat.

    Raises:
        ValueError: the defaults are not valid options, or `cache_size` is negative.
    """

    def __init__(self, model, tokenizer: Tokenizer, name: str = "model",
                 domain: Domain | None = None, defaults: dict[str, Any] | None = None,
                 cache_size: int = 0, reads_context: bool | None = None) -> None:
        from assistant.core.binding import bind_model
        from assistant.decoding.graphs import DecodingGraphs

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.domain = domain or NullDomain()
        self.defaults = ReplyOptions.resolve(default_options(), defaults or {}).to_dict()
        self._graphs = DecodingGraphs(functools.partial(bind_model, model))
        self.cache = new_cache(cache_size)
        self.reads_context = (tokenizer.has_context_separator if reads_context is None
                              else reads_context)
        self.min_batch_rows = 1

    @classmethod
    def load(cls, bundle_dir: str | os.PathLike,
             cache_size: int = DEFAULT_CACHE_SIZE) -> Assistant:
        """Loads a bundle: config, tokenizer, weights, decoding defaults and domain.

        Args:
            bundle_dir: the bundle directory.
            cache_size: replies kept by `cache` (0: no cache).

        Raises:
            BundleError: one line naming the missing or corrupt file.
            ValueError: `cache_size` is negative.
        """
        cache = new_cache(cache_size)
        bundle = load_bundle(bundle_dir)
        try:
            assistant = cls(bundle.model, bundle.tokenizer, name=bundle.directory.name,
                            domain=bundle.domain, defaults=bundle.defaults,
                            reads_context=bundle.reads_context)
        except (TypeError, ValueError) as error:
            raise BundleError(f"{bundle.directory / constants.CONFIG_FILE}: bad decoding "
                              f"defaults ({error})") from None
        assistant.cache = cache
        return assistant

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    def reply(self, text: str, context: str | None = None, **options: Any) -> Reply:
        """Answers one text, said after `context` (see `reply_batch`).

        Raises:
            InputError: the text is empty or too long, or the context is not text.
            ValueError: an option is invalid.
        """
        result = self.reply_batch([text], contexts=None if context is None else [context],
                                  **options)[0]
        if result.error is not None:
            raise InputError(result.error)
        return result

    def reply_batch(self, texts: Sequence[str], batch_size: int = 64,
                    contexts: Sequence[str | None] | None = None,
                    **options: Any) -> list[Reply]:
        """Answers many texts, in input order.

        Texts are sorted by length and decoded in batches of at most `batch_size`; an input
        that cannot be answered gets a `Reply` with `error` set instead of raising, so the
        output always has one entry per input. With `self.cache`, an input answered before
        with the same options and context (outer whitespace aside) is not decoded again, nor
        is a unit (a record of a split line) answered before alone or in another line, nor a
        repeat within `texts`, unless the strategy is "sample" (a draw depends on the batch).

        Args:
            texts: the inputs.
            batch_size: rows decoded together.
            contexts: None, or one context per text (None or blank: none): what the
                conversation was about before it, in the form `Domain.remember` keeps
                (the warehouse: the last fault line and what a question named, e.g.
                "CV07:E217 T=85; SN02:W301 N=12"). A bundle that `reads_context` reads
                it before the text; the domain's check and fallback read it for every
                bundle. A text that already holds the context separator is read as the
                model's own source.
            **options: any option of `assistant.runtime.options`: the decoding options
                (strategy "greedy", "beam" or "sample", beam_width, length_penalty, n_best,
                temperature, top_k, top_p, seed, min_length, max_length_a, max_length_b) and
                the runtime options (rerank, segment, retry_beam, greedy_first,
                draft_below); unset ones take the bundle's defaults (`self.defaults`).

        Raises:
            ValueError: an option is invalid, or `contexts` does not hold one context per
                text (before anything is decoded).
        """
        request = self._request(options, batch_size)
        inputs = turns(texts, contexts)
        cache = None if request.options.decoding.strategy == "sample" else self.cache
        if cache is None:
            return self._reply_all(inputs, request)
        return cache.answer(inputs, request.options,
                            functools.partial(self._reply_all, request=request, cache=cache),
                            keyable=answerable, key=_TURN_KEY)

    def _reply_all(self, inputs: Sequence[Turn], request: _Request,
                   cache: ReplyCache | None = None) -> list[Reply]:
        """Answers every turn, decoding each (or each of its units) unless `cache` holds that
        unit's reply; the join, check and fallback run on every turn all the same."""
        units, plan = self._split(inputs, request.options.runtime.segment)
        if cache is None:
            answers = self._answer_units(units, request)
        else:
            answer = functools.partial(self._answer_units, request=request)
            if cache.slim and request.rerank and request.n_best == 1:
                answer = functools.partial(answer_by_template, templates=cache,
                                           template=self.domain.template, check=self._check,
                                           options_key=options_key(request.options),
                                           decode=answer)
            answers = cache.answer_units(units, request.options, answer, keyable=answerable,
                                         key=_TURN_KEY)
        replies = [
            answers[span.start] if parts is None
            else self._join(turn, parts, answers[span.start : span.stop], request.rerank)
            for turn, (parts, span) in zip(inputs, plan, strict=True)
        ]
        if request.rerank:
            replies = self._respelled(inputs, replies, request)
            replies = [self._fall_back(t, r) for t, r in zip(inputs, replies, strict=True)]
        return drafted(self.domain, inputs, replies, request.options)

    def _respelled(self, inputs: Sequence[Turn], replies: list[Reply],
                   request: _Request) -> list[Reply]:
        """Each input whose reply stays flagged answered again (`_again`); the new reply
        replaces the old when the check passes it against the input as it was."""
        again = [(index, retry) for index, (turn, reply)
                 in enumerate(zip(inputs, replies, strict=True)) if reply.flags
                 and isinstance(turn.text, str) and (retry := self._again(turn))]
        if not again:
            return replies
        replies = list(replies)
        answers = self._reply_all([turn for _, turn in again], request)
        for (index, _), answer in zip(again, answers, strict=True):
            if not answer.flags and not answer.error and not self._check(inputs[index],
                                                                          answer.text):
                replies[index] = answer
        return replies

    def _again(self, turn: Turn) -> Turn | None:
        """A flagged turn as `Domain.respell` writes it, else in the context `refocus`
        narrows it to, else (no narrower one) as `spell_out` writes it, read alone."""
        if spelled := self.domain.respell(turn.text):
            return Turn(spelled, turn.context)
        if not turn.context:
            return None
        if (narrowed := self.domain.refocus(turn.context, turn.text)) is not None:
            return Turn(turn.text, narrowed or None)
        spelled = self.domain.spell_out(turn.context, turn.text)
        return Turn(spelled) if spelled else None

    def _request(self, options: dict[str, Any], batch_size: int) -> _Request:
        resolved = ReplyOptions.resolve(self.defaults, options)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        decoding = resolved.decoding
        rerank = (resolved.runtime.rerank and self.domain.checks
                  and decoding.strategy == "beam")
        search = dataclasses.replace(decoding, n_best=decoding.beam_width) if rerank else decoding
        return _Request(resolved, search, rerank, batch_size)

    def _split(self, inputs: Sequence[Turn], segment: bool):
        """The units to decode (each input whole, or each unit of a split line, without the
        context) and, per input, its units (None: whole) and their span in the flat list."""
        units: list[Turn] = []
        plan: list[tuple[list[str] | None, range]] = []
        split = segment and "segment" in self.domain.runtime_options
        for turn in inputs:
            text = turn.text
            parts = (self.domain.split(text) if split and turn.problem is None
                     and isinstance(text, str) else None)
            plan.append((parts, range(len(units), len(units) + len(parts or (text,)))))
            units.extend([Turn(part) for part in parts] if parts else [turn])
        return units, plan

    def _answer_units(self, units: list[Turn], request: _Request) -> list[Reply]:
        """Decodes every unit (shortest first, in batches); errors become error replies."""
        answers: list[Reply | None] = [None] * len(units)
        encoded = []
        for index, turn in enumerate(units):
            ids, error = encode_turn(turn, self.tokenizer, self.reads_context,
                                     self.config.source_case, self.domain.model_text,
                                     self.domain.model_context)
            if error is not None:
                answers[index] = Reply(text="", score=float("nan"), error=error)
            elif request.rerank and (flag := self.domain.unreadable(turn.text,
                                                                    turn.context or "")):
                answers[index] = self._fall_back(turn, _refused(flag))
            else:
                encoded.append(_Unit(index, ids, turn, self._limit(turn, request.rerank)))
        encoded.sort(key=lambda unit: len(unit.ids))
        runtime = request.options.runtime
        if request.rerank and runtime.greedy_first and request.n_best == 1:
            greedy = dataclasses.replace(request.search, strategy="greedy", beam_width=1,
                                         n_best=1)
            judged = {u.index for u in encoded if self.domain.judges(u.turn.text)}
            self._decode_all([u for u in encoded if u.index in judged], answers, greedy, request)
            encoded = [u for u in encoded if u.index not in judged or answers[u.index].flags]
        self._decode_all(encoded, answers, request.search, request)
        if request.rerank and runtime.retry_beam > request.options.decoding.beam_width:
            flagged = [unit for unit in encoded if answers[unit.index].flags]
            wide = dataclasses.replace(request.search, beam_width=runtime.retry_beam,
                                       n_best=runtime.retry_beam)
            self._decode_all(flagged, answers, wide, request, keep_flagged=False)
        return answers  # type: ignore[return-value]

    def _decode_all(self, units: list[_Unit], answers: list, search, request: _Request,
                    keep_flagged: bool = True) -> None:
        """Decodes `units` in chunks of `request.batch_size` into `answers`; with
        `keep_flagged` False a new reply replaces the old one only when it is unflagged."""
        for start in range(0, len(units), request.batch_size):
            chunk = units[start : start + request.batch_size]
            for unit, reply in zip(chunk, self._decode_chunk(chunk, search, request),
                                   strict=True):
                if keep_flagged or not reply.flags:
                    answers[unit.index] = reply

    def _fall_back(self, turn: Turn, reply: Reply) -> Reply:
        """A reply whose flags survived the rerank (and retry) gets the domain's fallback
        text, if it has one; the flags stay, so surfaces still warn."""
        if not reply.flags:
            return reply
        if turn.context and takes_context(type(self.domain).fallback):
            fallback = self.domain.fallback(turn.text, reply.flags, context=turn.context)
        else:
            fallback = self.domain.fallback(turn.text, reply.flags)
        if fallback is None:
            return reply
        return Reply(text=fallback, score=reply.score,
                     alternatives=(Alternative(fallback, reply.score),), flags=reply.flags,
                     source_pieces=reply.source_pieces)

    def _join(self, turn: Turn, parts: list[str], replies: list[Reply], rerank: bool) -> Reply:
        """The line's reply from its units'; with the rerank, the flags of its refused units
        (`Domain.unreadable`: answered by their fallback, which the check may pass) stay."""
        joined = join_units(replies, self.domain.order(parts))
        if joined.error is not None or not self.domain.checks:
            return joined
        refused = [flag for part in parts if rerank and (flag := self.domain.unreadable(part))]
        flags = dict.fromkeys([*refused, *self._check(turn, joined.text)])
        return dataclasses.replace(joined, flags=tuple(flags))

    def _check(self, turn: Turn, reply: str) -> tuple[str, ...]:
        """The domain's flags of `reply` to `turn`, with its context if it has one."""
        if turn.context and takes_context(type(self.domain).check):
            return tuple(self.domain.check(turn.text, reply, context=turn.context))
        return tuple(self.domain.check(turn.text, reply))

    def warm_up(self, **options: Any) -> None:
        """Compiles the graph of the shortest bucket for these options (e.g. at start-up)."""
        self.reply_batch(["warm up"], **options)

    def _limit(self, turn: Turn, rerank: bool) -> int | None:
        """With the rerank, the limit of the reply from the domain's `reply_bound`, or None."""
        bound = (None if not rerank or turn.context or not isinstance(turn.text, str)
                 else self.domain.reply_bound(turn.text))
        return bounded_limit(len(self.tokenizer.encode(bound))) if bound else None

    def _decode_chunk(self, chunk: list[_Unit], search, request: _Request) -> list[Reply]:
        longest = max(len(unit.ids) for unit in chunk)
        budget = step_budget(search)
        rows = max(batch_bucket(len(chunk)), batch_bucket(self.min_batch_rows))
        source = np.full((rows, source_bucket(longest)), constants.PAD_ID,
                         np.int32)  # (rows, src_len)
        limits = np.full(source.shape[0], budget, np.int32)
        for row, unit in enumerate(chunk):
            source[row, : len(unit.ids)] = unit.ids
            limits[row] = min(unit.limit or budget, budget)
        result = self._graphs.run(source, search, budget, limits)
        return [result_reply(result, row, unit.ids, self.tokenizer, self.config.copy,
                             functools.partial(self._choose, unit.turn, rerank=request.rerank),
                             request.n_best)
                for row, unit in enumerate(chunk)]

    def _choose(self, turn: Turn, alternatives: list[Alternative],
                rerank: bool) -> tuple[int, tuple[str, ...]]:
        """The rank of the hypothesis to answer with and its flags: the first one the
        domain's check passes when reranking, else the best."""
        if not self.domain.checks:
            return 0, ()
        flags = self._check(turn, alternatives[0].text)
        for rank in range(1, len(alternatives) if rerank and flags else 1):
            candidate = self._check(turn, alternatives[rank].text)
            if not candidate:
                return rank, candidate
        return 0, flags


def _refused(flag: str) -> Reply:
    """A unit the domain refused (`Domain.unreadable`), before its fallback: the flag."""
    return Reply(text="", score=float("nan"), flags=(flag,))
