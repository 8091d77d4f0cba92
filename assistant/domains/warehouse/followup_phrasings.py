"""How the corpus words follow-up questions: turns that refer back to the context.

`PRONOUN_PHRASINGS`: a question about "it" per question type ("how do I fix it?", "what does
that mean?"); `SELECT_PHRASINGS`: a turn that picks a record of the context by its equipment
type ({type}: "sorter"), its unit ({eq}: "sorter 2", "SN02"), its code ({code}) or its place
({ordinal}: "second"). As in `phrasings.PHRASINGS`, train phrasings are drawn for train only,
and valid and test have phrasings of their own, kept exactly as written, so the test split
measures follow-ups worded as the model never saw them.
"""

from __future__ import annotations

PRONOUN_PHRASINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "action": {
        "train": ("how do I fix it?", "how do I fix that?", "what should I do?",
                  "what should I do about it?", "how do I clear it?", "how to fix it",
                  "what do I do now?", "how do I fix this one?", "what's the fix?",
                  "how can I fix that?", "and how do I fix it?", "how do I clear that?",
                  "what do I do about this code?", "fix?", "how do I reset it?", "what now?",
                  "ok, what should I do about that?", "how do I get rid of it?"),
        "valid": ("how do I sort that out?",),
        "test": ("what can I do about it?", "any idea how to fix this?"),
    },
    "meaning": {
        "train": ("what does that mean?", "what does it mean?", "what is it?", "what's that?",
                  "what does this code mean?", "meaning?", "what is that code?", "explain it",
                  "what does that code mean?", "explain that", "what is this about?",
                  "and what does it mean?", "what's it mean?", "what is that one?"),
        "valid": ("what does this one mean?",),
        "test": ("what is that about?", "can you explain that one?"),
    },
    "severity": {
        "train": ("how serious is it?", "is it critical?", "how bad is that?", "is that serious?",
                  "how urgent is it?", "is this code critical?", "severity?", "is it dangerous?",
                  "how severe is that?", "is it urgent?", "how bad is it?"),
        "valid": ("is that bad?",),
        "test": ("how serious is that one?", "should I worry about it?"),
    },
    "equipment": {
        "train": ("which equipment raises it?", "where does it come from?",
                  "what else can raise it?", "which machines raise that?",
                  "what equipment has this code?", "who else raises it?",
                  "which equipment can show that?", "what machines can have it?"),
        "valid": ("what raises that?",),
        "test": ("which machines can report it?", "where else can that come from?"),
    },
}  # fmt: skip

SELECT_PHRASINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "type": {
        "train": ("what about the {type}?", "and the {type}?", "and on the {type}?",
                  "what about on the {type}?", "the {type} one?", "and what about the {type}?",
                  "ok and the {type}?", "how about the {type}", "what's with the {type}?"),
        "valid": ("the {type}?",),
        "test": ("and for the {type}?", "what's up with the {type}?"),
    },
    "unit": {
        "train": ("what about {eq}?", "and {eq}?", "and on {eq}?", "what about the one on {eq}?",
                  "{eq}?", "and what about {eq}?", "what's with {eq}?", "ok, {eq}?"),
        "valid": ("how about {eq}?",),
        "test": ("and for {eq}?", "what's up with {eq}?"),
    },
    "code": {
        "train": ("what about {code}?", "and {code}?", "{code} then?", "and what about {code}?",
                  "ok, {code}?", "the {code} one?", "what's with {code}?"),
        "valid": ("how about {code}?",),
        "test": ("and for {code}?", "what's up with {code}?"),
    },
    "ordinal": {
        "train": ("the {ordinal} one", "the {ordinal} one?", "{ordinal} one",
                  "I mean the {ordinal} one", "the {ordinal}", "{ordinal} please",
                  "the {ordinal} record", "{ordinal} one pls"),
        "valid": ("{ordinal}",),
        "test": ("the {ordinal} one please", "I meant the {ordinal}"),
    },
}  # fmt: skip
