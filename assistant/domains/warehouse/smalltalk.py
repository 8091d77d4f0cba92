"""Small talk for the corpus: the opening exchanges of chatterbot-corpus conversations.

The opening exchange (first line -> second line) of each conversation in the
chatterbot-corpus categories `SMALLTALK_CATEGORIES` (workplace-suitable; humor, politics,
gossip, health, history, literature, movies, sports, trivia, science, food, money,
psychology and coding are skipped). A prompt keeps only its first reply; pairs with digits
(the faithfulness check would flag them), replies over `MAX_SMALLTALK_REPLY_WORDS` words and
the prompts in `SMALLTALK_EXCLUDED` (unsuitable at work) are dropped, and `HOUSE_SMALLTALK`
answers "who are you?", "help" and thanks as the warehouse assistant. Train holds a
prompt's spellings as written, lower-cased and without trailing punctuation; valid and test
hold other spellings (`smalltalk_pairs`).
"""

from __future__ import annotations

import importlib.resources
import math
import re
from collections.abc import Sequence

import yaml

from assistant.domains.warehouse import faultcodes

SMALLTALK_CATEGORIES = (
    "greetings", "conversations", "emotion", "computers", "ai", "botprofile", "tech_support",
)  # fmt: skip
MAX_SMALLTALK_REPLY_WORDS = 30
_HELP_REPLY = (
    "Type the fault records from a panel, or ask me what a code means, how serious it is "
    "or how to fix it."
)
_WHO_REPLY = "I am the warehouse assistant. I explain fault codes and what to do about them."
HOUSE_SMALLTALK = (
    ("Who are you?", _WHO_REPLY),
    ("What are you?", _WHO_REPLY),
    ("What can you do?", _HELP_REPLY),
    ("Help", _HELP_REPLY),
    ("Thank you", "You're welcome."),
    ("Thanks", "You're welcome."),
    ("Good morning", "Good morning! Type a fault line or ask me about a code."),
    ("Bye", "Goodbye, and stay safe on the floor."),
)  # override the chatterbot replies to the same prompts

SMALLTALK_EXCLUDED = frozenset({
    "bend over", "can you mate", "robots should die", "i hope that you die",
    "are you intoxicated", "tell me about your dreams", "do not lie", "robots are stupid",
    "what is a chat bot", "how can i use your product", "the cake is a lie",
    "hello, i am here for my appointment", "dr. smith will see you now",
    "hello mr. davis, how are you feeling", "hi mrs. smith, how has your husband been",
    "hi ms. jacobs, i was wondering if you could revise the algorithm we discussed yesterday",
})  # fmt: skip
# prompts (compared as by `_smalltalk_key`) that are unsuitable at work, off-topic role play,
# or answered with claims the assistant cannot back ("I am incapable of error")


def load_smalltalk(categories: Sequence[str] = SMALLTALK_CATEGORIES) -> list[tuple[str, str]]:
    """(prompt, reply) pairs: `HOUSE_SMALLTALK`, then chatterbot-corpus English openings.

    One reply per prompt: the first one met, comparing prompts without case, extra spaces or
    trailing punctuation.
    """
    root = importlib.resources.files("chatterbot_corpus") / "data" / "english"
    pairs = {_smalltalk_key(prompt): (prompt, reply) for prompt, reply in HOUSE_SMALLTALK}
    for category in categories:
        data = yaml.safe_load((root / f"{category}.yml").read_text(encoding="utf-8"))
        for conversation in data.get("conversations") or ():
            if len(conversation) < 2:
                continue
            prompt, reply = (" ".join(str(line).split()) for line in conversation[:2])
            if _usable_smalltalk(prompt, reply):
                pairs.setdefault(_smalltalk_key(prompt), (prompt, reply))
    return list(pairs.values())


def smalltalk_pairs(
    smalltalk: Sequence[tuple[str, str]], split: str, quota: int, taken: set[str], rng
) -> list[dict]:
    """Train repeats its spellings to fill the quota; valid/test hold other spellings once."""
    sources: dict[str, str] = {}
    for prompt, reply in smalltalk:
        for variant in _smalltalk_variants(prompt)[split]:
            if variant not in taken:
                sources.setdefault(variant, reply)
    items = [{"source": s, "target": t, "category": "smalltalk"} for s, t in sources.items()]
    rng.shuffle(items)
    if split == "train" and items:
        items = items * math.ceil(quota / len(items))
    return items[:quota]


def _smalltalk_variants(prompt: str) -> dict[str, list[str]]:
    bare = re.sub(r"[\s?!.]+$", "", prompt)
    return {
        "train": [prompt, prompt.lower(), bare],
        "valid": [prompt.upper()],
        "test": [bare.lower()],
    }


def _smalltalk_key(prompt: str) -> str:
    return re.sub(r"[\s?!.]+$", "", " ".join(prompt.lower().split()))


def _usable_smalltalk(prompt: str, reply: str) -> bool:
    return (
        bool(prompt and reply)
        and _smalltalk_key(prompt) not in SMALLTALK_EXCLUDED
        and not re.search(r"[0-9]", prompt + reply)
        and len(reply.split()) <= MAX_SMALLTALK_REPLY_WORDS
        and not faultcodes.looks_like_fault_line(prompt)
    )
