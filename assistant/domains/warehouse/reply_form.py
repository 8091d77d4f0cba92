"""Replies no text of the domain is written like: pieces of the input copied into sentences.

A copy model whose inputs are upper-cased (`ModelConfig.source_case="upper"`) can copy a word
of a question into its reply in capitals, and can start a catalog sentence it has no code
for. Both read as nonsense to an operator, and neither names a code or a unit the other
checks could find missing:

    "what is a computer"         -> "Stacker crane COMPUTER COMPUTER warning W COMPUTER ..."
    "my mouse is not responding" -> "It depends on which is not valid for this equipment;
                                     report it to maintenance."

`form_flags` flags them: a word of three letters or more in capitals that neither the
catalog (its meanings, actions and equipment names) nor a small-talk reply writes so
("AGV", "WMS", "USB" are written so), and a catalog sentence (`CATALOG_PHRASES`, or one that
sends something "to maintenance") in a reply that names no code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from assistant.domains.warehouse.mentions import extract_codes
from assistant.domains.warehouse.smalltalk import load_smalltalk

_CAPITALS = re.compile(r"(?<![A-Za-z0-9])[A-Z]{3,}(?![A-Za-z0-9])")
# `messages.MESSAGE_PHRASES` keys of sentences that are about a code
CATALOG_PHRASES = ("not_valid", "not_valid_for", "unknown_code", "not_in_catalog")
MAINTENANCE = "to maintenance"  # "report it to maintenance": said of a code


def form_flags(reply: str, phrases: Mapping[str, str],
               written: frozenset[str] = frozenset()) -> list[str]:
    """"COMPUTER is not a word replies write in capitals", "a catalog sentence without a
    code"; [] for a reply of the domain's form. `written`: the words replies may write in
    capitals (`written_capitals`, computed once per catalog)."""
    flags = [f"{word} is not a word replies write in capitals"
             for word in dict.fromkeys(_CAPITALS.findall(reply)) if word not in written]
    lower = reply.lower()
    said = [phrases[key].lower() for key in CATALOG_PHRASES if phrases.get(key)]
    if not extract_codes(reply) and any(phrase in lower for phrase in [*said, MAINTENANCE]):
        flags.append("a catalog sentence without a code")
    return flags


def written_capitals(code_table: Mapping | None, equipment_names: Mapping[str, str]
                     ) -> frozenset[str]:
    """The words in capitals of the catalog's meanings, actions and equipment names and of
    the small-talk replies."""
    texts: list[str] = [*equipment_names.values(), *_smalltalk_replies()]
    for entry in (code_table or {}).values():
        texts += [entry.meaning, entry.action, *(phrase for _, phrase in entry.phrases)]
    return frozenset(word for text in texts for word in _CAPITALS.findall(text))


@functools.cache
def _smalltalk_replies() -> tuple[str, ...]:
    return tuple(reply for _, reply in load_smalltalk())
