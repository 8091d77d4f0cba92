"""The in-graph twin of `NeighbourIndex.read`, for the export (`GraphAnnotator`)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from assistant.domains.neighbours import index as index_lib
from assistant.serving.re2 import strip_pattern


class GraphNeighbours(tf.Module):
    """Writes each unit followed by its nearest train pair, as `NeighbourIndex.read`.

    The index is saved with the export as constants: the sources' first bytes (uint8
    (keys, KEY_BYTES)), their byte lengths, and the sources and targets as strings.
    """

    def __init__(self, index: index_lib.NeighbourIndex, name: str = "graph_neighbours") -> None:
        super().__init__(name=name)
        keys, lengths = index_lib.byte_rows(index.sources)
        self._keys = tf.constant(keys.astype(np.int32))  # (keys, KEY_BYTES)
        self._key_lengths = tf.constant(lengths)  # (keys,)
        self._sources = tf.constant(list(index.sources) or [""], tf.string)  # (keys,)
        self._targets = tf.constant(list(index.targets) or [""], tf.string)
        self._empty = not index.sources

    def annotate(self, text):
        """string (units,): each unit stripped and followed by its nearest other train pair,
        or stripped alone when it is empty or there is none."""
        text = tf.strings.regex_replace(text, strip_pattern(), "")  # as Python's str.strip()
        if self._empty:
            return text
        rows, lengths = _byte_rows(text)  # (units, KEY_BYTES), (units,)
        compared = tf.minimum(tf.minimum(lengths, index_lib.KEY_BYTES)[:, None],
                              tf.minimum(self._key_lengths, index_lib.KEY_BYTES)[None, :])
        positions = tf.range(index_lib.KEY_BYTES)[None, None, :]
        differ = tf.not_equal(rows[:, None, :], self._keys[None, :, :])  # (units, keys, bytes)
        differ |= positions >= compared[:, :, None]
        ends = tf.ones(tf.concat([tf.shape(differ)[:2], [1]], axis=0), tf.bool)
        prefix = tf.argmax(tf.cast(tf.concat([differ, ends], axis=2), tf.int32), axis=2,
                           output_type=tf.int32)  # (units, keys)
        at = tf.minimum(prefix, index_lib.KEY_BYTES - 1)
        query_byte = tf.gather(rows, at, batch_dims=1)  # (units, keys)
        key_byte = tf.gather(self._keys, tf.transpose(at), batch_dims=1)  # (keys, units)
        gap = tf.where(prefix < index_lib.KEY_BYTES,
                       tf.abs(query_byte - tf.transpose(key_byte)), 0)
        length_gap = tf.minimum(tf.abs(lengths[:, None] - self._key_lengths[None, :]),
                                index_lib.LENGTH_CAP)
        score = (prefix * index_lib.PREFIX_WEIGHT - length_gap * index_lib.LENGTH_WEIGHT
                 - gap)  # (units, keys)
        same = tf.equal(text[:, None], self._sources[None, :])
        score = tf.where(same, index_lib.SAME_SOURCE, score)
        best = tf.argmax(score, axis=1, output_type=tf.int32)  # (units,): the first of ties
        found = ((tf.gather(score, best, batch_dims=1) > index_lib.SAME_SOURCE)
                 & (lengths > 0))
        drafted = tf.strings.join([text, index_lib.DRAFT_MARK, tf.gather(self._sources, best),
                                   index_lib.REPLY_MARK, tf.gather(self._targets, best)])
        return tf.where(found, drafted, text)


def _byte_rows(text):
    """(int32 (units, KEY_BYTES): the first bytes, zero-padded; int32 (units,): the byte
    lengths), as `index.byte_rows`."""
    padded = tf.strings.join([text, "\0" * index_lib.KEY_BYTES])
    head = tf.strings.substr(padded, 0, index_lib.KEY_BYTES)
    rows = tf.io.decode_raw(head, tf.uint8, fixed_length=index_lib.KEY_BYTES)
    return tf.cast(rows, tf.int32), tf.strings.length(text)
