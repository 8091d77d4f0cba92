"""Draws the follow-up pairs of one corpus split: a turn said after a context.

A follow-up pair's source is `join_context(context, turn)` ("CV07:E217 T=85 <CTX> how do I
fix it?"), its context the canonical text of a `context.Context` (the last fault line, and
the focus a question named), and it carries "context", "turn", "followup" (how the turn
refers back: "pronoun", "select" or "switch") and, when it refers back, "phrasing" (its
template). Three categories, `CATEGORIES`:

- "followup_refer": the turn means exactly one subject of the context. About "it"
  (`PRONOUN_PHRASINGS`) it is answered as the question about that subject would be
  ("how do I fix it?" after `CV07:E217` -> "To fix E217 on Conveyor 7, ..."); picking a
  record of the line (`SELECT_PHRASINGS`: "what about the sorter?", "the second one",
  "what about W301?") it gets that record's sentence, as the line's reply has it.
- "followup_ambiguous": the turn could mean two or more subjects ("how do I fix it?" after
  two records, "what about the conveyor?" after two conveyors): the reply asks which,
  naming them all (`context.ask_which`).
- "followup_switch": the turn names its own subject (a fault line, a question about a code,
  small talk): the context is ignored, the target is the turn's own.

Valid and test turns that refer back are worded in phrasings of their own split only; a
switch turn is a pair of the split's own kind (`Sampler`), so its held-out items are there.
Contexts hold catalog equipment only, and nothing reserved for another split.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from assistant.core.tokenizer import join_context
from assistant.domains.warehouse import heldout
from assistant.domains.warehouse.context import LAST, ORDINALS, Context, ask_which
from assistant.domains.warehouse.faultcodes import MAX_RECORDS, FaultRecord
from assistant.domains.warehouse.followup_phrasings import PRONOUN_PHRASINGS, SELECT_PHRASINGS
from assistant.domains.warehouse.messages import answer_question, render_record
from assistant.domains.warehouse.phrasings import chatty, unit_mention, vary_prompt
from assistant.domains.warehouse.sampler import Sampler, number_split, unknown_code_split

CATEGORIES = ("followup_refer", "followup_switch", "followup_ambiguous")
SELECTIONS = tuple(SELECT_PHRASINGS)  # a record picked by: type, unit, code or ordinal


class FollowupSampler:
    """Draws follow-up pairs for one split with that split's `Sampler`.

    Args:
        sampler: the split's sampler (its catalog, split and reservations).
        smalltalk: the split's small-talk pairs, for switch turns.
    """

    def __init__(self, sampler: Sampler, smalltalk: Sequence[dict]) -> None:
        self.sampler = sampler
        self.catalog = sampler.catalog
        self.split = sampler.split
        self.smalltalk = [pair for pair in smalltalk if pair["category"] == "smalltalk"]
        self.phrasing_split = "train" if self.split == "train" else self.split

    def pairs(self, category: str, quota: int, taken: set[str], rng: random.Random) -> list:
        """Up to `quota` pairs of `category` whose sources are not in `taken` and not
        repeated."""
        draw = {"followup_refer": lambda: self._refer(rng, ambiguous=False),
                "followup_ambiguous": lambda: self._refer(rng, ambiguous=True),
                "followup_switch": lambda: self._switch(rng)}[category]
        made, seen = [], set(taken)
        for _ in range(quota * _ATTEMPTS_PER_PAIR):
            if len(made) >= quota:
                break
            pair = draw()
            if (pair is None or pair["source"] in seen
                    or heldout.held_out_families(pair["source"])):
                continue
            seen.add(pair["source"])
            made.append({**pair, "category": category})
        return made

    def _refer(self, rng: random.Random, ambiguous: bool) -> dict | None:
        if rng.random() < _PRONOUN:
            return self._pronoun(rng, ambiguous)
        return self._select(rng, ambiguous)

    def _pronoun(self, rng: random.Random, ambiguous: bool) -> dict | None:
        """"how do I fix it?" after a context with one subject, or with several."""
        count = rng.choices(*_AMBIGUOUS_RECORDS)[0] if ambiguous else 1
        context = self._context(rng, count, focused=not ambiguous and rng.random() < 0.6)
        if context is None or len(context.subjects()) != count:
            return None
        intent = rng.choice(tuple(PRONOUN_PHRASINGS))
        template = rng.choice(PRONOUN_PHRASINGS[intent][self.phrasing_split])
        subjects = context.subjects()
        target = (ask_which(subjects, self.catalog.equipment) if ambiguous
                  else self._answer(intent, subjects[0]))
        return {**self._pair(context, self._worded(template, rng), target, "pronoun"),
                "phrasing": template}

    def _select(self, rng: random.Random, ambiguous: bool) -> dict | None:
        """A record of the line picked by type, unit, code or place: one, or several."""
        selection = "type" if ambiguous else rng.choice(SELECTIONS)
        count = rng.choices(*_SELECT_RECORDS)[0]
        records = self._records(rng, count, shared_type=ambiguous)
        if records is None:
            return None
        target_index = rng.randrange(len(records))
        chosen = records[target_index]
        fields = {"type": self.catalog.equipment[chosen.prefix], "code": chosen.code,
                  "eq": unit_mention(chosen.prefix, chosen.unit,
                                     self.catalog.equipment[chosen.prefix], rng),
                  "ordinal": _ordinal_word(target_index, len(records), rng)}
        picked = [record for index, record in enumerate(records)
                  if _selects(selection, chosen, record, index == target_index)]
        if (len(picked) > 1) != ambiguous:
            return None
        if fields["code"] and rng.random() < 0.25:
            fields["code"] = fields["code"].lower()
        focus = self._focus(records, rng) if rng.random() < _FOCUSED else ""
        template = rng.choice(SELECT_PHRASINGS[selection][self.phrasing_split])
        turn = self._worded(template.format(**fields), rng)
        target = (ask_which(picked, self.catalog.equipment) if ambiguous
                  else render_record(chosen, self.catalog))
        return {**self._pair(Context(records, focus), turn, target, "select"),
                "phrasing": template}

    def _switch(self, rng: random.Random) -> dict | None:
        """A turn with its own subject after any context: answered as without one."""
        kind = rng.choices(*_SWITCH_KINDS)[0]
        if kind == "smalltalk":
            if not self.smalltalk:
                return None
            own = rng.choice(self.smalltalk)
        elif kind == "prompt":
            own = self.sampler._prompt(rng)
        else:
            own = self.sampler._fault(kind, rng)
        context = self._context(rng, rng.choices(*_SELECT_RECORDS)[0],
                                focused=rng.random() < _FOCUSED)
        if own is None or context is None:
            return None
        return self._pair(context, own["source"].strip(), own["target"], "switch")

    def _context(self, rng: random.Random, count: int, focused: bool) -> Context | None:
        """A fault line of `count` records; when `focused`, a line of one more record with a
        focus on one of its records, or on a record or code the line lacks (a question
        named it), or (one subject) a focus alone: a question named it and no line came."""
        if not focused:
            records = self._records(rng, count)
            return None if records is None else Context(records)
        if count == 1 and rng.random() < _FOCUS_ONLY:
            return self._outside(rng, ())
        records = self._records(rng, min(count + 1, MAX_RECORDS))
        if records is None:
            return None
        if count == 1 and rng.random() < _OUTSIDE:
            return self._outside(rng, records)
        return Context(records, self._focus(records, rng))

    def _outside(self, rng: random.Random, records: tuple[FaultRecord, ...]) -> Context | None:
        """`records` with a focus on a code none of them has (on a unit, or alone)."""
        other = self._records(rng, 1)
        if other is None or any(record.code == other[0].code for record in records):
            return None
        record = other[0]
        focus = record.code if rng.random() < 0.5 else f"{record.label}:{record.code}"
        return Context(records, focus)

    def _focus(self, records: Sequence[FaultRecord], rng: random.Random) -> str:
        """The focus on one record of `records`: by unit and code, or by its code when no
        other record has it."""
        record = rng.choice(records)
        if sum(other.code == record.code for other in records) == 1 and rng.random() < 0.5:
            return record.code
        return f"{record.label}:{record.code}"

    def _records(self, rng: random.Random, count: int,
                 shared_type: bool = False) -> tuple[FaultRecord, ...] | None:
        """`count` distinct records of catalog equipment with nothing reserved for another
        split; with `shared_type`, the first two are of one equipment type."""
        sampler = self.sampler
        records = []
        for _ in range(count * _ATTEMPTS_PER_PAIR):
            if len(records) == count:
                break
            record = (sampler._unknown_record(rng) if rng.random() < _UNKNOWN
                      else sampler._known_record(rng))
            if record.prefix not in self.catalog.equipment:
                continue
            if shared_type and len(records) == 1 and record.prefix != records[0].prefix:
                continue
            if any((r.prefix, r.unit, r.code) == (record.prefix, record.unit, record.code)
                   for r in records):
                continue
            records.append(record)
        if len(records) < count or not sampler._fits(self._reserved(records), own=False):
            return None
        return tuple(records)

    def _reserved(self, records: Sequence[FaultRecord]) -> list[str]:
        reserved = [number_split(str(r.unit)) for r in records]
        reserved += [number_split(value) for r in records for _, value in r.params]
        return reserved + [unknown_code_split(r.code) for r in records
                           if r.code not in self.catalog.entries]

    def _answer(self, intent: str, subject: FaultRecord) -> str:
        """The answer about one subject: the question of type `intent` about its code (on
        its unit, for a fix of a record)."""
        if intent == "action" and subject.prefix:
            return answer_question("action_unit", self.catalog, subject.code, subject.prefix,
                                   subject.unit)
        return answer_question(intent, self.catalog, subject.code)

    def _worded(self, text: str, rng: random.Random) -> str:
        if self.split == "train":  # held-out phrasings stay exactly as written
            text = chatty(text, rng)
        return vary_prompt(text, rng)

    @staticmethod
    def _pair(context: Context, turn: str, target: str, followup: str) -> dict:
        return {"source": join_context(context.text, turn), "target": target,
                "context": context.text, "turn": turn.strip(), "followup": followup}


# ---------------------------------------------------------------------------------------
# Private helpers.

_PRONOUN = 0.6  # refer and ambiguous turns: share about "it" (the rest pick a record)
_FOCUSED = 0.3  # chance a context holds a focus beside its line
_FOCUS_ONLY = 0.3  # focused one-subject contexts: chance of a focus alone, without a line
_OUTSIDE = 0.3  # the others: chance the focus is on a code the line lacks
_UNKNOWN = 0.1  # chance a context record is an unknown code, or one not valid there
_AMBIGUOUS_RECORDS = ((2, 3, 4), (0.65, 0.25, 0.1))
_SELECT_RECORDS = ((1, 2, 3, 4), (0.2, 0.5, 0.2, 0.1))
_SWITCH_KINDS = (("prompt", "single", "multi", "unknown", "smalltalk"),
                 (0.4, 0.2, 0.05, 0.1, 0.25))
_ATTEMPTS_PER_PAIR = 50
assert max(_SELECT_RECORDS[0]) <= MAX_RECORDS <= len(ORDINALS)


def _selects(selection: str, chosen: FaultRecord, record: FaultRecord, same: bool) -> bool:
    """Whether a turn picking `chosen` by `selection` picks `record` too."""
    if selection == "type":
        return record.prefix == chosen.prefix
    if selection == "unit":
        return (record.prefix, record.unit) == (chosen.prefix, chosen.unit)
    if selection == "code":
        return record.code == chosen.code
    return same  # by place: one record


def _ordinal_word(index: int, count: int, rng: random.Random) -> str:
    if index == count - 1 and count > 1 and rng.random() < 0.3:
        return LAST
    return ORDINALS[index]
