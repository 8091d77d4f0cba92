"""Record segmentation and catalog hints inside the exported graph, in TensorFlow ops.

`RecordSplitter` is the warehouse's `GraphSplitter` (`assistant.runtime.domain`): the export
(`assistant.serving`) uses it to answer a line of several records one record at a time,
exactly as the runtime does with `segment.split_line` and `RecordOrder.order`.
`HintAnnotator` is its `GraphAnnotator`: each unit with its catalog hint, exactly as
`hints.RecordHints.annotate` writes it.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from assistant.domains.warehouse import hints as hints_lib
from assistant.domains.warehouse import segment
from assistant.serving.re2 import python_re, spaces, strip_pattern


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
    parts = tf.strings.split(mark_boundaries(text), sep=";")  # (batch, None), >= 1 part a line
    counts = parts.row_lengths()
    last = tf.gather(parts.flat_values, parts.row_limits() - 1)
    blank = (counts > 1) & tf.strings.regex_full_match(last, f"[{spaces()}]*")
    counts -= tf.cast(blank, counts.dtype)  # one trailing blank part dropped
    parts = tf.ragged.boolean_mask(parts, tf.ragged.range(parts.row_lengths()) < counts[:, None])
    records = tf.strings.regex_full_match(parts.flat_values, python_re(segment.RECORD_PATTERN))
    segmented = ((counts >= 2) & (counts <= segment.MAX_SEGMENTS)
                 & tf.reduce_all(parts.with_flat_values(records), axis=1))  # (batch,)
    in_segmented = parts.with_flat_values(tf.gather(segmented, parts.value_rowids()))
    return tf.concat([tf.ragged.boolean_mask(parts, in_segmented),
                      tf.ragged.boolean_mask(text[:, None], ~segmented[:, None])], axis=1)


def mark_boundaries(text):
    """string (batch,): `segment.mark_boundaries` in the graph (the same two passes)."""
    pattern = python_re(segment.BOUNDARY_PATTERN)
    for _ in range(2):
        text = tf.strings.regex_replace(text, pattern, segment.BOUNDARY_REPLACEMENT)
    return text


@functools.cache
def key_pattern() -> str:
    """`segment.KEY_PATTERN` for RE2, with Python's DOTALL (as `segment.record_key`)."""
    return "(?s)" + python_re(segment.KEY_PATTERN)


class RecordSplitter(tf.Module):
    """`segment`'s split and order in the graph, with the record order as a lookup table.

    Args:
        record_order: the bundle's `RecordOrder`; saved in the export as a hash table.
    """

    def __init__(self, record_order: segment.RecordOrder, name: str = "record_splitter") -> None:
        super().__init__(name=name)
        self.record_ranks = rank_table(record_order)

    def split(self, text):
        """ragged string (batch, None) of string (batch,) lines: see `segment_units`."""
        return segment_units(text)

    def ranks(self, units):
        """int32 (units,): the rank of each unit's "PREFIX:CODE" in the record order."""
        keys = tf.strings.upper(tf.strings.regex_replace(units, key_pattern(),
                                                         segment.KEY_REPLACEMENT))
        return tf.cast(self.record_ranks.lookup(keys), tf.int32)


class HintAnnotator(tf.Module):
    """`hints.RecordHints.annotate` in the graph, the hints as lookup tables.

    Args:
        hints: the bundle's `RecordHints`; saved in the export as two hash tables.
    """

    def __init__(self, hints: hints_lib.RecordHints, name: str = "hint_annotator") -> None:
        super().__init__(name=name)
        table = hints.table()
        self.key_hints = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(table), tf.string),
                                                tf.constant(list(table.values()), tf.string)),
            default_value="")
        prefixes = sorted(hints.prefixes)
        self.known_prefixes = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(prefixes, tf.string),
                                                tf.ones([len(prefixes)], tf.int64)),
            default_value=tf.constant(0, tf.int64))

    def annotate(self, text):
        """string (units,): each unit that is one record stripped and followed by its hint
        after `hints.MARK`; the others as they are."""
        record = tf.strings.regex_full_match(text, python_re(segment.RECORD_PATTERN))
        key = tf.strings.upper(tf.strings.regex_replace(text, key_pattern(),
                                                        segment.KEY_REPLACEMENT))
        prefix = tf.strings.regex_replace(key, ":.*", "")
        unknown = tf.where(self.known_prefixes.lookup(prefix) > 0,
                           hints_lib.UNKNOWN_CODE, hints_lib.UNKNOWN_EQUIPMENT)
        hint = self.key_hints.lookup(key)
        hint = tf.where(tf.strings.length(hint) > 0, hint, unknown)
        stripped = tf.strings.regex_replace(text, strip_pattern(), "")
        annotated = tf.strings.join([stripped, hint], separator=f" {hints_lib.MARK} ")
        return tf.where(record, annotated, text)
