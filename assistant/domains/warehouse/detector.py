"""A liberal reader of fault records: the records an operator typed, in whatever spelling.

The grammar of `faultcodes` reads the canonical line (`CV07:E217 T=85; SN02:W301 N=12`).
Panels and people write more than that, and the faithfulness check must know every record
of such an input to ask that the reply answers it. `Detector.detect` finds, in input order:

- records: a unit then a code. The unit is an equipment prefix ("CV07", "cv 7", "CV-07",
  "CV_07", "XX07") or an equipment name or alias ("conveyor 7", "AGV4", "barcode scanner
  33", "belt #7"), its number 1-99 with or without leading zeros; then an optional ":" or
  "-" and the code, a letter and three digits; then the panel's alarm text, if parameters
  follow; then `KEY=value` parameters separated by spaces or
  commas, a value optionally followed by its unit ("T=85C", "T=85 °C", "B=20%"). Records
  may be separated by anything (";", ",", "|", "/", tab, " and ", spaces, new lines), and a
  line may hold any number of them;
- record-like mentions of questions: a code on a unit ("E217 on CV07", "C509 at sorter 22")
  or a unit showing a code ("conveyor 7 shows E217", "CV07 has E217").

A two-letter prefix the catalog does not know counts only when it cannot be an ordinary
word: written against its number ("XX07") or followed by ":" ("XX 7:E999"), so "at 7 E217"
holds no record. Names and aliases come from the bundle's `faithfulness.json`
("equipment_names", "equipment_aliases").
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping

from assistant.domains.warehouse import faultcodes


@dataclasses.dataclass(frozen=True)
class Detection:
    """One record found in a text.

    Attributes:
        record: the record as the canonical grammar would parse it (prefix, unit, code,
            params with their values as typed, without unit suffixes).
        text: the record as typed, e.g. "CV 7:E217 T=85C" or "E217 on CV07".
        start: where `text` starts in the input.
        end: where it ends.
        kind: "record" (a unit then its code), or "mention" ("E217 on CV07", "CV07 shows
            E217": a question's words).
    """

    record: faultcodes.FaultRecord
    text: str
    start: int
    end: int
    kind: str = "record"  # "record", or "mention" (of a question: "E217 on CV07")


class Detector:
    """Finds fault records in any input, for a catalog's equipment names and aliases.

    Args:
        equipment_names: prefix -> equipment name ("CV" -> "conveyor").
        equipment_aliases: prefix -> other names operators use ("CV" -> ["belt"]); may be
            None or miss prefixes.
    """

    def __init__(self, equipment_names: Mapping[str, str],
                 equipment_aliases: Mapping[str, Iterable[str]] | None = None) -> None:
        self.equipment_names = dict(equipment_names)
        self.equipment_aliases = {prefix: tuple(aliases)
                                  for prefix, aliases in (equipment_aliases or {}).items()}
        self.by_name = name_map(self.equipment_names, self.equipment_aliases)
        self._patterns = _patterns(tuple(sorted(self.by_name, key=len, reverse=True)))

    def detect(self, text: str) -> list[Detection]:
        """The records and record-like mentions of `text`, in input order."""
        found: list[Detection] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern in self._patterns[:-1]:
            for match in pattern.finditer(text):
                if any(match.start() < end and start < match.end() for start, end in taken):
                    continue
                record = self._record(match, kind)
                if record is not None:
                    found.append(Detection(record, match.group(0).strip(), match.start(),
                                           match.end(), "record" if kind == "record"
                                           else "mention"))
                    taken.append((match.start(), match.end()))
        return sorted(found, key=lambda detection: detection.start)

    def records(self, text: str) -> tuple[faultcodes.FaultRecord, ...]:
        """The records of `text` (`detect`), in input order."""
        return tuple(detection.record for detection in self.detect(text))

    def is_fault_line(self, text: str, detections: list[Detection],
                      rest: re.Pattern | None = None) -> bool:
        """Whether `text` holds records and nothing else but separators (a fault line, not
        a question about a record); `rest`: what else may stand around them (default: the
        separators)."""
        if not detections or any(detection.kind != "record" for detection in detections):
            return False
        return bool((rest or _ONLY_SEPARATORS).fullmatch(between(text, detections)))

    def named_prefixes(self, text: str) -> set[str]:
        """Equipment types `text` names, with or without a unit: by name or alias
        ("conveyors", "the belt"), by prefix ("CV", "cv07") or by a detected record."""
        names = _type_pattern(tuple(sorted(self.by_name, key=len, reverse=True)))
        found = {self.by_name[_spaced(match.group(1))] for match in names.finditer(text)}
        found |= {match.group(1).upper() for match in _PREFIX_TOKEN.finditer(text)
                  if match.group(1).upper() in self.equipment_names}
        return found | {detection.record.prefix for detection in self.detect(text)}

    def named_units(self, text: str) -> set[tuple[str, int]]:
        """(prefix, unit) of every unit `text` names by a catalog prefix, name or alias, with
        or without a code ("AGV4", "belt 7", "cv-07")."""
        found = set()
        for match in self._patterns[-1][1].finditer(text):
            unit = int(match.group("unit"))
            name = match.group("name")
            prefix = self.by_name[_spaced(name)] if name else match.group("prefix").upper()
            if prefix in self.equipment_names and _in_range(unit):
                found.add((prefix, unit))
        return found

    def _record(self, match: re.Match, kind: str) -> faultcodes.FaultRecord | None:
        unit = int(match.group("unit"))
        if not _in_range(unit):
            return None
        if match.group("name"):
            prefix = self.by_name[_spaced(match.group("name"))]
        else:
            prefix = match.group("prefix").upper()
            glued = not match.group("gap")
            colon = kind == "record" and ":" in match.group("colon")
            if prefix not in self.equipment_names and not (glued or colon):
                return None
        params = tuple((key.upper(), value)
                       for key, value in _PARAM.findall(match.groupdict().get("params") or ""))
        return faultcodes.FaultRecord(prefix, unit, match.group("code").upper(), params)


def name_map(equipment_names: Mapping[str, str],
             equipment_aliases: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """Name or alias (lower case, single spaces) -> prefix. A name wins over an alias that
    is spelled the same."""
    by_name = {}
    for prefix, aliases in (equipment_aliases or {}).items():
        if prefix in equipment_names:
            by_name.update({_spaced(alias): prefix for alias in aliases if alias.strip()})
    by_name.update({_spaced(name): prefix for prefix, name in equipment_names.items()})
    return by_name


def catalog_key(equipment_names: Mapping[str, str],
                equipment_aliases: Mapping[str, Iterable[str]] | None = None
                ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """(names, aliases) of a catalog as the hashable, ordered arguments of `detector`: one
    key per catalog, so every check of it shares one `Detector`."""
    return (tuple(sorted(equipment_names.items())),
            tuple(sorted((prefix, tuple(aliases))
                         for prefix, aliases in (equipment_aliases or {}).items())))


@functools.lru_cache(maxsize=16)
def detector(names: tuple[tuple[str, str], ...],
             aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> Detector:
    """A `Detector` per catalog, built once (the check runs on every hypothesis)."""
    return Detector(dict(names), dict(aliases))


_CODE = r"(?P<code>[A-Za-z][0-9]{3})(?![0-9A-Za-z])"
# A value's unit: "%" or "°C" (a space before them allowed), or letters against the digits.
_SUFFIX = r"(?:\s?(?:%|°\s?[CcFf]?)|[A-Za-z]{1,3}(?![0-9A-Za-z=]))"
_PARAMS = (rf"(?P<params>(?:(?:\s*,\s*|\s+)[A-Za-z]{{1,{faultcodes.MAX_KEY_LENGTH}}}\s*=\s*"
           rf"[0-9]+(?:\.[0-9]+)?{_SUFFIX}?)*)")
# The panel's alarm text between a code and its parameters ("E401 no-read rate high R=52"):
# words only, and only when a parameter follows, so the parameters stay the record's.
_PANEL = (rf"(?:(?:\s+[A-Za-z][A-Za-z'/-]*){{1,8}}"
          rf"(?=(?:\s*,\s*|\s+)[A-Za-z]{{1,{faultcodes.MAX_KEY_LENGTH}}}\s*=))?")
_PARAM = re.compile(r"([A-Za-z]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)")
_SHOWS = (r"(?:shows|is\s+showing|showing|shows\s+code|reports|reported|reporting|has|had|"
          r"raised|raises|gives|gave|with|says|displays)")
_ON = r"(?:on|at|for|from|in)"
_ONLY_SEPARATORS = re.compile(r"(?:[\s;,|/&+.]|(?<![A-Za-z])(?:and|then)(?![A-Za-z]))*",
                              flags=re.IGNORECASE)
_PREFIX_TOKEN = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{2})(?=[0-9\s]|$)")


def between(text: str, detections: list[Detection]) -> str:
    """What `text` holds besides its `detections` (in order, not overlapping), joined by
    spaces: the separators of a fault line, or the words around a mention."""
    rest, position = [], 0
    for detection in detections:
        rest.append(text[position : detection.start])
        position = detection.end
    rest.append(text[position:])
    return " ".join(rest)


@functools.lru_cache(maxsize=16)
def _patterns(names: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    """The record, "unit shows code" and "code on unit" patterns, in that order of
    precedence, and the unit alone, for names and aliases sorted longest first."""
    alternatives = "|".join(re.escape(name).replace(r"\ ", r"[\s-]+") for name in names)
    name = rf"(?P<name>{alternatives})" if names else r"(?P<name>(?!))"
    unit = (rf"(?<![0-9A-Za-z])(?:{name}|(?P<prefix>[A-Za-z]{{2}}))"
            r"(?P<gap>\s*[-#_]?\s*)0*(?P<unit>[0-9]{1,2})(?![0-9])")
    flags = re.IGNORECASE
    return (
        ("record", re.compile(rf"{unit}(?P<colon>\s*[:-]?\s*){_CODE}{_PANEL}{_PARAMS}", flags)),
        ("shows", re.compile(rf"{unit}\s+{_SHOWS}\s+(?:the\s+)?(?:code\s+)?{_CODE}", flags)),
        ("on", re.compile(rf"(?<![0-9A-Za-z]){_CODE}\s+{_ON}\s+(?:the\s+|an?\s+)?{unit}",
                          flags)),
        ("unit", re.compile(unit, flags)),  # not a record: `named_units` reads units with it
    )


@functools.lru_cache(maxsize=16)
def _type_pattern(names: tuple[str, ...]) -> re.Pattern:
    """An equipment name or alias as a word, plural allowed ("conveyors")."""
    alternatives = "|".join(re.escape(name).replace(r"\ ", r"[\s-]+") for name in names)
    pattern = rf"(?<![0-9A-Za-z])({alternatives or '(?!)'})(?:s|es)?(?![A-Za-z])"
    return re.compile(pattern, flags=re.IGNORECASE)


def _spaced(name: str) -> str:
    """A name as the maps key it: lower case, words joined by one space."""
    return " ".join(name.lower().replace("-", " ").split())


def _in_range(unit: int) -> bool:
    return faultcodes.MIN_UNIT <= unit <= faultcodes.MAX_UNIT
