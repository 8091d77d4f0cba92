"""What an operator typed, in the spelling the model was trained on: the runtime's last try
for an input whose reply stays flagged (`Domain.respell`, with the rerank only).

- A line the liberal detector reads as fault records, with nothing else around them but
  separators, times, the units of values and the panel's alarm text: its records written
  canonically ("[03:04:05] charger 91:W718 S=19 mm" -> "CH91:W718 S=19").
- A question about what to do with one fault, named by its code or its catalog meaning, on
  at most one unit: the canonical question ("sc82 says collision detected, what do I do"
  -> "how do I fix C505 on SC82?").

`spell_out` is the last try for a follow-up that refers to one record of its context and
stays flagged there (`Domain.spell_out`): the question it asks, written canonically about
that record, so that it reads without the context ("any idea how to fix this?" after
`LP80:W824 N=19` -> "how do I fix W824 on LP80?"; "what's up with the shuttle?" after
`SH39:C101; WS07:E801 W=2.75 D=25` -> "SH39:C101").

The reply to the respelled input is kept only when the check passes it against the input
as typed (and its context); the model alone (and the export) never see a respelled input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.domains.warehouse import faultcodes, grounding, questions, referents
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.mentions import extract_codes, without_times
from assistant.domains.warehouse.phrasings import CANONICAL_EQ, CANONICAL_QUESTIONS


def respell(text: str, detector: Detector, code_table: Mapping | None) -> str | None:
    """The canonical spelling of `text` (see the module docstring), or None when it reads
    as neither kind, or is spelled so already."""
    spelled = _fault_line(grounding.without_panel_text(text, code_table), detector)
    if spelled is None:
        spelled = _action_question(text, detector, code_table)
    return None if spelled is None or spelled == text.strip() else spelled


def _fault_line(text: str, detector: Detector) -> str | None:
    """A line of fault records in any spelling, written canonically, or None."""
    text = without_times(text)
    detections = detector.detect(text)
    if not detector.is_fault_line(text, detections, rest=_LEFTOVER):
        return None
    return faultcodes.format_line(detection.record for detection in detections)


# What may stand between records besides them: separators and the units of their values.
_LEFTOVER = re.compile(r"(?:[\s;,|/&+.\-]|(?<![A-Za-z])(?:and|then|mm|kg|degrees?|deg|ms|min|"
                       r"days?|h|labels?|%|°\s?[CF]?)(?![A-Za-z]))*", flags=re.IGNORECASE)


def _action_question(text: str, detector: Detector, code_table: Mapping | None) -> str | None:
    """"how do I fix C505 on SC82?" for a question about what to do with one fault, named by
    its code or its meaning ("sc82 says collision detected, what do I do", "I914 at LF 62,
    how do I clear it", "item oversize on sn95 - help"), on at most one unit, or None."""
    if not (questions.asks_action(text) or _HELP.search(text)):
        return None
    codes = set(extract_codes(text)) or grounding.codes_named_by_meaning(text, code_table)
    units = detector.named_units(text)
    if len(codes) != 1 or len(units) > 1:
        return None
    code = next(iter(codes))
    where = "".join(f" on {prefix}{unit:02d}" for prefix, unit in units)
    return f"how do I fix {code}{where}?"


_HELP = re.compile(r"(?<![A-Za-z])help(?![A-Za-z])", flags=re.IGNORECASE)


def spell_out(context: str, text: str, detector: Detector) -> str | None:
    """The follow-up `text`, said after `context`, written so that it needs no context (see
    the module docstring): a bare choice of one record ("and the sorter?") as that record's
    fault line, a question about one record ("fix?", "where else can that come from?") as
    the canonical question of its type naming the record's code (and unit, for what to do);
    None when it refers to nothing or to several records, or asks what no canonical
    question asks ("tell me more about that")."""
    subjects, how = referents.reference(text, context, detector)
    if len(subjects) != 1:
        return None
    subject = subjects[0]
    if how == "choice":
        return subject.format() if subject.prefix else None
    qtype = questions.question_type(text)
    if qtype is None:
        return None
    if qtype == "action" and subject.prefix:
        unit = CANONICAL_EQ.format(prefix=subject.prefix, unit=subject.unit)
        return CANONICAL_QUESTIONS["action_unit"].format(code=subject.code, eq=unit)
    return CANONICAL_QUESTIONS[qtype].format(code=subject.code)
