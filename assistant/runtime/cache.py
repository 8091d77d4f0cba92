"""A bounded LRU cache of replies: an input seen before is answered without decoding.

Logs repeat the same faults all day. `ReplyCache.answer` answers a list of inputs through
the cache: each input is looked up under (its text stripped of outer whitespace, the fully
resolved `ReplyOptions`); only the misses are decoded, each distinct one once even when it
repeats within the call, and their replies are stored. The order of the output and one reply
per input are kept.

A key must never join two inputs whose replies differ. Stripping is the only normalisation:
the tokenizer strips its input (`normalize_source`), and a domain must read outer whitespace as
nothing (the warehouse's split, check and fallback give the same result with or without it).
Case is kept: a model with `source_case="upper"` sees "cv07:e217" and "CV07:E217" alike, but
the check and the fallback quote the input as typed. The options are compared by name, type
and value, so 1 and 1.0 are two keys: never a wrong reply, at worst a miss. What the key does
not hold must not change while the cache lives: the model's weights, the tokenizer and the
domain (`Assistant.load` owns its parts; see `Assistant`).

Not cached: inputs that are not text or cannot be answered (they get cheap error replies),
and any error reply.
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

# Entries kept by `Assistant.load` (and `convert --cache-size`). A reply holds its attention,
# pieces and log-probs: about 8-17 KB for a fault line of one or two records (README, "Using
# the model from Python"), so the default stays under 100 MB while holding every distinct fault
# of a long log; the bound is on entries, so a cache of very long inputs holds more.
DEFAULT_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """The counters of a `ReplyCache`.

    Attributes:
        hits: inputs answered without decoding (found, or repeating a miss of the same call).
        misses: inputs decoded (one per distinct key of a call that was not found).
        entries: replies held.
        max_entries: the bound on `entries`.
    """

    hits: int
    misses: int
    entries: int
    max_entries: int

    @property
    def lookups(self) -> int:
        return self.hits + self.misses


class ReplyCache:
    """A least-recently-used map from (stripped input, resolved options) to its `Reply`.

    Thread-safe (the chat decodes in a model thread and warms up in another). A hit returns
    the stored `Reply` itself; a stored reply's attention array is made read-only, so no
    caller can change what a later hit returns.

    Args:
        max_entries: the most replies held; storing one more drops the least recently used.

    Raises:
        ValueError: `max_entries` is not an int >= 1 (no cache at all is `cache=None`).
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise ValueError(f"max_entries must be an int >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._entries: collections.OrderedDict[Hashable, Reply] = collections.OrderedDict()
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self.max_entries)

    def get(self, key: Hashable) -> Reply | None:
        """The reply stored under `key`, now the most recently used, or None; counts a hit
        or a miss."""
        with self._lock:
            reply = self._entries.get(key)
            if reply is None:
                self._misses += 1
                return None
            self._hits += 1
            self._entries.move_to_end(key)
            return reply

    def put(self, key: Hashable, reply: Reply) -> None:
        """Stores `reply` as the most recently used, dropping the least recently used beyond
        `max_entries`; an error reply is not stored."""
        if reply.error is not None:
            return
        if reply.attention is not None:
            reply.attention.setflags(write=False)
        with self._lock:
            self._entries[key] = reply
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drops every reply and resets the counters."""
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0

    def answer(self, texts: Sequence[Any], options: ReplyOptions,
               answer: Callable[[list[Any]], list[Reply]],
               keyable: Callable[[Any], bool] | None = None) -> list[Reply]:
        """Answers `texts` in input order, one reply each, decoding only what is not held.

        Args:
            texts: the inputs.
            options: the resolved options of the call (part of every key).
            answer: `answer(texts) -> replies` in the same order; called at most once, with
                the first occurrence of each missed key and every input not keyed.
            keyable: whether an input may be looked up (default: a text that is not blank);
                one that may not goes to `answer` as it is, every time.

        Returns:
            The replies, in the order of `texts`.
        """
        keyable = keyable or _is_text
        option_key = options_key(options)
        replies: list[Reply | None] = [None] * len(texts)
        waiting: dict[Hashable, list[int]] = {}  # a missed key -> the positions it answers
        unkeyed: list[int] = []
        for position, text in enumerate(texts):
            if not keyable(text):
                unkeyed.append(position)
                continue
            key = (text.strip(), option_key)
            if key in waiting:  # a repeat of this call's miss: decoded once
                waiting[key].append(position)
                self._count_hit()
            elif (reply := self.get(key)) is not None:
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
            self.put(key, reply)
            for position in positions:
                replies[position] = reply
        for position, reply in zip(unkeyed, answers[len(waiting):], strict=True):
            replies[position] = reply
        return replies  # type: ignore[return-value]

    def _count_hit(self) -> None:
        with self._lock:
            self._hits += 1


def options_key(options: ReplyOptions) -> tuple:
    """A hashable key of resolved options: (name, type name, value) of every option, sorted
    by name, lists made tuples."""
    return tuple((name, type(value).__name__, _frozen(value))
                 for name, value in sorted(options.to_dict().items()))


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


def _is_text(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip())
