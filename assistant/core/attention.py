"""Additive (Bahdanau) attention: the layer, and the scoring it shares with the decoder."""

from __future__ import annotations

import keras

_NEG_INF = -1e9  # added to the scores of padded source positions before the softmax


@keras.saving.register_keras_serializable(package="assistant")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: score(s, h_j) = v . tanh(W1 h_j + W2 s + b).

    `keys(values)` precomputes W1 h_j once per source; `call` then scores one decoder state
    per row against them, masks padded source positions and returns the context vector
    (the attention-weighted sum of the values) with the weights.

    Args:
        units: width of the hidden layer inside the score (W1 and W2 output size).
        query_dim: width of the decoder state that queries.
        value_dim: width of the encoder outputs.
    """

    def __init__(self, units: int, query_dim: int, value_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.query_dim = query_dim
        self.value_dim = value_dim

    def build(self, input_shape=None) -> None:
        self.memory_kernel = self.add_weight(
            name="memory_kernel", shape=(self.value_dim, self.units), initializer="glorot_uniform"
        )
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(self.query_dim, self.units), initializer="glorot_uniform"
        )
        self.query_bias = self.add_weight(
            name="query_bias", shape=(self.units,), initializer="zeros"
        )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )

    def keys(self, values):
        """(batch, src_len, value_dim) -> (batch, src_len, units): W1 h_j for every position."""
        return keras.ops.matmul(values, self.memory_kernel)

    def call(self, query, keys, values, mask):
        """Scores `query` against `keys`.

        Args:
            query: (batch, query_dim) the previous decoder state s_{t-1}.
            keys: (batch, src_len, units) from `keys(values)`.
            values: (batch, src_len, value_dim) the encoder outputs.
            mask: (batch, src_len) bool, True on real source positions.

        Returns:
            context (batch, value_dim) and weights (batch, src_len); weights are 0 on padding
            and sum to 1 over the real positions.
        """
        projected = keras.ops.matmul(query, self.query_kernel) + self.query_bias
        return attend(projected, keys, values, mask, self.score_vector)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "query_dim": self.query_dim,
            "value_dim": self.value_dim,
        }


def attend(projected_query, keys, values, mask, score_vector):
    """The additive attention of already projected queries (W2 s + b); see `BahdanauAttention`.

    Args:
        projected_query: (batch, units).
        keys: (batch, src_len, units).
        values: (batch, src_len, value_dim).
        mask: (batch, src_len) bool.
        score_vector: (units,) the v of the score.

    Returns:
        context (batch, value_dim) and weights (batch, src_len).
    """
    hidden = keras.ops.tanh(keys + keras.ops.expand_dims(projected_query, 1))
    scores = keras.ops.einsum("bsu,u->bs", hidden, score_vector)  # (batch, src_len)
    scores = keras.ops.where(mask, scores, _NEG_INF)
    weights = keras.ops.softmax(scores, axis=-1)
    context = keras.ops.einsum("bs,bsd->bd", weights, values)
    return context, weights
