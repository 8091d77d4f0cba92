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
from assistant.serving.re2 import ascii_case


def _in_words(body: str) -> str:
    """A full-match pattern of a text that holds `body` as words (no letter right before or
    after it), in any case; Python's `re` and RE2 (`assistant.serving.re2.python_re`) read
    it alike, so the export's graph types a question as this module does (`ascii_case`:
    "FIX" and "fix", not "fıx")."""
    return ascii_case(rf"(?is)(?:.*[^A-Za-z])?(?:{body})(?:[^A-Za-z].*)?")


_CODE = r"[A-Za-z][0-9]{3}"
_IT = r"(?:it|that|this)"
_WHAT_IS = r"wh?at(?:'?s|\s+is)"
# "how do I fix E217?", "I have W718, what now?", "what should I do about E601 on AG93?":
# a question that asks what to do about a code.
ASKS_ACTION = _in_words(
    r"fix(?:es)?|what\s+now|what\s+(?:do|should|shall|can|must)\s+(?:i|we)\s+do|what\s+to\s+do|"
    r"how\s+(?:do|can|should|shall)\s+(?:i|we|you)\s+(?:clear|reset|solve|resolve|handle|repair|"
    r"deal\s+with|get\s+rid\s+of|sort\s+(?:it|that|this)\s+out)|how\s+to\s+(?:clear|reset|solve|"
    r"resolve|handle|repair|deal\s+with)|steps\s+for|action\s+for")
_ASKS_ACTION = re.compile(ASKS_ACTION)
# The answers such a question may get: how to fix it, or why there is nothing to fix here.
_ACTION_ANSWERS = ("fix", "not_in_catalog", "not_valid_for", "not_valid", "unknown_code")


def asks_action(text: str) -> bool:
    """Whether `text` asks what to do ("what now?", "how do I clear it")."""
    return _ASKS_ACTION.fullmatch(text) is not None


def action_question_flags(source: str, reply: str, phrases: Mapping[str, str],
                          code_table: Mapping | None = None) -> list[str]:
    """A question that asks what to do about a code ("I have W718, what now?") is answered
    with how to fix it ("To fix W718, ..."), or with why not (the code is not in the
    catalog, or not valid for the unit), or asks which one is meant; "W718 is a warning
    code." is flagged "the question asks what to do about W718; the reply does not say".
    With `code_table`, a question without a code may name one by its meaning ("what to do
    about charger earth fault", `codes_named_by_meaning`)."""
    if "fix" not in phrases or not asks_action(source):
        return []
    codes = extract_codes(source) or sorted(codes_named_by_meaning(source, code_table))
    if not codes:
        return []
    told = reply.lower()
    if reply.startswith(ASK_WHICH) or any(phrases[kind].lower() in told
                                          for kind in _ACTION_ANSWERS if kind in phrases):
        return []
    return [f"the question asks what to do about {codes[0]}; the reply does not say"]


# "which machine throws W602", "what else can raise it", "where can E217 be raised": what
# equipment raises a code.
WHICH_EQUIPMENT = _in_words(
    r"which\s+(?:machines?|equipment|units?|devices?|kit|kind\s+of\s+(?:machine|equipment|unit))|"
    r"what\s+(?:machines?|equipment|devices?)|come\s+from|(?:what|who)(?:\s+else)?\s+(?:can\s+|"
    r"could\s+|might\s+)?(?:raises?|reports?|throws?|shows?)|where\s+can\s+[A-Za-z0-9]+\s+be\s+"
    r"raised|equipment\s+for")
# "whats E812 mean", "E812? never seen it", "anyone know what E812 is": what a code means.
WHAT_IT_MEANS = _in_words(r"mean|meaning|means|never\s+(?:seen|heard\s+of)|know\s+what|explain")
# "what is I821", "wat's C505?", or a code alone: also what it means.
WHAT_IS_A_CODE = ascii_case(rf"(?is)[^A-Za-z0-9]*(?:{_WHAT_IS}\s+)?{_CODE}[^A-Za-z0-9]*")
# "is w902 a big deal", "is it critical?", "is E217 just info?", "should I worry about it?":
# how serious ("W902 is a warning code.")
HOW_SERIOUS = _in_words(
    r"serious|severity|severe|how\s+bad|urgent|worry|big\s+deal|dangerous|critical|what\s+kind\s+"
    rf"of\s+code|what\s+level|is\s+(?:{_IT}|{_CODE})\s+(?:bad|(?:just\s+)?(?:an?\s+)?(?:warning|"
    r"fault|emergency|info))")
# After the severity ("tell me about the severity of E217" asks how serious): "define E812",
# "describe it", "what is that about", "what is alarm E812?", and "I see E812, what is it?",
# "what is that code?" (about "it": `referents` asks it with the code after it).
MEANING_WORDS = _in_words(
    r"explanation|describe|define|definition|stand\s+for|info\s+on|tell\s+me\s+about|wh?at(?:'?s|"
    rf"\s+is|\s+was)\s+(?:(?:{_IT}|{_CODE})\s+(?:one\s+)?)?(?:all\s+)?about|{_WHAT_IS}\s+(?:error|"
    rf"alarm|fault|code|fault\s+code)\s+{_CODE}")
WHAT_IS_IT = ascii_case(rf"(?is)(?:.*[^A-Za-z])?{_WHAT_IS}\s+{_IT}(?:\s+(?:code|one))?"
                        rf"[^A-Za-z0-9]*(?:{_CODE}[^A-Za-z0-9]*)?")
# What a question asks, rule by rule in the order they are read: the first that applies wins.
TYPE_PATTERNS = (("action", ASKS_ACTION), ("equipment", WHICH_EQUIPMENT),
                 ("meaning", WHAT_IT_MEANS), ("meaning", WHAT_IS_A_CODE),
                 ("severity", HOW_SERIOUS), ("meaning", MEANING_WORDS), ("meaning", WHAT_IS_IT))
# The answers of each: the equipment, the meaning, the severity, or why there is none.
_ASKED = {"equipment": ("which equipment raises", "equipment_of"), "meaning": ("what", "means"),
          "severity": ("how serious", "severity")}


def question_type_flags(source: str, reply: str, phrases: Mapping[str, str]) -> list[str]:
    """A question that asks which equipment raises a code ("where would W602 come from") is
    answered with the equipment ("Equipment that can raise W602: AGV."), one that asks what
    a code means ("W608? never seen it") with its meaning ("W608 means ..."), one that asks
    how serious it is with its severity; any may say the code is not in the catalog, or ask
    which one is meant. "W602 is a warning code." is flagged "the question asks which
    equipment raises W602; the reply does not say". Only the type `question_type` reads
    is asked ("tell me about the severity of E217" asks how serious, not what it means;
    what to do is `action_question_flags`'s)."""
    codes = extract_codes(source)
    kind = question_type(source)
    if not codes or kind not in _ASKED or reply.startswith(ASK_WHICH):
        return []
    asked, answer = _ASKED[kind]
    wanted = [phrases.get(answer), phrases.get("not_in_catalog")]
    if None in wanted:
        return []
    wanted[0] += "." * (answer == "severity")  # "E702 is a fault code.": "code."
    if any(phrase.lower() in reply.lower() for phrase in wanted):
        return []
    return [f"the question asks {asked} {codes[0]}{' means' * (answer == 'means')}"
            f"{' is' * (answer == 'severity')}; the reply does not say"]


def question_type(text: str) -> str | None:
    """What `text` asks about a code, as the rules above read it: "action" (what to do),
    "equipment" (what raises it), "meaning" or "severity"; None for none of them. The
    first that applies wins, as for the flags: "how do I fix it, is it serious?" asks
    the action."""
    return next((kind for kind, pattern in _TYPE_RULES if pattern.fullmatch(text)), None)


_TYPE_RULES = tuple((kind, re.compile(pattern)) for kind, pattern in TYPE_PATTERNS)
