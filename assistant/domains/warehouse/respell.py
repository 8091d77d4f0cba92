"""What an operator typed, in the spelling the model was trained on: the runtime's last try
for an input whose reply stays flagged (`Domain.respell`, with the rerank only).

- A line the liberal detector reads as fault records, with nothing else around them but
  separators, times, the units of values and the panel's alarm text: its records written
  canonically ("[03:04:05] charger 91:W718 S=19 mm" -> "CH91:W718 S=19").
- A question about what to do with one fault, named by its code or its catalog meaning, on
  at most one unit: the canonical question ("sc82 says collision detected, what do I do"
  -> "how do I fix C505 on SC82?").

The reply to the respelled input is kept only when the check passes it against the input
as typed; the model alone (and the export) never see a respelled input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.domains.warehouse import faultcodes, grounding
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.mentions import extract_codes, without_times


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
    if not (grounding.asks_action(text) or _HELP.search(text)):
        return None
    codes = set(extract_codes(text)) or grounding.codes_named_by_meaning(text, code_table)
    units = detector.named_units(text)
    if len(codes) != 1 or len(units) > 1:
        return None
    code = next(iter(codes))
    where = "".join(f" on {prefix}{unit:02d}" for prefix, unit in units)
    return f"how do I fix {code}{where}?"


_HELP = re.compile(r"(?<![A-Za-z])help(?![A-Za-z])", flags=re.IGNORECASE)
