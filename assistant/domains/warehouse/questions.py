"""What a question about a code asks, and whether the reply answers that: the question-type
rules of `assistant.domains.warehouse.faithfulness`.

- `action_question_flags`: "I have <code>, what now?" is answered with what to do;
- `question_type_flags`: "which equipment raises <code>" with the equipment, "what does
  <code> mean" with its meaning, "is <code> a big deal" with its severity;
- `question_type`: which of these a question asks ("action", "equipment", "meaning",
  "severity"), in the order the rules read them, e.g. to write it canonically
  (`assistant.domains.warehouse.respell.spell_out`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.domains.warehouse.context import ASK_WHICH
from assistant.domains.warehouse.grounding import codes_named_by_meaning
from assistant.domains.warehouse.mentions import extract_codes

# "how do I fix E217?", "I have W718, what now?", "what should I do about E601 on AG93?":
# a question that asks what to do about a code.
_ASKS_ACTION = re.compile(
    r"(?<![A-Za-z])(?:fix(?:es)?|what\s+now|what\s+(?:do|should|shall|can|must)\s+(?:i|we)\s+"
    r"do|what\s+to\s+do|how\s+(?:do|can|should|shall)\s+(?:i|we|you)\s+(?:clear|reset|solve|"
    r"resolve|handle|repair|deal\s+with|get\s+rid\s+of|sort\s+(?:it|that|this)\s+out)|how\s+to\s+"
    r"(?:clear|reset|solve|resolve|handle|repair|deal\s+with)|steps\s+for|action\s+for)"
    r"(?![A-Za-z])", flags=re.IGNORECASE)
# The answers such a question may get: how to fix it, or why there is nothing to fix here.
_ACTION_ANSWERS = ("fix", "not_in_catalog", "not_valid_for", "not_valid", "unknown_code")


def asks_action(text: str) -> bool:
    """Whether `text` asks what to do ("what now?", "how do I clear it")."""
    return _ASKS_ACTION.search(text) is not None


def action_question_flags(source: str, reply: str, phrases: Mapping[str, str],
                          code_table: Mapping | None = None) -> list[str]:
    """A question that asks what to do about a code ("I have W718, what now?") is answered
    with how to fix it ("To fix W718, ..."), or with why not (the code is not in the
    catalog, or not valid for the unit), or asks which one is meant; "W718 is a warning
    code." is flagged "the question asks what to do about W718; the reply does not say".
    With `code_table`, a question without a code may name one by its meaning ("what to do
    about charger earth fault", `codes_named_by_meaning`)."""
    if "fix" not in phrases or not _ASKS_ACTION.search(source):
        return []
    codes = extract_codes(source) or sorted(codes_named_by_meaning(source, code_table))
    if not codes:
        return []
    told = reply.lower()
    if reply.startswith(ASK_WHICH) or any(phrases[kind].lower() in told
                                          for kind in _ACTION_ANSWERS if kind in phrases):
        return []
    return [f"the question asks what to do about {codes[0]}; the reply does not say"]


_CODE = r"[A-Za-z][0-9]{3}"
_IT = r"(?:it|that|this)"
# "which machine throws W602", "what else can raise it", "where can E217 be raised": what
# equipment raises a code.
_WHICH_EQUIPMENT = re.compile(
    r"(?<![A-Za-z])(?:which\s+(?:machines?|equipment|units?|devices?|kit|kind\s+of\s+"
    r"(?:machine|equipment|unit))|what\s+(?:machines?|equipment|devices?)|come\s+from|(?:what|"
    r"who)(?:\s+else)?\s+(?:can\s+|could\s+|might\s+)?(?:raises?|reports?|throws?|shows?)|"
    r"where\s+can\s+\S+\s+be\s+raised|equipment\s+for)(?![A-Za-z])", flags=re.IGNORECASE)
# "whats E812 mean", "E812? never seen it", "anyone know what E812 is", "define E812", "what
# is that about", "what is alarm E812?", "I see E812, what is it?": what a code means.
_WHAT_IT_MEANS = re.compile(
    r"(?<![A-Za-z])(?:mean|meaning|means|never\s+(?:seen|heard\s+of)|know\s+what|explain|"
    r"explanation|describe|define|definition|stand\s+for|info\s+on|tell\s+me\s+about|"
    rf"wh?at(?:'?s|\s+is|\s+was)\s+(?:(?:{_IT}|{_CODE})\s+(?:one\s+)?)?(?:all\s+)?about|"
    rf"wh?at(?:'?s|\s+is)\s+(?:error|alarm|fault|code|fault\s+code)\s+{_CODE}|"
    rf"wh?at(?:'?s|\s+is)\s+{_IT}(?:\s+(?:code|one))?(?=\W*(?:{_CODE}\W*)?$))(?![A-Za-z])",
    flags=re.IGNORECASE)
# "what is I821", "wat's C505?", or a code alone: also what it means.
_WHAT_IS_A_CODE = re.compile(rf"^\W*(?:wh?at(?:'?s|\s+is)\s+)?{_CODE}\W*$", flags=re.IGNORECASE)
# "is w902 a big deal", "is it critical?", "is E217 just info?", "should I worry about it?":
# how serious ("W902 is a warning code.")
_HOW_SERIOUS = re.compile(
    r"(?<![A-Za-z])(?:serious|severity|severe|how\s+bad|urgent|worry|big\s+deal|dangerous|"
    rf"critical|what\s+kind\s+of\s+code|what\s+level|is\s+(?:{_IT}|{_CODE})\s+(?:bad|(?:just\s+)?"
    r"(?:an?\s+)?(?:warning|fault|emergency|info)))(?![A-Za-z])", flags=re.IGNORECASE)
# The answers of each: the equipment, the meaning, the severity, or why there is none.
_QUESTION_TYPES = ((_WHICH_EQUIPMENT, "which equipment raises", "equipment_of"),
                   (_WHAT_IT_MEANS, "what", "means"), (_WHAT_IS_A_CODE, "what", "means"),
                   (_HOW_SERIOUS, "how serious", "severity"))


def question_type_flags(source: str, reply: str, phrases: Mapping[str, str]) -> list[str]:
    """A question that asks which equipment raises a code ("where would W602 come from") is
    answered with the equipment ("Equipment that can raise W602: AGV."), one that asks what
    a code means ("W608? never seen it") with its meaning ("W608 means ..."), one that asks
    how serious it is with its severity; any may say the code is not in the catalog, or ask
    which one is meant. "W602 is a warning code." is flagged "the question asks which
    equipment raises W602; the reply does not say"."""
    codes = extract_codes(source)
    if not codes or reply.startswith(ASK_WHICH):
        return []
    for pattern, asked, answer in _QUESTION_TYPES:
        wanted = [phrases.get(answer), phrases.get("not_in_catalog")]
        if None in wanted or not pattern.search(source) or (
                answer == "severity" and asks_action(source)):  # the fix answers both
            continue
        wanted[0] += "." * (answer == "severity")  # "E702 is a fault code.": "code."
        if not any(phrase.lower() in reply.lower() for phrase in wanted):
            return [f"the question asks {asked} {codes[0]}{' means' * (answer == 'means')}"
                    f"{' is' * (answer == 'severity')}; the reply does not say"]
    return []


def question_type(text: str) -> str | None:
    """What `text` asks about a code, as the rules above read it: "action" (what to do),
    "equipment" (what raises it), "meaning" or "severity"; None for none of them. The
    first that applies wins, as for the flags: "how do I fix it, is it serious?" asks
    the action."""
    if asks_action(text):
        return "action"
    for pattern, _, answer in _QUESTION_TYPES:
        if pattern.search(text):
            return _ANSWER_TYPES[answer]
    return None


_ANSWER_TYPES = {"equipment_of": "equipment", "means": "meaning", "severity": "severity"}
