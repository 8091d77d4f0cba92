"""Reading text inside an exported graph as Python's `re` and `str` methods read it.

RE2 (`tf.strings.regex_*`) and Python's `re` differ in what `\\s` matches: `python_re`
rewrites a Python pattern so both match the same characters, and `strip_pattern` is
`str.strip()` for RE2. Domains use them for their in-graph splitters.
"""

from __future__ import annotations

import functools
import re
import sys


@functools.cache
def python_re(pattern: str) -> str:
    r"""A Python `re` pattern rewritten for RE2, `\s` matching what it matches in Python.

    Python's `\s` matches every `str.isspace()` character, RE2's only ASCII spaces; the
    other syntax of `segment`'s patterns reads the same in both.

    Raises:
        ValueError: the pattern uses another class the two read differently (\d, \w, ...).
    """
    out = []
    for token, in_class in _tokens(pattern):
        if token == r"\s":
            out.append(spaces() if in_class else f"[{spaces()}]")
        elif token[:1] == "\\" and token[1:] in ("S", "d", "D", "w", "W", "b", "B"):
            raise ValueError(f"{token} differs between Python and RE2: {pattern!r}")
        else:
            out.append(token)
    return "".join(out)


@functools.cache
def ascii_case(pattern: str) -> str:
    """A pattern that starts with an `i` flag ("(?is)...") with that flag spelled out for
    ASCII letters alone ("fix" -> "[fF][iI][xX]", "(?is)" -> "(?s)"); other patterns as they
    are. Case-insensitive matching folds "ı", "İ", "ſ" or the Kelvin sign into ASCII letters
    in Python's `re` and not (all) in RE2; spelled out, both compare ASCII letters in either
    case and nothing else. Character classes and escapes are kept as written."""
    flags = re.match(r"\(\?([a-z]+)\)", pattern)
    if flags is None or "i" not in flags.group(1):
        return pattern
    kept = flags.group(1).replace("i", "")
    out = [f"(?{kept})" if kept else ""]
    for token, in_class in _tokens(pattern, flags.end()):
        letter = len(token) == 1 and token.isascii() and token.isalpha() and not in_class
        out.append(f"[{token.lower()}{token.upper()}]" if letter else token)
    return "".join(out)


def _tokens(pattern: str, start: int = 0):
    """(token, in_class) of each escape ("\\s") or other character of `pattern` from
    `start`: whether it is inside a character class (its brackets included)."""
    in_class, i = False, start
    while i < len(pattern):
        token = pattern[i : i + 2] if pattern[i] == "\\" else pattern[i]
        if token == "[" and not in_class:
            in_class = True
        elif token == "]" and in_class:
            in_class = False
        yield token, in_class
        i += len(token)


@functools.cache
def spaces() -> str:
    """The `str.isspace()` characters as RE2 escapes, for a character class."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(sys.maxunicode + 1))
                   if c.isspace())


@functools.cache
def strip_pattern() -> str:
    """An RE2 pattern matching leading and trailing `str.isspace()` characters."""
    return f"^[{spaces()}]+|[{spaces()}]+$"

