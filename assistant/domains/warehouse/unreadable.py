"""Inputs no reply can be right for, told before anything is decoded.

A log holds lines that are not fault records at all: a control character inside a record
(a corrupted transfer), noise (a terminal's garbage, a binary paste), a record cut short
("SH23:E", "CV88"). The model answers whatever it is given, and to such a line its answer
is a guess: "~79WPbyv6W>tQ^V4<G{M" got a small-talk reply, "SH23:E" "unknown code Shuttle
23", "LF<ESC>79:E201" a reply that echoed the escape character. So the domain refuses them
(`Domain.unreadable`): with the rerank on, the runtime answers a refused input, or a refused
record of a split line, with `fallback_text` and the flag instead of decoding it. It is
what the check and fallback would do after three searches (greedy, beam 5, beam 16) that
cannot succeed, said at once.

What is refused:
- a control character (Unicode category Cc: C0, DEL, C1) other than tab, line feed and
  carriage return: the line may be corrupt, and guessing what was meant ("N=945<DEL>70") is
  how a wrong number reaches an operator;
- noise: no record, no code, no unit, and fewer than half of its words are words (letters,
  with inner apostrophes or hyphens, or numbers) or emoticons;
- without a context, a unit named by its catalog prefix or alias with an incomplete code or
  none: "CV88", "SC79:", "SH23:E", "AGV 4 E2", alone or as a record of a ";" line (such a
  line is not split, and the model, answering it whole, dropped that record without a
  flag).
A follow-up in a context ("and CV88?") is left to the model and the referent check.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.domains.warehouse import detector as detector_lib
from assistant.domains.warehouse.mentions import extract_codes

CONTROL = "a control character ({}) in the input: the line may be corrupt"
NOISE = "the input does not read as a fault record or a question"
CUT_SHORT = "a record cut short: no complete fault code"
_CONTROL_START = CONTROL.split("(")[0]
_SHOWN = 40  # characters of the input a fallback quotes
_KEPT_CONTROLS = frozenset("\t\n\r")
_NO_CODE = "no complete fault code (a letter and three digits, as in CV07:E217)"
# a unit with an incomplete code or none: "CV88", "SC79:", "SH23:E", "AG 4: E2", "AGV4 E21"
_CUT = re.compile(r"\s*(?P<label>[A-Za-z]{2,3})[\s_-]*(?P<unit>[0-9]{1,4})\s*"
                  r"(?::\s*(?:[A-Za-z][0-9]{0,2})?|\s+[A-Za-z][0-9]{0,2})?[\s.?!]*")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|[0-9]+(?:[.,][0-9]+)*")
_EMOTICON = re.compile(r"[:;=8xX][-']?[()\[\]DPpOo/\\|*3]+|<3|\^_?\^")
_STRIPPED = "\"'`([{<)]}>.,!?:;…"


def unreadable(text: str, detector: detector_lib.Detector, context: str = "") -> str | None:
    """The flag of an input no reply can be right for (see the module docstring), or None."""
    control = next((char for char in text
                    if unicodedata.category(char) == "Cc" and char not in _KEPT_CONTROLS), None)
    if control is not None:
        return CONTROL.format(f"U+{ord(control):04X}")
    if not context:
        parts = [part.strip() for part in text.split(";")]
        for position, part in enumerate(parts if len(parts) > 1 else (), start=1):
            if part and _cut_short(part, detector):  # a line not split: answered whole
                return f"{CUT_SHORT}: record {position}, `{_shown(part)}`"
    if detector.detect(text) or extract_codes(text.upper()):
        return None
    if not context and _cut_short(text, detector):
        return CUT_SHORT
    if detector.named_units(text) or detector.named_prefixes(text):
        return None
    return NOISE if _is_noise(text) else None


def fallback_text(text: str, flags) -> str | None:
    """The reply to an input `unreadable` flagged, saying what could not be read; None
    when no flag is one of its."""
    shown = _shown(text)
    for flag in flags:
        if flag.startswith(_CONTROL_START):
            code = flag[flag.index("(") + 1 : flag.index(")")]
            return (f"I could not read `{shown}`: it holds a control character ({code}), so "
                    "the line may be corrupt; please check it on the panel.")
        if flag.startswith(f"{CUT_SHORT}: "):  # "...: record 2, `SH23:E`"
            return (f"I could not read `{shown}`: {flag[len(CUT_SHORT) + 2 :]}, has "
                    f"{_NO_CODE}; please check the line on the panel.")
        if flag == CUT_SHORT:
            return (f"I could not read `{shown}` as a fault record: it has {_NO_CODE}; please "
                    "check it on the panel.")
        if flag == NOISE:
            return f"I could not read `{shown}` as a fault record or a question."
    return None


def is_refusal(flag: str) -> bool:
    """Whether `flag` is one `unreadable` gives."""
    return flag == NOISE or flag.startswith((CUT_SHORT, _CONTROL_START))


def _cut_short(text: str, detector: detector_lib.Detector) -> bool:
    match = _CUT.fullmatch(text)
    if match is None:
        return False
    label = match.group("label")
    return label.upper() in detector.equipment_names or label.lower() in detector.by_name


def _is_noise(text: str) -> bool:
    tokens = [token.strip(_STRIPPED) for token in text.split()]
    tokens = [token for token in tokens if token]
    if not tokens:  # punctuation only: "?", "..."
        return False
    words = sum(1 for token in tokens if _WORD.fullmatch(token) or _EMOTICON.fullmatch(token))
    return words * 2 < len(tokens)


def _shown(text: str) -> str:
    """The input as a reply may quote it: one line, controls as visible symbols, at most
    `_SHOWN` characters, no backquote."""
    text = " ".join(text.split())
    text = "".join(_visible(char) for char in text).replace("`", "'")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd" if unicodedata.category(char) == "Cc" else char
