"""How the corpus words its sources: question templates, and the spellings operators use.

`PHRASINGS`: the question templates per question type and split. Train phrasings are drawn
for every split; each held-out split also has phrasings of its own ("valid", "test"), kept
exactly as written, so valid and test measure how well the model answers a question worded
as it never saw. `CANONICAL_QUESTIONS` (the first train phrasing of each type) is the
canonical spelling of a question; `unit_mention`, `chatty` and `vary_prompt` vary how a
question names a unit, what it adds around itself and its case.

The variant spellings (families: `heldout.FAMILIES`) are the corpus's noise: `draw_spelling`
picks how a line of the family is written, `write_line` writes its records that way;
`CASUAL_PHRASINGS` and `MEANING_PHRASINGS` word the question families. The realistic
evaluation set (`realistic`) has a generator of its own and does not use these.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence

from assistant.domains.warehouse.catalog import Catalog, ParamSpec
from assistant.domains.warehouse.faultcodes import FaultRecord

# {code}: a fault code; {eq}: a unit ("conveyor 7", "CV07"); {name}: an equipment name.
PHRASINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "meaning": {
        "train": ("what does {code} mean?", "what is {code}?", "explain {code}",
                  "meaning of {code}", "what is the meaning of {code}?",
                  "what does code {code} mean", "{code}, what does that mean?", "describe {code}",
                  "what's {code}?", "tell me about {code}", "what does {code} stand for?",
                  "I see {code}, what is it?", "what's the meaning of {code}?",
                  "{code} means what?", "what is error {code}?", "define {code}",
                  "what is alarm {code}?", "{code} explanation", "{code}: what is that?",
                  "what does the code {code} mean on the panel?", "info on {code}",
                  "the panel says {code}, meaning?", "what is {code} about?"),
        "valid": ("what is fault code {code}?",),
        "test": ("can you tell me what {code} means?", "{code} meaning?"),
    },
    "action": {
        "train": ("how do I fix {code}?", "what should I do about {code}?", "how to clear {code}",
                  "{code} what do I do?", "how can I fix {code}?", "what is the action for {code}?",
                  "how do I deal with {code}?", "{code}, how do I fix it?",
                  "what to do about {code}", "fix for {code}", "how do I solve {code}?",
                  "got {code}, what should I do?", "how do I reset {code}?",
                  "what do I do when I get {code}?", "steps for {code}",
                  "how do I get rid of {code}?", "{code}: how to fix?", "action for {code}",
                  "what now with {code}?", "how do you fix {code}?",
                  "the panel shows {code}, what should I do?"),
        "valid": ("how do I resolve {code}?",),
        "test": ("what is the fix for {code}?", "I have {code}, what now?"),
    },
    "action_unit": {
        "train": ("how do I fix {code} on {eq}?", "what should I do about {code} on {eq}?",
                  "{eq} shows {code}, what do I do?", "how to clear {code} on {eq}",
                  "how can I fix {code} on {eq}?", "what is the action for {code} on {eq}?",
                  "{eq} reports {code}, how do I clear it?", "fix for {code} on {eq}",
                  "got {code} on {eq}, what should I do?", "how do I deal with {code} on {eq}?",
                  "how do I reset {code} on {eq}?", "{eq} has {code}: how to fix?",
                  "steps for {code} on {eq}", "{code} at {eq}, what do I do?",
                  "action for {code} on {eq}", "how do you fix {code} on {eq}?",
                  "{eq} is showing {code}, what should I do?", "what now with {code} on {eq}?"),
        "valid": ("{eq} has {code}, how do I fix it?",),
        "test": ("what is the fix for {code} on {eq}?", "{code} on {eq}, what now?"),
    },
    "severity": {
        "train": ("what is the severity of {code}?", "how serious is {code}?",
                  "is {code} critical?", "severity of {code}", "how severe is {code}?",
                  "what is the severity level of {code}?", "is {code} a warning?",
                  "{code} severity", "how urgent is {code}?", "is {code} dangerous?",
                  "what kind of code is {code}?", "is {code} a fault?",
                  "is {code} an emergency?", "{code}: how serious?", "severity for {code}",
                  "what's the severity of {code}?", "is {code} urgent?", "is {code} bad?",
                  "how critical is {code}?", "is {code} just info?", "{code} critical or not?",
                  "what level is {code}?"),
        "valid": ("how bad is {code}?",),
        "test": ("what severity is {code}?", "is {code} serious?"),
    },
    "equipment": {
        "train": ("which equipment raises {code}?", "what equipment can show {code}?",
                  "where does {code} come from?", "which machines use {code}?",
                  "what machines raise {code}?", "{code} comes from which equipment?",
                  "which units can raise {code}?", "where can {code} be raised?",
                  "which equipment types have {code}?", "who raises {code}?",
                  "what can report {code}?", "equipment for {code}",
                  "which machines can show {code}?",
                  "what equipment has {code}?", "{code} is from which machines?",
                  "what equipment gives {code}?", "on which equipment does {code} appear?",
                  "{code} belongs to which equipment?", "which devices raise {code}?"),
        "valid": ("what raises {code}?",),
        "test": ("which equipment can report {code}?", "{code} is raised by which equipment?"),
    },
    "codes": {
        "train": ("what codes can the {name} raise?", "list the {name} codes",
                  "which fault codes does the {name} have?", "{name} codes",
                  "list codes for the {name}", "codes of the {name}", "show me the {name} codes",
                  "which codes can a {name} show?", "all codes for the {name}",
                  "what are the {name} fault codes?", "codes that belong to the {name}",
                  "what codes does a {name} have?",
                  "{name} code list", "list all {name} codes", "which codes can the {name} give?",
                  "what codes are there for the {name}?", "the {name}'s codes",
                  "show all codes for the {name}"),
        "valid": ("show codes for the {name}",),
        "test": ("what codes does the {name} report?", "which codes belong to the {name}?"),
    },
}  # fmt: skip

CANONICAL_QUESTIONS = {qtype: phrasings["train"][0] for qtype, phrasings in PHRASINGS.items()}
CANONICAL_EQ = "{prefix}{unit:02d}"  # {eq} of a canonical question: "CV07"

# Casual wordings of the question types (every split; none matches a valid/test phrasing).
CASUAL_PHRASINGS: dict[str, tuple[str, ...]] = {
    "meaning": ("whats {code}", "{code}?", "{code} means?", "wat is {code}", "{code} pls explain",
                "what is {code} again?", "hey what does {code} mean", "what's {code} mean"),
    "action": ("{code} how to fix", "how fix {code}", "{code} what now",
               "{code}, what do I do now", "need help with {code}", "what do i do with {code}",
               "{code} fix?", "{code} help pls"),
    "action_unit": ("{eq} {code} help", "{eq} showing {code}", "{code} at {eq} help pls",
                    "{eq} has {code} now what", "{eq} threw {code}, what now",
                    "what do i do, {eq} says {code}"),
    "severity": ("{code} bad?", "is {code} serious or not", "how serious {code}",
                 "{code} urgent?", "should i worry about {code}"),
    "equipment": ("{code} which machine?", "what machine gives {code}",
                  "which machines throw {code}", "{code} comes from where?"),
    "codes": ("{name} codes?", "codes for {name} pls", "what codes does {name} have",
              "all the {name} codes", "what can the {name} throw?"),
}  # fmt: skip
# A fix asked for by the code's catalog meaning instead of the code.
MEANING_PHRASINGS: dict[str, tuple[str, ...]] = {
    "action": ("how do I fix {meaning}?", "{meaning}, what should I do?",
               "what to do about {meaning}"),
    "action_unit": ("{meaning} on {eq}, how do I fix it?", "how do I fix {meaning} on {eq}?",
                    "{eq} has {meaning}, what should I do?", "what to do about {meaning} on {eq}"),
}  # fmt: skip
QUESTION_FAMILIES = ("ask_casual", "ask_by_meaning", "ask_code_on_unit")
ALIAS_FAMILIES = ("alias_name", "alias_short", "alias_belt")
# Relative weights of the families among the corpus's variant pairs (held-out ones are
# dropped by the sampler). Separators weigh most: those lines are decoded whole.
FAMILY_WEIGHTS: Mapping[str, float] = {
    "sep_comma": 3.0, "sep_pipe": 2.0, "sep_slash": 2.0, "sep_tab": 1.0, "sep_and": 2.0,
    "sep_space": 2.0, "sep_newline": 1.5, "unit_space": 1.0, "unit_hyphen": 1.0,
    "unit_underscore": 1.0, "unit_lower": 0.5, "no_colon": 2.0, "alias_name": 2.0,
    "alias_short": 2.0, "alias_belt": 1.0, "value_unit": 2.0, "many_records": 1.5,
    "timestamp": 1.0, "panel_text": 1.5, "ask_casual": 3.0, "ask_by_meaning": 3.0,
    "ask_code_on_unit": 1.0, "combined": 3.0,
}  # fmt: skip
SEPARATORS: Mapping[str, tuple[str, ...]] = {
    "sep_comma": (", ", ",", " , "), "sep_pipe": (" | ", "|", " |"), "sep_slash": (" / ", "/"),
    "sep_tab": ("\t", " \t"), "sep_and": (" and ", " & ", " AND ", ", and "),
    "sep_space": (" ", "  ", "   "), "sep_newline": ("\n", " \n"),
}  # fmt: skip
UNIT_JOINERS: Mapping[str, str] = {"unit_space": " ", "unit_hyphen": "-", "unit_underscore": "_"}


@dataclasses.dataclass(frozen=True)
class Spelling:
    """How a variant line writes its records; the defaults are the canonical spelling."""

    separator: str = "; "  # between records
    joiner: str = ""  # between the prefix and the unit number
    alias: str = ""  # "name" or "short": the equipment named instead of its prefix
    colon: str = ":"  # between unit and code
    value_units: bool = False  # a value followed by its unit
    panel_text: bool = False  # the code's meaning after the code
    timestamp: bool = False  # each record starts with a time
    lower: bool = False  # all lower case


def draw_spelling(family: str, rng: random.Random, allowed: Sequence[str]) -> Spelling:
    """How a line of `family` is written; "combined" merges 2-3 of the `allowed` families."""
    if family == "combined":
        groups = [[f for f in group if f in allowed] for group in _COMBINABLE]
        groups = [group for group in groups if group]
        spelling = Spelling()
        for group in rng.sample(groups, rng.choice((2, 2, 3))):
            spelling = _merge(spelling, draw_spelling(rng.choice(group), rng, allowed))
        return spelling
    if family in SEPARATORS:
        return Spelling(separator=rng.choice(SEPARATORS[family]))
    if family in UNIT_JOINERS:
        return Spelling(joiner=UNIT_JOINERS[family])
    simple = {"unit_lower": Spelling(lower=True), "value_unit": Spelling(value_units=True),
              "no_colon": Spelling(colon=rng.choice((" ", " ", "  "))),
              "alias_name": Spelling(alias="name", colon=rng.choice((": ", " ", ":", " : "))),
              "alias_short": Spelling(alias="short", colon=rng.choice((": ", " ", ":"))),
              "panel_text": Spelling(panel_text=True, colon=rng.choice((" ", ":"))),
              "timestamp": Spelling(timestamp=True, separator=rng.choice(("\n", "; ", "\n")))}
    return simple.get(family, Spelling())


def write_line(records: Sequence[FaultRecord], spelling: Spelling, catalog: Catalog,
               aliases: Mapping[str, Sequence[str]], rng: random.Random,
               number_ok: Callable[[str], bool]) -> str:
    """`records` written as `spelling` says. `aliases`: prefix -> the aliases to use;
    `number_ok`: whether a number may appear in a timestamp (the split's reservations)."""
    texts = [_write_record(record, spelling, catalog, aliases, rng) for record in records]
    if spelling.timestamp:
        texts = [f"{_timestamp(rng, number_ok)} {text}" for text in texts]
    return spelling.separator.join(texts)


def chatty(text: str, rng: random.Random) -> str:
    """A question with the small words operators add around it, now and then."""
    if rng.random() < _CHATTY:
        text = rng.choice(_PROMPT_OPENERS) + text
    if rng.random() < _CHATTY:
        text = text.rstrip("?") + rng.choice(_PROMPT_CLOSERS)
    return text


def vary_prompt(text: str, rng: random.Random) -> str:
    """A question's case varied, and now and then its question mark left out."""
    text = rng.choices(
        (text, text[:1].upper() + text[1:], text.lower(), text.upper()), (0.45, 0.35, 0.15, 0.05)
    )[0]
    if text.endswith("?") and rng.random() < 0.2:
        text = text[:-1]
    return text


def unit_mention(prefix: str, unit: int, name: str, rng: random.Random) -> str:
    """A unit as a question names it: "conveyor 7", "conveyor 07", "CV07" or "CV7"."""
    forms = (f"{name} {unit}", f"{name} {unit:02d}", f"{prefix}{unit:02d}", f"{prefix}{unit}")
    return rng.choices(forms, (0.4, 0.15, 0.3, 0.15))[0]


# ---------------------------------------------------------------------------------------
# Private helpers.

_PROMPT_OPENERS = ("hi, ", "hey, ", "quick question: ", "please, ", "sorry, ", "ok, ")
_PROMPT_CLOSERS = (" please", ", thanks", " thanks", "??", " ?")
_CHATTY = 0.2  # train only: chance of an opener, and of a closer, around a question
_COMBINABLE = (
    tuple(SEPARATORS),
    ("unit_space", "unit_hyphen", "unit_underscore", "unit_lower", *ALIAS_FAMILIES),
    ("no_colon", "value_unit"),
    ("panel_text", "timestamp"),
)
_UNIT_SPELLINGS = {"°C": ("°C", " °C", "C", "degC", " deg", "°"), "%": ("%", " %")}
_NAMING_UNITS = ("chute", "station", "zone")  # name a place, never written after a value
_ALIAS_JOINERS = ((" ", "", " #"), (0.78, 0.15, 0.07))


def _merge(spelling: Spelling, other: Spelling) -> Spelling:
    """`spelling` with what `other` changes from the canonical spelling."""
    canonical = Spelling()
    changes = {field.name: getattr(other, field.name) for field in dataclasses.fields(Spelling)
               if getattr(other, field.name) != getattr(canonical, field.name)}
    return dataclasses.replace(spelling, **changes)


def _write_record(record: FaultRecord, spelling: Spelling, catalog: Catalog,
                  aliases: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    entry = catalog.entries.get(record.code)
    names = aliases.get(record.prefix, ())
    if spelling.alias and names:
        alias = names[0] if spelling.alias == "name" or len(names) == 1 else rng.choice(names[1:])
        alias = alias.upper() if alias == "agv" and rng.random() < 0.7 else alias
        unit = f"{record.unit:02d}" if rng.random() < 0.1 else str(record.unit)
        head = alias + rng.choices(*_ALIAS_JOINERS)[0] + unit
    else:
        prefix = record.prefix if rng.random() < 0.8 else record.prefix.lower()
        unit = f"{record.unit:02d}" if rng.random() < 0.5 else str(record.unit)
        head = prefix + spelling.joiner + unit
    text = head + spelling.colon + (record.code if rng.random() < 0.85 else record.code.lower())
    if spelling.panel_text and entry is not None:
        text += " " + rng.choice((entry.meaning.upper(), entry.meaning, entry.meaning.title()))
    specs = {spec.name: spec for spec in entry.params} if entry is not None else {}
    for key, value in record.params:
        spec = specs.get(key) if spelling.value_units else None
        text += f" {key}={value}" + (_unit_suffix(spec, rng) if spec is not None else "")
    return text.lower() if spelling.lower else text


def _unit_suffix(spec: ParamSpec, rng: random.Random) -> str:
    if not spec.unit or spec.unit in _NAMING_UNITS:
        return ""
    if spec.unit in _UNIT_SPELLINGS:
        return rng.choice(_UNIT_SPELLINGS[spec.unit])
    return rng.choice((spec.unit, " " + spec.unit)) if len(spec.unit) <= 3 else " " + spec.unit


def _timestamp(rng: random.Random, number_ok: Callable[[str], bool]) -> str:
    while True:
        year, month, day = rng.randint(2019, 2027), rng.randint(1, 12), rng.randint(1, 28)
        hour, minute, second = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        numbers = (str(year), str(month), str(day), str(hour), str(minute), str(second))
        if all(number_ok(number) for number in numbers):
            break
    clock = f"{hour:02d}:{minute:02d}"
    return rng.choice((clock, f"{clock}:{second:02d}", f"[{clock}:{second:02d}]",
                       f"{year}-{month:02d}-{day:02d} {clock}:{second:02d}"))
