"""What the runtime answers: a `Turn` (a text and the context it was said in), and what
makes a text or a context unanswerable, found before anything is decoded."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from assistant.core.tokenizer import model_source
from assistant.decoding.buckets import MAX_SOURCE_PIECES


@dataclasses.dataclass(frozen=True)
class Turn:
    """One input of `Assistant.reply_batch`, or one unit of a split line.

    Attributes:
        text: the input as the caller gave it (only a `str` is answered).
        context: the conversation's context, stripped; None when there is none.
        problem: why the turn cannot be answered although its text might be (a context
            that is not text, or not Unicode); None when nothing is wrong with it.
    """

    text: Any
    context: str | None = None
    problem: str | None = None

    @property
    def key(self) -> Hashable:
        """What a reply cache keys the turn by: the stripped text and the context."""
        return (self.text.strip(), self.context)


def turns(texts: Sequence[Any], contexts: Sequence[Any] | None) -> list[Turn]:
    """The turns of `reply_batch`'s inputs: each text with its context (blank: none).

    Raises:
        ValueError: `contexts` is not None and not a sequence of one context per text.
    """
    if contexts is None:
        return [Turn(text) for text in texts]
    if isinstance(contexts, str | bytes) or not isinstance(contexts, Sequence):
        raise ValueError("contexts must be a list of one context (text or None) per input, "
                         f"not {type(contexts).__name__}")
    if len(contexts) != len(texts):
        raise ValueError(f"contexts must hold one context per input: {len(contexts)} "
                         f"contexts for {len(texts)} inputs")
    return [_turn(text, context) for text, context in zip(texts, contexts, strict=True)]


def answerable(turn: Any) -> bool:
    """Whether a turn may be looked up in a reply cache: one that is not refused before
    decoding (a refusal is cheap, and names a character position that outer spaces move)."""
    return (isinstance(turn, Turn) and turn.problem is None and isinstance(turn.text, str)
            and unusable_text(turn.text) is None)


def unusable_text(text: str) -> str | None:
    """Why `text` cannot be answered (one line), or None.

    A lone surrogate is not Unicode (UTF-8 cannot encode it, so neither can the tokenizer):
    the input is refused, as one error reply, rather than answered after a silent
    replacement. A text of invisible characters only is empty.
    """
    problem = _not_unicode(text, "input")
    if problem is not None:
        return problem
    if not text.strip() or all(_is_invisible(char) for char in text):
        return "empty input"
    return None


def encode_turn(turn: Turn, tokenizer, reads_context: bool, source_case: str,
                model_text: Callable[[str], str] | None = None,
                model_context: Callable[[str, str], str] | None = None,
                ) -> tuple[list[int], str | None]:
    """The pieces of one unit (after its context, for a bundle that `reads_context`), or
    the one-line reason it cannot be answered; never raises, so one bad input cannot take
    its batch down. `model_text` and `model_context` (the domain's `Domain.model_text`
    and `Domain.model_context`) give the text the model reads for the unit's text and
    context; a context too long to read so is read as it is, then the text too (the export
    does the same)."""
    text = turn.text
    if not isinstance(text, str):
        return [], f"input must be text, not {type(text).__name__}"
    problem = unusable_text(text) or turn.problem
    if problem is not None:
        return [], problem
    context = turn.context if reads_context else None
    try:
        read = model_text(text) if model_text is not None else text
        read_context = (model_context(context, text) if context is not None
                        and model_context is not None else context)
        ids = tokenizer.encode(model_source(read, read_context, source_case))
        if len(ids) > MAX_SOURCE_PIECES and read_context != context:
            ids = tokenizer.encode(model_source(read, context, source_case))
        if len(ids) > MAX_SOURCE_PIECES and read != text:  # e.g. a long neighbour's draft
            ids = tokenizer.encode(model_source(text, context, source_case))
    except Exception as error:  # the tokenizer is C++: whatever it refuses is this input's
        return [], f"cannot tokenize the input: {type(error).__name__}: {first_line(error)}"
    if len(ids) > MAX_SOURCE_PIECES:
        return [], (f"input too long: {len(ids)} pieces, the limit is "
                    f"{MAX_SOURCE_PIECES} (about {MAX_SOURCE_PIECES * 3} characters)")
    return ids, None


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no message"


# What makes a text empty: controls (NUL...), format characters (zero-width space, joiners,
# BOM, bidi marks, soft hyphen), and separators (spaces, line and paragraph separators) ...
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# ... and the default-ignorable code points of other categories (Unicode's
# DerivedCoreProperties): combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors, variation selectors, and the plane-14 tags and selectors.
_IGNORABLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
                     (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0000, 0xE0FFF))
_SURROGATE = re.compile("[\ud800-\udfff]")  # what `surrogateescape` makes of a stray byte


def _turn(text: Any, context: Any) -> Turn:
    """A text and its context: a context that strips to nothing is none (as an export's
    graph strips it); one that is not text or not Unicode is the turn's problem."""
    if context is None:
        return Turn(text)
    if not isinstance(context, str):
        return Turn(text, problem=f"context must be text, not {type(context).__name__}")
    if not context.strip():
        return Turn(text)
    problem = _not_unicode(context, "context")
    return Turn(text, problem=problem) if problem else Turn(text, context.strip())


def _not_unicode(text: str, what: str) -> str | None:
    surrogate = None if text.isascii() else _SURROGATE.search(text)
    if surrogate is None:
        return None
    return (f"{what} is not valid Unicode: lone surrogate U+{ord(surrogate.group()):04X} "
            f"at character {surrogate.start() + 1} (decode bytes with errors='replace')")


def _is_invisible(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in _INVISIBLE_CATEGORIES
            or any(low <= code <= high for low, high in _IGNORABLE_RANGES))
