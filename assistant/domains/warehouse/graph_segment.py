"""String work inside the exported graph that must read text as the Python runtime does.

RE2 (`tf.strings.regex_*`) and Python's `re` differ in what `\\s` matches: `python_re`
rewrites a pattern of `assistant.segment` so both match the same characters. `segment_units`
and `rank_table` are `assistant.segment`'s rules in TensorFlow ops, used by
`assistant.export_module` to answer a line of several records one record at a time.
"""

from __future__ import annotations

import functools
import sys

import tensorflow as tf

from assistant import faultcodes, segment


def rank_table(record_order: segment.RecordOrder) -> tf.lookup.StaticHashTable:
    """string "PREFIX:CODE" -> int64 rank, `record_order.default_rank` for other keys."""
    keys = list(record_order.ranks)
    values = [int(record_order.ranks[key]) for key in keys]
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.constant(values, tf.int64))
    return tf.lookup.StaticHashTable(initializer,
                                     default_value=tf.constant(record_order.default_rank, tf.int64))


def segment_units(text):
    """ragged string (batch, None): the records of a line `segment.split_line` segments,
    unstripped, else the line itself (one unit)."""
    parts = tf.strings.split(text, sep=";")  # (batch, None), at least one part per line
    counts = parts.row_lengths()
    last = tf.gather(parts.flat_values, parts.row_limits() - 1)
    blank = (counts > 1) & tf.strings.regex_full_match(last, f"[{_spaces()}]*")
    counts -= tf.cast(blank, counts.dtype)  # one trailing blank part dropped
    parts = tf.ragged.boolean_mask(parts, tf.ragged.range(parts.row_lengths()) < counts[:, None])
    records = tf.strings.regex_full_match(parts.flat_values, python_re(segment.RECORD_PATTERN))
    segmented = ((counts >= 2) & (counts <= faultcodes.MAX_RECORDS)
                 & tf.reduce_all(parts.with_flat_values(records), axis=1))  # (batch,)
    in_segmented = parts.with_flat_values(tf.gather(segmented, parts.value_rowids()))
    return tf.concat([tf.ragged.boolean_mask(parts, in_segmented),
                      tf.ragged.boolean_mask(text[:, None], ~segmented[:, None])], axis=1)


@functools.cache
def key_pattern() -> str:
    """`segment.KEY_PATTERN` for RE2, with Python's DOTALL (as `segment.record_key`)."""
    return "(?s)" + python_re(segment.KEY_PATTERN)


@functools.cache
def python_re(pattern: str) -> str:
    r"""A Python `re` pattern rewritten for RE2, `\s` matching what it matches in Python.

    Python's `\s` matches every `str.isspace()` character, RE2's only ASCII spaces; the
    other syntax of `segment`'s patterns reads the same in both.

    Raises:
        ValueError: the pattern uses another class the two read differently (\d, \w, ...).
    """
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i : i + 2]
            if escape == r"\s":
                out.append(_spaces() if in_class else f"[{_spaces()}]")
            elif escape[1:] in ("S", "d", "D", "w", "W", "b", "B"):
                raise ValueError(f"{escape} differs between Python and RE2: {pattern!r}")
            else:
                out.append(escape)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@functools.cache
def _spaces() -> str:
    """The `str.isspace()` characters as RE2 escapes, for a character class."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(sys.maxunicode + 1))
                   if c.isspace())


@functools.cache
def strip_pattern() -> str:
    """An RE2 pattern matching leading and trailing `str.isspace()` characters."""
    return f"^[{_spaces()}]+|[{_spaces()}]+$"

