"""The in-graph twin of `NeighbourIndex.read`, for the export (`GraphAnnotator`)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from assistant.domains.neighbours import index as index_lib
from assistant.serving.re2 import strip_pattern

_CHUNK = 64  # units scored at once: bounds the (units, keys, KEY_BYTES) tensors


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
        self._upper = index.case == "upper"

    def annotate(self, text):
        """string (units,): each unit normalized (stripped; upper-cased for an index of
        `case="upper"`) and followed by its nearest other train pair, or alone when it is
        empty or there is none."""
        return self.annotate_and_draft(text)[0]

    def annotate_and_draft(self, text):
        """(`annotate`'s string (units,), string (units,), bool (units,)): also each unit's
        nearest other train pair's target and whether it has one (`NeighbourIndex.replies`;
        "" and False where it has none), from the same search."""
        normalized, best, found = self._neighbours(text)
        if self._empty:
            return (normalized, tf.fill(tf.shape(text), ""),
                    tf.zeros(tf.shape(text), tf.bool))
        drafted = tf.strings.join([normalized, index_lib.DRAFT_MARK,
                                   tf.gather(self._sources, best), index_lib.REPLY_MARK,
                                   tf.gather(self._targets, best)])
        return (tf.where(found, drafted, normalized),
                tf.where(found, tf.gather(self._targets, best), ""), found)

    def _neighbours(self, text):
        """(string (units,): each unit normalized; int32 (units,): its nearest key; bool
        (units,): whether that is a neighbour, not the unit itself or nothing). Without
        keys, only the first is meaningful."""
        text = tf.strings.regex_replace(text, strip_pattern(), "")  # as Python's str.strip()
        if self._upper:
            text = tf.strings.upper(text)  # ASCII only, as `normalize_source`
        if self._empty:
            return text, None, None
        units = tf.size(text)
        chunks = (units + _CHUNK - 1) // _CHUNK  # scored a chunk at a time, as in Python
        padded = tf.reshape(tf.pad(text, [[0, chunks * _CHUNK - units]]), [chunks, _CHUNK])
        chosen = tf.map_fn(self._nearest, padded,
                           fn_output_signature=tf.TensorSpec([_CHUNK, 2], tf.int32))
        chosen = tf.reshape(chosen, [-1, 2])[:units]  # (units, 2)
        best, score = chosen[:, 0], chosen[:, 1]
        return text, best, (score > index_lib.SAME_SOURCE) & (tf.strings.length(text) > 0)

    def _nearest(self, text):
        """int32 (units, 2): each unit's nearest key and its score (`index.scores`, and
        `SAME_SOURCE` for a key equal to the unit); the first key of ties."""
        rows, lengths = _byte_rows(text)  # (units, KEY_BYTES), (units,)
        compared = tf.minimum(tf.minimum(lengths, index_lib.KEY_BYTES)[:, None],
                              tf.minimum(self._key_lengths, index_lib.KEY_BYTES)[None, :])
        positions = tf.range(index_lib.KEY_BYTES)[None, None, :]
        differ = tf.not_equal(rows[:, None, :], self._keys[None, :, :])  # (units, keys, bytes)
        differ |= positions >= compared[:, :, None]
        ends = tf.ones(tf.concat([tf.shape(differ)[:2], [1]], axis=0), tf.bool)
        prefix = tf.argmax(tf.cast(tf.concat([differ, ends], axis=2), tf.uint8), axis=2,
                           output_type=tf.int32)  # (units, keys): the common prefix
        at = tf.minimum(prefix, index_lib.KEY_BYTES - 1)
        query_byte = tf.gather(rows, at, batch_dims=1)  # (units, keys)
        key_byte = tf.transpose(tf.gather(self._keys, tf.transpose(at), batch_dims=1))
        gap = tf.where(prefix < index_lib.KEY_BYTES, tf.abs(query_byte - key_byte), 0)
        length_gap = tf.minimum(tf.abs(lengths[:, None] - self._key_lengths[None, :]),
                                index_lib.LENGTH_CAP)
        score = (prefix * index_lib.PREFIX_WEIGHT - length_gap * index_lib.LENGTH_WEIGHT
                 - gap)  # (units, keys)
        score = tf.where(tf.equal(text[:, None], self._sources[None, :]),
                         index_lib.SAME_SOURCE, score)
        best = tf.argmax(score, axis=1, output_type=tf.int32)  # (units,): the first of ties
        return tf.stack([best, tf.gather(score, best, batch_dims=1)], axis=1)


def _byte_rows(text):
    """(int32 (units, KEY_BYTES): the first bytes, zero-padded; int32 (units,): the byte
    lengths), as `index.byte_rows`."""
    padded = tf.strings.join([text, "\0" * index_lib.KEY_BYTES])
    head = tf.strings.substr(padded, 0, index_lib.KEY_BYTES)
    rows = tf.io.decode_raw(head, tf.uint8, fixed_length=index_lib.KEY_BYTES)
    return tf.cast(rows, tf.int32), tf.strings.length(text)
