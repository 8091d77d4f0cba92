"""Is a follow-up answered about what it refers to? The check of a turn read in its context.

After `CV07:E217 T=85; SN02:W301 N=12`, "how do I fix it?" may mean either record and must
be asked back about both ("Which one: E217 on conveyor 7 or W301 on sorter 2?"); "what about
the sorter?" means W301 on sorter 2 and must be answered with its record's sentence, not
about E217 and not with a question back. `referents` reads what a turn refers to as the
corpus builder writes it (`context.remember`, `Context.subjects`):

- a turn that is a fault line, or that names a code, unit or equipment type the context's
  line does not hold, has its own subject;
- a turn that names records of the line (by code, unit, type or place) refers to those; by
  type or place only when it is a bare choice ("and the sorter?", "the second one please",
  not "what codes can the sorter raise?");
- a turn that names nothing but asks about "it" ("should I worry about it?", "fix?") refers
  to the context's subjects; one that does not ask about a fault ("hi, how is it going")
  refers to nothing.

`referent_flags` then asks: one subject is named (its code, no unit but its own) and not
asked about; a bare choice gets the subject's record sentence ("Sorter 2 warning W301: ...",
with that record's values, `catalog_checks.catalog_flags`); a fix names the subject's unit
("To fix E217 on Conveyor 7, ..."); two or more subjects are asked about, each of them and
nothing else. A turn that refers to nothing is not asked which, nor answered about the
context's codes. Flags say what the turn meant: "the turn means E217 on conveyor 7; the reply
does not name E217".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

from assistant.domains.warehouse import catalog_checks, questions
from assistant.domains.warehouse.context import (
    ASK_WHICH,
    LAST,
    ORDINALS,
    describe,
    mention,
    parse_context,
    picks,
)
from assistant.domains.warehouse.detector import Detector, catalog_key, detector
from assistant.domains.warehouse.faultcodes import FaultRecord
from assistant.domains.warehouse.mentions import extract_codes, named_units

# A word that points back ("it", "that one", "this code") and a question about a fault:
# what to do, what it means, how bad it is, what raises it.
_POINTS_BACK = re.compile(r"(?<![A-Za-z'])(?:it|that|this|these|those|them)(?![A-Za-z'])",
                          flags=re.IGNORECASE)
_ASKS_ABOUT_A_FAULT = re.compile(
    r"(?<![A-Za-z])(?:fix\w*|clear\w*|reset\w*|rid|sort\w*\s+\w+\s+out|do\s+about|do\s+now|"
    r"(?:should|can|must|do)\s+(?:i|we)\s+do|mean\w*|explain\w*|"
    r"(?:about|what(?:'s|\s+is)\s+(?:it|that|this)(?:\s+(?:code|one))?)"
    r"(?:\W|\s+(?:please|pls|thanks))*$|"
    r"serious|critical|bad|urgent|worry|danger\w*|severe|severity|raise\w*|report\w*|"
    r"come\s+from|equipment|machines?)(?![A-Za-z])", flags=re.IGNORECASE)
# A bare question about the fault just shown, once the polite words are gone: "fix?",
# "meaning?", "what now?", "what do I do now?".
_BARE_QUESTION = re.compile(r"fix|meaning|severity|explain|what now|what's the fix|"
                            r"what (?:do|should|can) (?:i|we) do(?: now| next)?")
_POLITE_WORDS = frozenset(("hi", "hey", "hello", "ok", "okay", "so", "sorry", "please", "pls",
                           "thanks", "thx", "quick", "question", "well", "and"))
# What a turn that picks a record may hold besides the code, unit, equipment type or place
# it names: "ok, and what about the sorter?", "the second one please", "I meant the lift".
_CHOOSING_WORDS = frozenset((
    *_POLITE_WORDS, "a", "about", "also", "at", "for", "how", "i", "i'm", "in", "is", "it's",
    "mean", "meant", "now", "of", "on", "one", "or", "record", "the", "then", "up", "what",
    "what's", "with", *ORDINALS, LAST))
_WHAT_IS_CODE = re.compile(r"what(?:'s|\s+is)\s+[A-Za-z][0-9]{3}", flags=re.IGNORECASE)
# A turn that may point back at the context, read liberally: a question about a fault or a
# choice of one. Only a turn without any is taken to be about something else.
_MAY_POINT_BACK = re.compile(rf"(?<![A-Za-z])(?:one|record|code|{'|'.join((*ORDINALS, LAST))})"
                             r"(?![A-Za-z])", flags=re.IGNORECASE)


def check(turn: str, reply: str, context: str, equipment_names: Mapping[str, str] | None,
          equipment_aliases: Mapping[str, Iterable[str]] | None = None,
          code_table: Mapping | None = None,
          phrases: Mapping[str, str] | None = None) -> list[str]:
    """`referent_flags` with the catalog's `Detector` (built once per catalog); [] without
    equipment names or a context."""
    if not equipment_names or not context.strip():
        return []
    reader = detector(*catalog_key(equipment_names, equipment_aliases))
    return referent_flags(turn, reply, context, reader, code_table, phrases)


def referent_flags(turn: str, reply: str, context: str, detector: Detector,
                   code_table: Mapping | None = None,
                   phrases: Mapping[str, str] | None = None) -> list[str]:
    """Flags a reply to `turn` that is not about what the turn refers to in `context` (see
    the module docstring). `code_table` and `phrases` (the bundle's catalog facts) add the
    checks of a record sentence's values and of a fix's unit."""
    if not context.strip():
        return []
    subjects, how = _reference(turn, context, detector)
    names = detector.equipment_names
    if not subjects:
        return _unasked_flags(turn, reply, context, detector)
    meant = describe(subjects, names)
    if len(subjects) > 1:
        if not reply.startswith(ASK_WHICH):
            return [f"the turn may mean {meant}; the reply does not ask which"]
        named = set(extract_codes(reply))
        if named != {subject.code for subject in subjects} or _other_units(reply, subjects,
                                                                           names):
            return [f"the turn may mean {meant}; the reply asks about others"]
        left_out = [mention(subject, names) for subject in subjects
                    if not _mentions(reply, subject, names)]
        if left_out:
            return [f"the turn may mean {meant}; the reply leaves out {' and '.join(left_out)}"]
        return []
    subject = subjects[0]
    if reply.startswith(ASK_WHICH):
        return [f"the turn means {meant}; the reply asks which"]
    if subject.code not in extract_codes(reply):
        return [f"the turn means {meant}; the reply does not name {subject.code}"]
    others = _other_units(reply, subjects, names)
    if others:
        return [f"the turn means {meant}; the reply names {others}"]
    if how == "pronoun":
        asked = _question_flags(turn, reply, subject, phrases or {})
        if asked:
            return asked
    return _subject_flags(reply, subject, how, detector, code_table, phrases or {})


def referents(turn: str, context: str, detector: Detector) -> tuple[FaultRecord, ...]:
    """What `turn` refers to in `context`: records of its line (with their values), or the
    focus alone; () when the turn has a subject of its own or refers to nothing."""
    return _reference(turn, context, detector)[0]


def reference(turn: str, context: str,
              detector: Detector) -> tuple[tuple[FaultRecord, ...], str]:
    """`referents`, and how the turn refers to them: "choice" (a bare choice of records of
    the line), "question" (a question that names one), "pronoun", or "" (no reference)."""
    return _reference(turn, context, detector)


@functools.lru_cache(maxsize=1024)  # the check reads the same turn for every hypothesis
def _reference(turn: str, context: str,
               detector: Detector) -> tuple[tuple[FaultRecord, ...], str]:
    """`reference`, cached."""
    if not context.strip():
        return (), ""
    detections = detector.detect(turn)
    if detections and detector.is_fault_line(turn, detections):
        return (), ""
    state = parse_context(context, detector)
    picked = picks(state, turn, detector)
    choice = _only_choosing(turn, detector)
    if picked is not None:
        if extract_codes(turn) or detector.named_units(turn):
            # a code or unit of the line: a choice, a question about that record, or one
            # about the code that several records share ("what does E302 mean?")
            return (picked, "choice" if choice else "question") if len(picked) == 1 else ((), "")
        # a type or a place: only a bare choice ("what codes can the sorter raise?" asks
        # about sorters)
        return (picked, "choice") if choice else ((), "")
    if _BARE_QUESTION.fullmatch(" ".join(_words(turn, keep_polite=False))) or (
            _POINTS_BACK.search(turn) and _ASKS_ABOUT_A_FAULT.search(turn)):
        return state.subjects(), "pronoun"
    return (), ""


def _words(text: str, keep_polite: bool = True) -> list[str]:
    words = re.findall(r"[a-z']+|[0-9]+", text.lower())
    return words if keep_polite else [word for word in words if word not in _POLITE_WORDS]


def _subject_flags(reply: str, subject: FaultRecord, how: str, detector: Detector,
                   code_table: Mapping | None, phrases: Mapping[str, str]) -> list[str]:
    """One subject on a catalog unit, referred to `how` (`_reference`): a bare choice gets
    its record sentence, with its values; a fix of "it" names its unit."""
    name = detector.equipment_names.get(subject.prefix)
    if not name:
        return []  # a code alone, or a unit the catalog does not name
    head = f"{name} {subject.unit} ".lower()
    where = f"{subject.code} on {name} {subject.unit}"
    if how == "choice" and not reply.lower().startswith(head):
        return [f"the turn picks {where}; the reply does not tell its record"]
    if reply.lower().startswith(head) and code_table is not None:
        return catalog_checks.catalog_flags(reply, (subject,), code_table,
                                            detector.equipment_names, phrases)
    fix = phrases.get("fix")
    told = reply.lower()
    if (how == "pronoun" and fix and f"{fix} {subject.code}".lower() in told
            and f"{fix} {where}".lower() not in told):
        return [f"the turn means {where}; the fix does not name {name} {subject.unit}"]
    return []


def _unasked_flags(turn: str, reply: str, context: str, detector: Detector) -> list[str]:
    """A turn that refers to nothing in the context: no question back, and, if it names no
    code itself, no code of the context ("hi, how is it going" -> "E617 is a fault code.")."""
    own_codes = extract_codes(turn)
    if reply.startswith(ASK_WHICH) and not own_codes:
        return ["the turn refers to nothing in the context; the reply asks which"]
    in_context = set(extract_codes(context))
    told = sorted(set(extract_codes(reply)) & in_context - set(own_codes))
    new_codes = sorted(set(own_codes) - in_context)
    if reply.startswith(ASK_WHICH) and new_codes:
        return [f"the turn asks about {' and '.join(new_codes)}, which the context does not "
                "hold; the reply asks which"]
    own_types = detector.named_prefixes(turn) | {prefix for prefix, _ in
                                                  detector.named_units(turn)}
    if own_codes or own_types:
        if told and not _about(reply, own_codes, own_types, detector.equipment_names):
            return [f"the turn asks about {_own_subject(own_codes, own_types, detector)}; "
                    f"the reply is about {' and '.join(told)}"]
        return []
    if _ASKS_ABOUT_A_FAULT.search(turn) or _MAY_POINT_BACK.search(turn):
        return []
    return [f"the turn does not ask about {' or '.join(told)}"] if told else []


def _about(reply: str, codes: Sequence[str], prefixes: Iterable[str],
           names: Mapping[str, str]) -> bool:
    """Whether `reply` names one of `codes` or the name of one of the equipment `prefixes`."""
    told = reply.lower()
    return bool(set(codes) & set(extract_codes(reply))) or any(
        names.get(prefix, prefix).lower() in told for prefix in prefixes)


def _own_subject(codes: Sequence[str], prefixes: Iterable[str], detector: Detector) -> str:
    """What a turn names of its own, in words: "E106", "the palletizer"."""
    types = sorted(f"the {detector.equipment_names.get(prefix, prefix)}" for prefix in prefixes)
    return " and ".join([*dict.fromkeys(codes), *types])


def _question_flags(turn: str, reply: str, subject: FaultRecord,
                    phrases: Mapping[str, str]) -> list[str]:
    """A question about "it" gets the answer its question type wants, as the same question
    naming the subject's code would ("any idea how to fix this?" after `DD42:E701` is told
    the fix, not the equipment that raises E701)."""
    asked = f"{turn} {subject.code}"
    return (questions.action_question_flags(asked, reply, phrases)
            or questions.question_type_flags(asked, reply, phrases))


def _mentions(reply: str, subject: FaultRecord, names: Mapping[str, str]) -> bool:
    """Whether a question back names `subject` as `mention` words it ("W905 on lift 82",
    not only "W905 on lift 8" of another)."""
    return re.search(re.escape(mention(subject, names)) + r"(?![0-9A-Za-z])", reply,
                     flags=re.IGNORECASE) is not None


def _only_choosing(turn: str, detector: Detector) -> bool:
    """Whether `turn` holds nothing but a choice: choosing words, equipment names, codes and
    unit labels ("and for SH38?", "what's up with the stacker crane"); "what's I724?" asks
    what the code means."""
    if _WHAT_IS_CODE.search(turn):
        return False
    names = " ".join(detector.by_name).split()
    words = _words(re.sub(r"(?<![0-9A-Za-z])[A-Za-z]{1,2}[0-9]+", " ", turn))
    return all(word in _CHOOSING_WORDS or word in names or word.isdigit() for word in words)


def _other_units(reply: str, subjects: Sequence[FaultRecord], names: Mapping[str, str]) -> str:
    """The units the reply names that are no subject's ("sorter 2"), as words; "" if none.
    A subject without a unit (a code alone) allows any."""
    if any(not subject.prefix for subject in subjects):
        return ""
    own = {(subject.prefix, subject.unit) for subject in subjects}
    others = sorted(unit for unit in named_units(reply, names) if unit not in own)
    return " and ".join(f"{names.get(prefix, prefix)} {unit}" for prefix, unit in others)
