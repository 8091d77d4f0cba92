"""The inference facade: `Assistant.load(bundle).reply(text, **options) -> Reply`.

Surfaces (chat, convert, export) talk only to this module; it owns tokenization, length
bucketing, the compiled decoding graphs and the conversion of results to plain Python. What
a bundle's domain knows (splitting a line into units, ordering their answers, checking a
reply) comes in through the `Domain` protocol; this module imports no domain.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.core import constants
from assistant.core.config import ModelConfig
from assistant.core.tokenizer import Tokenizer, normalize_source
from assistant.decoding.buckets import MAX_SOURCE_PIECES, batch_bucket, source_bucket, step_budget
from assistant.runtime.bundle import BundleError, load_bundle
from assistant.runtime.cache import DEFAULT_CACHE_SIZE, ReplyCache
from assistant.runtime.domain import Domain, NullDomain
from assistant.runtime.options import ReplyOptions, default_options
from assistant.runtime.reply import Alternative, InputError, Reply
from assistant.runtime.units import join_units

__all__ = ["Alternative", "Assistant", "BundleError", "InputError", "Reply"]


@dataclasses.dataclass(frozen=True)
class _Unit:
    """One text decoded on its own: a whole input, or one unit of a split line."""

    index: int  # its place in the flat list of units
    ids: list[int]  # its pieces
    text: str


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

    Attributes:
        cache: the `ReplyCache` of `reply_batch`, or None; set it to None (or a new
            `ReplyCache`) at any time.

    Raises:
        ValueError: the defaults are not valid options, or `cache_size` is negative.
    """

    def __init__(self, model, tokenizer: Tokenizer, name: str = "model",
                 domain: Domain | None = None, defaults: dict[str, Any] | None = None,
                 cache_size: int = 0) -> None:
        from assistant.core.binding import bind_model
        from assistant.decoding.graphs import DecodingGraphs

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.domain = domain or NullDomain()
        self.defaults = ReplyOptions.resolve(default_options(), defaults or {}).to_dict()
        self._graphs = DecodingGraphs(functools.partial(bind_model, model))
        self.cache = _new_cache(cache_size)

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
        cache = _new_cache(cache_size)
        bundle = load_bundle(bundle_dir)
        try:
            assistant = cls(bundle.model, bundle.tokenizer, name=bundle.directory.name,
                            domain=bundle.domain, defaults=bundle.defaults)
        except (TypeError, ValueError) as error:
            raise BundleError(f"{bundle.directory / constants.CONFIG_FILE}: bad decoding "
                              f"defaults ({error})") from None
        assistant.cache = cache
        return assistant

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    def reply(self, text: str, **options: Any) -> Reply:
        """Answers one text; see `reply_batch` for the options.

        Raises:
            InputError: the text is empty or too long.
            ValueError: an option is invalid.
        """
        result = self.reply_batch([text], **options)[0]
        if result.error is not None:
            raise InputError(result.error)
        return result

    def reply_batch(self, texts: Sequence[str], batch_size: int = 64,
                    **options: Any) -> list[Reply]:
        """Answers many texts, in input order.

        Texts are sorted by length and decoded in batches of at most `batch_size`; an input
        that cannot be answered gets a `Reply` with `error` set instead of raising, so the
        output always has one entry per input. With `self.cache`, an input answered before
        with the same options (outer whitespace aside) is not decoded again, nor is a unit
        (a record of a split line) answered before alone or in another line, nor a repeat
        within `texts`, unless the strategy is "sample" (a draw depends on the batch).

        Args:
            texts: the inputs.
            batch_size: rows decoded together.
            **options: any option of `assistant.runtime.options`: the decoding options
                (strategy "greedy", "beam" or "sample", beam_width, length_penalty, n_best,
                temperature, top_k, top_p, seed, min_length, max_length_a, max_length_b) and
                the runtime options (rerank, segment, retry_beam); unset ones take the
                bundle's defaults (`self.defaults`).

        Raises:
            ValueError: an option is invalid (before anything is decoded).
        """
        request = self._request(options, batch_size)
        cache = None if request.options.decoding.strategy == "sample" else self.cache
        if cache is None:
            return self._reply_all(texts, request)
        return cache.answer(texts, request.options,
                            functools.partial(self._reply_all, request=request, cache=cache),
                            keyable=_answerable)

    def _reply_all(self, texts: Sequence[str], request: _Request,
                   cache: ReplyCache | None = None) -> list[Reply]:
        """Answers every text, decoding each (or each of its units) unless `cache` holds that
        unit's reply; the join, check and fallback run on every text all the same."""
        units, plan = self._split(texts, request.options.runtime.segment)
        if cache is None:
            answers = self._answer_units(units, request)
        else:
            answers = cache.answer_units(units, request.options,
                                         functools.partial(self._answer_units, request=request),
                                         keyable=_answerable)
        replies = [
            answers[span.start] if parts is None
            else self._join(text, parts, answers[span.start : span.stop])
            for text, (parts, span) in zip(texts, plan, strict=True)
        ]
        if not request.rerank:
            return replies
        return [self._fall_back(text, reply) for text, reply in zip(texts, replies, strict=True)]

    def _request(self, options: dict[str, Any], batch_size: int) -> _Request:
        resolved = ReplyOptions.resolve(self.defaults, options)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        decoding = resolved.decoding
        rerank = (resolved.runtime.rerank and self.domain.checks
                  and decoding.strategy == "beam")
        search = dataclasses.replace(decoding, n_best=decoding.beam_width) if rerank else decoding
        return _Request(resolved, search, rerank, batch_size)

    def _split(self, texts: Sequence[str], segment: bool):
        """The units to decode (each input whole, or each unit of a split line) and, per
        input, its units (None: whole) and their span in the flat list."""
        units: list[str] = []
        plan: list[tuple[list[str] | None, range]] = []
        split = segment and "segment" in self.domain.runtime_options
        for text in texts:
            parts = self.domain.split(text) if split and isinstance(text, str) else None
            plan.append((parts, range(len(units), len(units) + len(parts or (text,)))))
            units.extend(parts or (text,))
        return units, plan

    def _answer_units(self, texts: list[str], request: _Request) -> list[Reply]:
        """Decodes every unit (shortest first, in batches); errors become error replies."""
        answers: list[Reply | None] = [None] * len(texts)
        encoded = []
        for index, text in enumerate(texts):
            ids, error = self._encode(text)
            if error is not None:
                answers[index] = Reply(text="", score=float("nan"), error=error)
            else:
                encoded.append(_Unit(index, ids, text))
        encoded.sort(key=lambda unit: len(unit.ids))
        self._decode_all(encoded, answers, request.search, request)
        retry = request.options.runtime.retry_beam
        if request.rerank and retry > request.options.decoding.beam_width:
            flagged = [unit for unit in encoded if answers[unit.index].flags]
            wide = dataclasses.replace(request.search, beam_width=retry, n_best=retry)
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

    def _fall_back(self, text: str, reply: Reply) -> Reply:
        """A reply whose flags survived the rerank (and retry) gets the domain's fallback
        text, if it has one; the flags stay, so surfaces still warn."""
        if not reply.flags:
            return reply
        fallback = self.domain.fallback(text, reply.flags)
        if fallback is None:
            return reply
        return Reply(text=fallback, score=reply.score,
                     alternatives=(Alternative(fallback, reply.score),), flags=reply.flags,
                     source_pieces=reply.source_pieces)

    def _join(self, text: str, parts: list[str], replies: list[Reply]) -> Reply:
        joined = join_units(replies, self.domain.order(parts))
        if joined.error is not None or not self.domain.checks:
            return joined
        return dataclasses.replace(joined, flags=tuple(self.domain.check(text, joined.text)))

    def warm_up(self, **options: Any) -> None:
        """Compiles the graph of the shortest bucket for these options (e.g. at start-up)."""
        self.reply_batch(["warm up"], **options)

    def _encode(self, text: str) -> tuple[list[int], str | None]:
        """The pieces of one unit, or the one-line reason it cannot be answered; never raises,
        so one bad input cannot take its batch down."""
        if not isinstance(text, str):
            return [], f"input must be text, not {type(text).__name__}"
        problem = _unusable_text(text)
        if problem is not None:
            return [], problem
        try:
            ids = self.tokenizer.encode(normalize_source(text, self.config.source_case))
        except Exception as error:  # the tokenizer is C++: whatever it refuses is this input's
            return [], f"cannot tokenize the input: {type(error).__name__}: {_first_line(error)}"
        if len(ids) > MAX_SOURCE_PIECES:
            return [], (f"input too long: {len(ids)} pieces, the limit is "
                        f"{MAX_SOURCE_PIECES} (about {MAX_SOURCE_PIECES * 3} characters)")
        return ids, None

    def _decode_chunk(self, chunk: list[_Unit], search, request: _Request) -> list[Reply]:
        longest = max(len(unit.ids) for unit in chunk)
        source = np.full((batch_bucket(len(chunk)), source_bucket(longest)), constants.PAD_ID,
                         np.int32)  # (rows, src_len)
        for row, unit in enumerate(chunk):
            source[row, : len(unit.ids)] = unit.ids
        result = self._graphs.run(source, search, step_budget(search, source.shape[1]))
        return [self._to_reply(result, row, unit.ids, unit.text, request.n_best, request.rerank)
                for row, unit in enumerate(chunk)]

    def _to_reply(self, result, row: int, source_ids: list[int], source_text: str,
                  n_best: int, rerank: bool) -> Reply:
        tokenizer = self.tokenizer
        alternatives = []
        # Hypotheses scored -inf are none (a beam wider than the search space, or one that
        # had not ended when early stopping froze the row): only the best is always kept.
        ranks = 1 + int(np.isfinite(result.scores[row, 1:]).sum())
        for rank in range(ranks):
            length = int(result.lengths[row, rank])
            ids = result.tokens[row, rank, :length]
            alternatives.append(Alternative(tokenizer.decode(ids),
                                            float(result.scores[row, rank])))
        best, flags = self._choose(source_text, alternatives, rerank)
        # The chosen hypothesis first, the others in score order, cut to the n-best asked for.
        order = [best] + [rank for rank in range(len(alternatives)) if rank != best]
        alternatives = [alternatives[rank] for rank in order[:n_best]]
        best_length = int(result.lengths[row, best])
        best_ids = result.tokens[row, best, :best_length]
        attention, copy_gate = None, ()
        if result.attention is not None:
            weights = result.attention[row, best, :best_length]  # (T, src_len [+ 1])
            # a copy: a view would keep the whole batch's attention alive with the reply
            attention = np.array(weights[:, : len(source_ids)], np.float32)
            if self.config.copy:  # the gate rides in the last column (core.binding)
                copy_gate = tuple(float(x) for x in weights[:, -1])
        return Reply(
            text=alternatives[0].text,
            score=alternatives[0].score,
            alternatives=tuple(alternatives),
            attention=attention,
            source_pieces=tuple(tokenizer.ids_to_pieces(source_ids)),
            pieces=tuple(tokenizer.ids_to_pieces(best_ids)),
            token_log_probs=tuple(float(x)
                                  for x in result.token_log_probs[row, best, :best_length]),
            copy_gate=copy_gate,
            flags=flags,
        )


    def _choose(self, source_text: str, alternatives: list[Alternative],
                rerank: bool) -> tuple[int, tuple[str, ...]]:
        """The rank of the hypothesis to answer with and its flags: the first one the
        domain's check passes when reranking, else the best."""
        if not self.domain.checks:
            return 0, ()
        flags = tuple(self.domain.check(source_text, alternatives[0].text))
        for rank in range(1, len(alternatives) if rerank and flags else 1):
            candidate = tuple(self.domain.check(source_text, alternatives[rank].text))
            if not candidate:
                return rank, candidate
        return 0, flags


# What makes a text empty: controls (NUL...), format characters (zero-width space, joiners,
# BOM, bidi marks, soft hyphen), and separators (spaces, line and paragraph separators) ...
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# ... and the default-ignorable code points of other categories (Unicode's
# DerivedCoreProperties): combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors, variation selectors, and the plane-14 tags and selectors.
_IGNORABLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
                     (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0000, 0xE0FFF))
_SURROGATE = re.compile("[\ud800-\udfff]")  # what `surrogateescape` makes of a stray byte


def _new_cache(size: int) -> ReplyCache | None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"cache_size must be an int >= 0 (0 is off), got {size!r}")
    return ReplyCache(size) if size else None


def _answerable(text: Any) -> bool:
    """Whether `text` may be looked up in the cache: text that is not refused before
    decoding (a refusal is cheap, and names a character position that outer spaces move)."""
    return isinstance(text, str) and _unusable_text(text) is None


def _unusable_text(text: str) -> str | None:
    """Why `text` cannot be answered (one line), or None.

    A lone surrogate is not Unicode (UTF-8 cannot encode it, so neither can the tokenizer):
    the input is refused, as one error reply, rather than answered after a silent
    replacement. A text of invisible characters only is empty.
    """
    surrogate = None if text.isascii() else _SURROGATE.search(text)
    if surrogate is not None:
        return (f"input is not valid Unicode: lone surrogate U+{ord(surrogate.group()):04X} "
                f"at character {surrogate.start() + 1} (decode bytes with errors='replace')")
    if not text.strip() or all(_is_invisible(char) for char in text):
        return "empty input"
    return None


def _is_invisible(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in _INVISIBLE_CATEGORIES
            or any(low <= code <= high for low, high in _IGNORABLE_RANGES))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no message"
