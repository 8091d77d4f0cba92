"""A reply to a unit whose values changed, from the reply to the same unit with others.

A log repeats the same faults all day with values that drift: "CV07:E217 T=85" at 8:00 and
"CV07:E217 T=86" at 8:05 are two lines but one fault, and the model's reply to the second is
the first's with 86 for 85 (it copies values; the copy-attention issue). A slim reply cache
(`ReplyCache(slim=True)`, what `convert` uses) also keeps, per template (the unit with its
values taken out, `Domain.template`), the last reply decoded without flags and its values.
A unit that misses the exact cache but hits its template gets that reply with each changed
value substituted, and only when every step is sure:

- the domain gave a template (it does only for units whose values are plain numbers that
  no other part of the unit repeats, e.g. not when the value equals the unit number);
- each value that changed occurs at most once in the stored reply as a whole number (none:
  the reply does not tell it, so it stays as it is);
- the domain's check passes the new reply against the new unit (the same check the rerank
  applies to every hypothesis: the values, their phrases and units, the unit and code).

Anything else is decoded as before, and a decoded reply without flags becomes the
template's reply. Only the text, score and alternatives carry over (no attention or pieces:
the slim cache keeps none). `convert`'s figures with and without it are in the README.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence

from assistant.runtime.reply import Alternative, Reply

# (template text, values) of a unit, from `Domain.template`
Template = tuple[str, tuple[str, ...]]


def filled(text: str, old: Sequence[str], new: Sequence[str]) -> str | None:
    """`text` with each value of `old` that differs in `new` replaced by it, or None when
    one of them occurs more than once in `text` as a whole number."""
    changes = {before: after for before, after in zip(old, new, strict=True) if before != after}
    if not changes:
        return text
    pattern = re.compile(r"(?<![0-9A-Za-z.])(" + "|".join(
        re.escape(value) for value in sorted(changes, key=len, reverse=True))
        + r")(?![0-9A-Za-z]|\.[0-9])")
    found = pattern.findall(text)
    if len(found) != len(set(found)):
        return None
    return pattern.sub(lambda match: changes[match.group(1)], text)


def answer_by_template(units: Sequence, templates, template: Callable[[str], Template | None],
                       check: Callable[[object, str], Sequence[str]], options_key: Hashable,
                       decode: Callable[[list], list[Reply]]) -> list[Reply]:
    """Answers `units` (turns missed by the exact cache), each from its template's reply
    when that is sure, else by `decode`; stores the templates of decoded unflagged replies.

    Args:
        units: the turns to answer (`text`, `context`).
        templates: the slim `ReplyCache` (its template level).
        template: the domain's `template`.
        check: `check(turn, reply_text) -> flags` of the domain.
        options_key: the call's resolved options, part of every key.
        decode: answers a list of turns, in order.
    """
    replies: list[Reply | None] = [None] * len(units)
    pending: list[tuple[int, Hashable | None, tuple[str, ...]]] = []
    for position, unit in enumerate(units):
        found = (template(unit.text) if isinstance(unit.text, str) and not unit.context
                 else None)
        key = None if found is None else (found[0], options_key)
        stored = None if key is None else templates.get_template(key)
        if stored is not None:
            text = filled(stored[0].text, stored[1], found[1])
            if text is not None and not check(unit, text):
                replies[position] = Reply(text=text, score=stored[0].score,
                                          alternatives=(Alternative(text, stored[0].score),))
                templates.count_template_hit()
                continue
        pending.append((position, key, () if found is None else found[1]))
    decoded = decode([units[position] for position, _, _ in pending]) if pending else []
    for (position, key, values), reply in zip(pending, decoded, strict=True):
        replies[position] = reply
        if key is not None and reply.error is None and not reply.flags and reply.alternatives:
            templates.put_template(key, (reply, values))
    return replies  # type: ignore[return-value]
