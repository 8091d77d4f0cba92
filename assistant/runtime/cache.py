"""A bounded LRU cache of replies at two levels: lines, and the units of lines.

Logs repeat the same fault records all day, but a line of several records ("CV07:E217 T=85;
SN02:W301 N=12") is often a new combination of records seen before. So the cache has two
levels, both keyed by (a text stripped of outer whitespace, the fully resolved `ReplyOptions`):

- inputs: `ReplyCache.answer` answers a list of inputs; a hit is the input's final reply
  (joined, checked and fallen back), so it saves everything;
- units: `ReplyCache.answer_units` answers the units of the inputs missed above (each record
  of a split line, or the input itself when it is not split); a hit is the unit's reply before
  the join, so a new line made of records seen before decodes nothing, and the caller still
  joins, checks and falls back (`Assistant._reply_all`).

At each level only the misses are decoded, each distinct one once even when it repeats within
the call, and their replies are stored; the order of the output and one reply per input are
kept. A unit's reply may stand in for the same unit in another line because it depends on the
unit's text and the options alone: `Assistant._answer_units` decodes, reranks and retries each
unit by itself, checking it with `Domain.check(unit, hypothesis)`; all that depends on the
line (the order of the answers, the check of the joined reply, the fallback) comes after.

The bound, `max_entries`, is split in two LRUs: inputs hold `max_entries // 2` replies, units
the rest. One shared LRU would let the inputs crowd out the units: an input found whole never
looks at its units, so the many input hits would age the unit entries that the next new
combination of records needs, and a unit entry is what saves a decode (an input entry over
cached units saves only the join and the check). Apart, each level's recency follows its own
traffic: a unit stays while lines that miss still use it. An input that is not split is held
at both levels, mostly as the same `Reply` object.

An input said after a context (`Assistant.reply(text, context=...)`) is keyed by its
context too (`inputs.Turn.key`): the same words after another context are another question.

A key must never join two texts whose replies differ. Stripping is the only normalisation:
the tokenizer strips its input (`normalize_source`), and a domain must read outer whitespace as
nothing (the warehouse's split, check and fallback give the same result with or without it).
Case is kept: a model with `source_case="upper"` sees "cv07:e217" and "CV07:E217" alike, but
the check and the fallback quote the input as typed. The options are compared by name, type
and value, so 1 and 1.0 are two keys: never a wrong reply, at worst a miss. What the key does
not hold must not change while the cache lives: the model's weights, the tokenizer and the
domain (`Assistant.load` owns its parts; see `Assistant`).

Not cached, at either level: texts that are not text or cannot be answered (they get cheap
error replies), and any error reply. The caller keeps sampling away from the cache.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI reads DEFAULT_CACHE_SIZE without importing numpy
    from assistant.runtime.options import ReplyOptions
    from assistant.runtime.reply import Reply

# Entries kept by `Assistant.load` (and `convert --cache-size`), both levels together. A reply
# holds its attention, pieces and log-probs: about 8-17 KB for a fault line of one or two
# records (README, "Using the model from Python"), so the default stays under 100 MB while
# holding the distinct faults of a long log; the bound is on entries, so a cache of very long
# inputs holds more.
DEFAULT_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """The counters of a `ReplyCache`.

    Attributes:
        hits: inputs answered whole without decoding (found, or repeating a miss of the
            same call).
        misses: inputs not found whole (one per distinct key of a call that was not found).
        unit_hits: units of those missed inputs answered without decoding, counted alike.
        unit_misses: units decoded.
        entries: replies held, at both levels.
        max_entries: the bound on `entries`.
        template_hits: of the `unit_misses`, units answered from their template's reply
            (`assistant.runtime.templates`; slim caches only) rather than decoded.
    """

    hits: int
    misses: int
    unit_hits: int
    unit_misses: int
    entries: int
    max_entries: int
    template_hits: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def unit_lookups(self) -> int:
        return self.unit_hits + self.unit_misses


class ReplyCache:
    """Two least-recently-used maps from (stripped text, resolved options) to its `Reply`:
    one of inputs, one of units (see the module docstring).

    Thread-safe (the chat decodes in a model thread and warms up in another). A hit returns
    the stored `Reply` itself; a stored reply's attention array is made read-only, so no
    caller can change what a later hit returns.

    Args:
        max_entries: the most replies held: `max_entries // 2` inputs and the rest units;
            storing one more at a level drops that level's least recently used.
        slim: store each reply with its text, score, alternatives and flags only (no
            attention, pieces, log-probs or copy gate), for a caller that reads no more
            (`convert`): a few hundred bytes a reply instead of 8-17 KB, and a line of
            many records no longer holds its block-diagonal attention (tens of MB for a
            paste of 100 records). A hit then returns the slim reply.

    Raises:
        ValueError: `max_entries` is not an int >= 1 (no cache at all is `cache=None`).
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE, slim: bool = False) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise ValueError(f"max_entries must be an int >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self.slim = slim
        self._inputs = _Level(max_entries // 2)
        self._units = _Level(max_entries - max_entries // 2)
        # slim only: template -> (reply, its values), as many as units (`templates`)
        self._templates = _Level(max_entries - max_entries // 2 if slim else 0)
        self._template_hits = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._inputs.entries) + len(self._units.entries)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            inputs, units = self._inputs, self._units
            return CacheStats(inputs.hits, inputs.misses, units.hits, units.misses, len(self),
                              self.max_entries, self._template_hits)

    def get(self, key: Hashable, unit: bool = False) -> Reply | None:
        """The reply stored under `key` at the input level (or the unit level), now the
        most recently used, or None; counts a hit or a miss of that level."""
        level = self._units if unit else self._inputs
        with self._lock:
            return level.get(key)

    def put(self, key: Hashable, reply: Reply, unit: bool = False) -> None:
        """Stores `reply` at the input level (or the unit level) as the most recently used,
        dropping that level's least recently used beyond its bound; an error reply is not
        stored."""
        if reply.error is not None:
            return
        if self.slim:
            reply = _slim(reply)
        elif reply.attention is not None:
            reply.attention.setflags(write=False)
        level = self._units if unit else self._inputs
        with self._lock:
            level.put(key, reply)

    def get_template(self, key: Hashable) -> tuple[Reply, tuple[str, ...]] | None:
        """The (reply, values) stored for a template key, or None (always, unless slim)."""
        with self._lock:
            return self._templates.get(key)

    def put_template(self, key: Hashable, entry: tuple[Reply, tuple[str, ...]]) -> None:
        """Stores a template's (reply, values), the reply made slim (slim caches only)."""
        if not self.slim:
            return
        reply = _slim(entry[0])
        with self._lock:
            self._templates.put(key, (reply, entry[1]))

    def count_template_hit(self) -> None:
        with self._lock:
            self._template_hits += 1

    def clear(self) -> None:
        """Drops every reply and resets the counters, at every level."""
        with self._lock:
            for level in (self._inputs, self._units, self._templates):
                level.entries.clear()
                level.hits = level.misses = 0
            self._template_hits = 0

    def answer(self, texts: Sequence[Any], options: ReplyOptions,
               answer: Callable[[list[Any]], list[Reply]],
               keyable: Callable[[Any], bool] | None = None,
               key: Callable[[Any], Hashable] | None = None) -> list[Reply]:
        """Answers inputs in order, one reply each, through the input level.

        Args:
            texts: the inputs.
            options: the resolved options of the call (part of every key).
            answer: `answer(texts) -> replies` in the same order; called at most once, with
                the first occurrence of each missed key and every input not keyed.
            keyable: whether an input may be looked up (default: a text that is not blank);
                one that may not goes to `answer` as it is, every time.
            key: the key of a keyable input, beside the options (default: the text
                stripped); it must tell apart any two inputs whose replies differ.

        Returns:
            The replies, in the order of `texts`.
        """
        return self._answer(False, texts, options, answer, keyable, key)

    def answer_units(self, units: Sequence[Any], options: ReplyOptions,
                     answer: Callable[[list[Any]], list[Reply]],
                     keyable: Callable[[Any], bool] | None = None,
                     key: Callable[[Any], Hashable] | None = None) -> list[Reply]:
        """Answers units in order, one reply each, through the unit level; the same contract
        as `answer`, where a reply is a unit's before any join."""
        return self._answer(True, units, options, answer, keyable, key)

    def _answer(self, unit: bool, texts: Sequence[Any], options: ReplyOptions,
                answer: Callable[[list[Any]], list[Reply]],
                keyable: Callable[[Any], bool] | None,
                text_key: Callable[[Any], Hashable] | None) -> list[Reply]:
        keyable = keyable or _is_text
        text_key = text_key or str.strip
        option_key = options_key(options)
        replies: list[Reply | None] = [None] * len(texts)
        waiting: dict[Hashable, list[int]] = {}  # a missed key -> the positions it answers
        unkeyed: list[int] = []
        for position, text in enumerate(texts):
            if not keyable(text):
                unkeyed.append(position)
                continue
            key = (text_key(text), option_key)
            if key in waiting:  # a repeat of this call's miss: decoded once
                waiting[key].append(position)
                self._count_hit(unit)
            elif (reply := self.get(key, unit)) is not None:
                replies[position] = reply
            else:
                waiting[key] = [position]
        asked = [texts[positions[0]] for positions in waiting.values()]
        asked += [texts[position] for position in unkeyed]
        answers = answer(asked) if asked else []
        if len(answers) != len(asked):
            raise RuntimeError(f"answer returned {len(answers)} replies for {len(asked)} texts")
        for (key, positions), reply in zip(waiting.items(), answers[: len(waiting)],
                                           strict=True):
            self.put(key, reply, unit)
            for position in positions:
                replies[position] = reply
        for position, reply in zip(unkeyed, answers[len(waiting):], strict=True):
            replies[position] = reply
        return replies  # type: ignore[return-value]

    def _count_hit(self, unit: bool) -> None:
        with self._lock:
            (self._units if unit else self._inputs).hits += 1


def new_cache(size: int) -> ReplyCache | None:
    """A `ReplyCache` of `size` entries, or None for 0 (no cache).

    Raises:
        ValueError: `size` is not an int >= 0.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"cache_size must be an int >= 0 (0 is off), got {size!r}")
    return ReplyCache(size) if size else None


def options_key(options: ReplyOptions) -> tuple:
    """A hashable key of resolved options: (name, type name, value) of every option, sorted
    by name, lists made tuples."""
    return tuple((name, type(value).__name__, _frozen(value))
                 for name, value in sorted(options.to_dict().items()))


class _Level:
    """One level of a `ReplyCache`: an LRU map and its counters (the cache's lock guards it).
    A bound of 0 (the input level of a cache of one entry) holds nothing."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: collections.OrderedDict[Hashable, Reply] = collections.OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Reply | None:
        reply = self.entries.get(key)
        if reply is None:
            self.misses += 1
            return None
        self.hits += 1
        self.entries.move_to_end(key)
        return reply

    def put(self, key: Hashable, reply: Reply) -> None:
        self.entries[key] = reply
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


def _is_text(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip())


def _slim(reply: Reply) -> Reply:
    """`reply` with its text, score, alternatives and flags only."""
    return dataclasses.replace(reply, attention=None, source_pieces=(), pieces=(),
                               token_log_probs=(), copy_gate=())
