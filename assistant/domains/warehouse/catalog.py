"""The fault catalog (`assistant/domains/warehouse/data/fault_catalog.yaml`): its schema,
loading and validation.

Field names (`equipment` map; `aliases` map; per code `code`, `equipment`, `severity`,
`meaning`, `action`, `params` with `name`, `unit`, `range`, `decimals`, `phrase`) are read by
other tools too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

DEFAULT_CATALOG = Path(__file__).parent / "data" / "fault_catalog.yaml"
SEVERITIES = ("critical", "fault", "warning", "info")  # message order: most severe first
SEVERITY_LETTERS = {"critical": "C", "fault": "E", "warning": "W", "info": "I"}
UNKNOWN_RANK = SEVERITIES.index("fault")  # where unknown or misplaced codes sort


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One `KEY=value` parameter a code reports."""

    name: str  # the KEY, upper case
    unit: str  # e.g. "°C"; "" for a plain count
    low: float  # plausible range, used to generate values
    high: float
    decimals: int  # digits after the point in generated values
    phrase: str  # message wording, "{value}" replaced by the value as typed


@dataclasses.dataclass(frozen=True)
class FaultEntry:
    """One catalog code."""

    code: str
    equipment: tuple[str, ...]  # prefixes the code is valid for
    severity: str
    meaning: str
    action: str
    params: tuple[ParamSpec, ...]


@dataclasses.dataclass(frozen=True)
class Catalog:
    """The fault catalog: equipment names and codes, plus the YAML it came from."""

    equipment: Mapping[str, str]  # prefix -> name, e.g. "CV" -> "conveyor"
    entries: Mapping[str, FaultEntry]  # code -> entry, in catalog order
    raw: Mapping  # the parsed YAML, e.g. for faithfulness.allowed_numbers_from_catalog
    # prefix -> what operators call it, lower case, the name first, e.g. "CV" ->
    # ("conveyor", "conv", "belt"); every prefix of `equipment` has an entry
    aliases: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def codes_for(self, prefix: str) -> list[str]:
        """Codes valid for `prefix`, in catalog order."""
        return [code for code, entry in self.entries.items() if prefix in entry.equipment]


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Reads and validates the fault catalog YAML (default: `DEFAULT_CATALOG`).

    Raises:
        ValueError: the file is not a valid catalog; the message lists the first problems.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    problems = catalog_problems(raw)
    if problems:
        raise ValueError(f"{path}: invalid catalog: " + "; ".join(problems[:5]))
    entries = {}
    for item in raw["codes"]:
        params = tuple(
            ParamSpec(
                name=p["name"],
                unit=str(p["unit"]),
                low=p["range"][0],
                high=p["range"][1],
                decimals=p.get("decimals", 0),
                phrase=p["phrase"],
            )
            for p in item["params"]
        )
        entries[item["code"]] = FaultEntry(
            code=item["code"],
            equipment=tuple(item["equipment"]),
            severity=item["severity"],
            meaning=item["meaning"],
            action=item["action"],
            params=params,
        )
    aliases = {
        prefix: tuple(raw.get("aliases", {}).get(prefix) or (name.lower(),))
        for prefix, name in raw["equipment"].items()
    }
    return Catalog(dict(raw["equipment"]), entries, raw, aliases)


def catalog_problems(raw) -> list[str]:
    """Schema problems of a parsed catalog, as readable strings (empty when valid)."""
    if not isinstance(raw, Mapping):
        return ["the catalog must be a mapping with 'equipment' and 'codes'"]
    problems = []
    equipment = raw.get("equipment")
    if not isinstance(equipment, Mapping) or not equipment:
        problems.append("'equipment' must map prefixes to names")
        equipment = {}
    for prefix, name in equipment.items():
        if not (isinstance(prefix, str) and re.fullmatch(r"[A-Z]{2}", prefix)):
            problems.append(f"equipment prefix {prefix!r} must be two upper-case letters")
        if not (isinstance(name, str) and name.strip()):
            problems.append(f"equipment {prefix!r} needs a name")
    problems += _alias_problems(raw.get("aliases", {}), equipment)
    codes = raw.get("codes")
    if not isinstance(codes, list) or not codes:
        return [*problems, "'codes' must be a non-empty list"]
    seen: set[str] = set()
    for index, entry in enumerate(codes):
        problems.extend(_entry_problems(entry, index, equipment, seen))
    return problems


def _alias_problems(aliases, equipment: Mapping) -> list[str]:
    if not isinstance(aliases, Mapping):
        return ["'aliases' must map prefixes to lists of names"]
    problems, owners = [], {}
    for prefix, names in aliases.items():
        if prefix not in equipment:
            problems.append(f"aliases: unknown prefix {prefix!r}")
            continue
        if not (isinstance(names, list) and names
                and all(isinstance(n, str) and _ALIAS.fullmatch(n) for n in names)):
            problems.append(f"aliases of {prefix}: a list of lower-case names")
            continue
        if names[0] != str(equipment[prefix]).lower():
            problems.append(f"aliases of {prefix}: the first must be the name "
                            f"{str(equipment[prefix]).lower()!r}")
        for name in names:
            if owners.setdefault(name, prefix) != prefix or names.count(name) > 1:
                problems.append(f"alias {name!r} is given twice")
    return problems


_ALIAS = re.compile(r"[a-z][a-z -]*[a-z]")


def _entry_problems(entry, index: int, equipment: Mapping, seen: set[str]) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"codes[{index}] must be a mapping"]
    where = f"codes[{index}] ({entry.get('code')})"
    missing = [
        f
        for f in ("code", "equipment", "severity", "meaning", "action", "params")
        if f not in entry
    ]
    if missing:
        return [f"{where}: missing {', '.join(missing)}"]
    problems = []
    code, severity = entry["code"], entry["severity"]
    if severity not in SEVERITIES:
        problems.append(f"{where}: severity {severity!r} not in {SEVERITIES}")
    elif not (isinstance(code, str) and re.fullmatch(r"[A-Z][0-9]{3}", code)):
        problems.append(f"{where}: code must be a letter and three digits")
    elif code[0] != SEVERITY_LETTERS[severity]:
        problems.append(f"{where}: a {severity} code starts with {SEVERITY_LETTERS[severity]}")
    if code in seen:
        problems.append(f"{where}: duplicate code")
    seen.add(code)
    prefixes = entry["equipment"]
    if not isinstance(prefixes, list) or not prefixes or len(set(prefixes)) < len(prefixes):
        problems.append(f"{where}: equipment must be a non-empty list without repeats")
    else:
        problems += [f"{where}: unknown prefix {p!r}" for p in prefixes if p not in equipment]
    for field in ("meaning", "action"):
        if not (isinstance(entry[field], str) and entry[field].strip()):
            problems.append(f"{where}: {field} must be text")
    if isinstance(entry["action"], str) and re.sub(r"\{equipment\}", "", entry["action"]).count(
        "{"
    ):
        problems.append(f"{where}: action may only use the {{equipment}} placeholder")
    if not isinstance(entry["params"], list):
        return [*problems, f"{where}: params must be a list"]
    names = [p.get("name") for p in entry["params"] if isinstance(p, Mapping)]
    if len(set(names)) < len(names):
        problems.append(f"{where}: duplicate parameter names")
    for param in entry["params"]:
        problems += [f"{where}: {problem}" for problem in _param_problems(param)]
    return problems


def _param_problems(param) -> list[str]:
    if not isinstance(param, Mapping) or not {"name", "unit", "range", "phrase"} <= set(param):
        return ["a parameter needs name, unit, range and phrase"]
    name, unit, bounds, phrase = param["name"], param["unit"], param["range"], param["phrase"]
    problems = []
    if not (isinstance(name, str) and re.fullmatch(r"[A-Z]{1,8}", name)):
        problems.append(f"parameter name {name!r} must be 1-8 upper-case letters")
    numeric = (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    )
    if not numeric or not 0 <= bounds[0] < bounds[1]:
        problems.append(f"parameter {name}: range must be [low, high] with 0 <= low < high")
    if param.get("decimals", 0) not in (0, 1, 2):
        problems.append(f"parameter {name}: decimals must be 0, 1 or 2")
    if not (isinstance(phrase, str) and phrase.count("{value}") == 1):
        problems.append(f"parameter {name}: phrase must contain {{value}} once")
    elif unit and not re.search(rf"(?<!\w){re.escape(str(unit))}(?!\w)", phrase):
        problems.append(f"parameter {name}: phrase must show the unit {unit!r}")
    return problems
