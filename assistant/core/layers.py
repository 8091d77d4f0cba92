"""Keras layers of the seq2seq model: additive attention and the attentional decoder."""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

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


class DecoderWeights(NamedTuple):
    """The decoder's variables read once, outside the time loop.

    Reading them inside a `tf.while_loop` would make the gradient tape stack a copy of
    every kernel per step; reading them once also lets the two products of the previous
    state (attention query and recurrence) run as one matrix product.
    """

    state_kernel: object  # (units, attention_units + gates x units): [W2 | U]
    state_bias: object  # (attention_units + gates x units,)
    context_kernel: object  # (value_dim, gates x units)
    score_vector: object  # (attention_units,)


@keras.saving.register_keras_serializable(package="assistant")
class AttentionDecoder(keras.layers.Layer):
    """A GRU or LSTM decoder with Bahdanau attention and input feeding.

    At step t the attention scores the previous state s_{t-1} against the encoder outputs
    to get the context c_t; the RNN reads [embedding(y_{t-1}); c_t] (input feeding) and
    updates its state to s_t; the layer outputs [s_t; c_t] for the output projection.
    The input-to-gate product of the embeddings does not depend on the recurrence, so
    teacher forcing computes it for all steps in one matrix product before the loop.

    Args:
        units: RNN state width.
        attention_units: width of the additive attention's hidden layer.
        rnn_type: "gru" (Keras' reset_after formulation) or "lstm".
        embedding_dim: width of the target embeddings.
        value_dim: width of the encoder outputs.
    """

    def __init__(
        self,
        units: int,
        attention_units: int,
        rnn_type: str,
        embedding_dim: int,
        value_dim: int,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.attention_units = attention_units
        self.rnn_type = rnn_type
        self.embedding_dim = embedding_dim
        self.value_dim = value_dim
        self.attention = BahdanauAttention(attention_units, units, value_dim, name="attention")
        self._gates = 3 if rnn_type == "gru" else 4

    def build(self, input_shape=None) -> None:
        gate_width = self._gates * self.units
        self.embedding_kernel = self.add_weight(
            name="embedding_kernel",
            shape=(self.embedding_dim, gate_width),
            initializer="glorot_uniform",
        )
        self.context_kernel = self.add_weight(
            name="context_kernel", shape=(self.value_dim, gate_width), initializer="glorot_uniform"
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, gate_width), initializer="orthogonal"
        )
        self.input_bias = self.add_weight(
            name="input_bias", shape=(gate_width,), initializer=self._bias_initializer
        )
        self.recurrent_bias = self.add_weight(
            name="recurrent_bias", shape=(gate_width,), initializer="zeros"
        )
        if not self.attention.built:
            self.attention.build()

    def state_keys(self) -> tuple[str, ...]:
        """Names of the state tensors: ("h",) for a GRU, ("h", "c") for an LSTM."""
        return ("h",) if self.rnn_type == "gru" else ("h", "c")

    def read_weights(self) -> DecoderWeights:
        """Reads the variables `step` needs; call once per sequence, outside any loop."""
        attention = self.attention
        return DecoderWeights(
            state_kernel=keras.ops.concatenate(
                [attention.query_kernel, self.recurrent_kernel], axis=-1
            ),
            state_bias=keras.ops.concatenate([attention.query_bias, self.recurrent_bias], axis=-1),
            context_kernel=tf.identity(self.context_kernel),
            score_vector=tf.identity(attention.score_vector),
        )

    def project_embeddings(self, embeddings):
        """(..., embedding_dim) -> (..., gates x units): the embedding part of the gate inputs."""
        return keras.ops.matmul(embeddings, self.embedding_kernel) + self.input_bias

    def step(self, projected_input, state, keys, values, mask, weights: DecoderWeights):
        """Runs one decoder step.

        Args:
            projected_input: (batch, gates x units) from `project_embeddings`.
            state: dict of (batch, units) tensors, keys from `state_keys()`.
            keys, values, mask: the attention memory (see `BahdanauAttention.call`).
            weights: from `read_weights()`.

        Returns:
            (output, new_state, attention): output (batch, units + value_dim) is [s_t; c_t],
            attention (batch, src_len).
        """
        h = state["h"]
        from_state = keras.ops.matmul(h, weights.state_kernel) + weights.state_bias
        query = from_state[:, : self.attention_units]  # (batch, attention_units)
        recurrent = from_state[:, self.attention_units :]  # (batch, gates x units)
        context, attention = attend(query, keys, values, mask, weights.score_vector)
        gate_inputs = projected_input + keras.ops.matmul(context, weights.context_kernel)
        new_state = rnn_update(self.rnn_type, gate_inputs, recurrent, state)
        output = keras.ops.concatenate([new_state["h"], context], axis=-1)
        return output, new_state, attention

    def call(self, embeddings, initial_state, values, mask):
        """Teacher-forced decoding over a whole target sequence.

        Args:
            embeddings: (batch, tgt_len, embedding_dim) embeddings of the decoder inputs.
            initial_state: dict of (batch, units) tensors.
            values: (batch, src_len, value_dim) encoder outputs.
            mask: (batch, src_len) bool source mask.

        Returns:
            outputs (batch, tgt_len, units + value_dim) and attention (batch, tgt_len, src_len).
        """
        keys = self.attention.keys(values)
        weights = self.read_weights()
        projected = self.project_embeddings(embeddings)  # (batch, tgt_len, gates x units)
        projected = tf.transpose(projected, (1, 0, 2))  # (tgt_len, batch, gates x units)
        steps = tf.shape(projected)[0]
        state_keys = self.state_keys()
        inputs = tf.TensorArray(projected.dtype, size=steps).unstack(projected)
        outputs = tf.TensorArray(projected.dtype, size=steps)
        attention = tf.TensorArray(projected.dtype, size=steps)

        def body(t, state, outputs, attention):
            output, new_state, weights_t = self.step(
                inputs.read(t),
                dict(zip(state_keys, state, strict=True)),
                keys,
                values,
                mask,
                weights,
            )
            return (
                t + 1,
                tuple(new_state[k] for k in state_keys),
                outputs.write(t, output),
                attention.write(t, weights_t),
            )

        init = tuple(initial_state[k] for k in state_keys)
        _, _, outputs, attention = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), init, outputs, attention),
            maximum_iterations=projected.shape[0],
        )
        outputs = tf.transpose(outputs.stack(), (1, 0, 2))  # (batch, tgt_len, out_dim)
        attention = tf.transpose(attention.stack(), (1, 0, 2))  # (batch, tgt_len, src_len)
        return outputs, attention

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "attention_units": self.attention_units,
            "rnn_type": self.rnn_type,
            "embedding_dim": self.embedding_dim,
            "value_dim": self.value_dim,
        }

    def _bias_initializer(self, shape, dtype=None):
        return _rnn_bias_initializer(self.rnn_type, self.units, shape, dtype)


@keras.saving.register_keras_serializable(package="assistant")
class BidirectionalRNN(keras.layers.Layer):
    """One bidirectional GRU or LSTM layer over right-padded sequences.

    Both directions run in the same time loop as one batched matrix product, and the
    input-to-gate products of all steps are computed before the loop. The backward
    direction reads each sequence's real tokens in reverse (padding stays at the end), and
    the state stops changing on padding, so the final states are those of the last real
    token in each direction. Outputs on padding are 0.

    Args:
        units: state width per direction (outputs are 2 x units wide).
        rnn_type: "gru" (Keras' reset_after formulation) or "lstm".
        input_dim: width of the inputs.
    """

    def __init__(self, units: int, rnn_type: str, input_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.rnn_type = rnn_type
        self.input_dim = input_dim
        self._gates = 3 if rnn_type == "gru" else 4

    def build(self, input_shape=None) -> None:
        gate_width = self._gates * self.units
        # Leading axis 2: forward, backward.
        self.kernel = self.add_weight(
            name="kernel", shape=(2, self.input_dim, gate_width), initializer="glorot_uniform"
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(2, self.units, gate_width),
            initializer=self._recurrent_initializer,
        )
        self.input_bias = self.add_weight(
            name="input_bias", shape=(2, 1, gate_width), initializer=self._bias_initializer
        )
        self.recurrent_bias = self.add_weight(
            name="recurrent_bias", shape=(2, 1, gate_width), initializer="zeros"
        )

    def state_keys(self) -> tuple[str, ...]:
        return ("h",) if self.rnn_type == "gru" else ("h", "c")

    def call(self, inputs, mask):
        """Runs both directions.

        Args:
            inputs: (batch, src_len, input_dim).
            mask: (batch, src_len) bool, True on real tokens (right padding only).

        Returns:
            outputs (batch, src_len, 2 x units) and the final states: a dict of
            (batch, 2 x units) tensors, [forward; backward] per state key.
        """
        lengths = keras.ops.sum(keras.ops.cast(mask, "int32"), axis=1)
        backward_inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        both = keras.ops.stack([inputs, backward_inputs])  # (2, batch, src_len, input_dim)
        gate_inputs = tf.einsum("kbsd,kdg->skbg", both, self.kernel)  # (src_len, 2, batch, G)
        gate_inputs = gate_inputs + self.input_bias
        recurrent_kernel = tf.identity(self.recurrent_kernel)
        recurrent_bias = tf.identity(self.recurrent_bias)
        step_mask = tf.transpose(mask)[:, None, :, None]  # (src_len, 1, batch, 1)
        steps = tf.shape(gate_inputs)[0]
        batch = tf.shape(inputs)[0]
        state_keys = self.state_keys()
        gate_array = tf.TensorArray(gate_inputs.dtype, size=steps).unstack(gate_inputs)
        mask_array = tf.TensorArray(tf.bool, size=steps).unstack(step_mask)
        outputs = tf.TensorArray(inputs.dtype, size=steps)

        def body(t, state, outputs):
            state = dict(zip(state_keys, state, strict=True))
            recurrent = tf.matmul(state["h"], recurrent_kernel) + recurrent_bias
            new_state = rnn_update(self.rnn_type, gate_array.read(t), recurrent, state)
            keep = mask_array.read(t)  # (1, batch, 1)
            new_state = {k: tf.where(keep, new_state[k], state[k]) for k in state_keys}
            output = tf.where(keep, new_state["h"], 0.0)
            return t + 1, tuple(new_state[k] for k in state_keys), outputs.write(t, output)

        zeros = tf.zeros((2, batch, self.units), dtype=inputs.dtype)
        _, final, outputs = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), tuple(zeros for _ in state_keys), outputs),
            maximum_iterations=gate_inputs.shape[0],
        )
        outputs = tf.transpose(outputs.stack(), (1, 2, 0, 3))  # (2, batch, src_len, units)
        backward = tf.reverse_sequence(outputs[1], lengths, seq_axis=1, batch_axis=0)
        outputs = keras.ops.concatenate([outputs[0], backward], axis=-1)
        final_states = {
            key: keras.ops.concatenate([value[0], value[1]], axis=-1)
            for key, value in zip(state_keys, final, strict=True)
        }
        return outputs, final_states

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "rnn_type": self.rnn_type,
            "input_dim": self.input_dim,
        }

    def _bias_initializer(self, shape, dtype=None):
        bias = _rnn_bias_initializer(self.rnn_type, self.units, shape[-1:], dtype)
        return keras.ops.broadcast_to(bias, shape)

    def _recurrent_initializer(self, shape, dtype=None):
        orthogonal = keras.initializers.Orthogonal()
        return keras.ops.stack([orthogonal(shape[1:], dtype=dtype) for _ in range(shape[0])])


def rnn_update(rnn_type: str, gate_inputs, recurrent, state):
    """One GRU (reset_after) or LSTM update from precomputed gate products.

    Args:
        rnn_type: "gru" or "lstm".
        gate_inputs: (..., gates x units) input-to-gate products plus input bias.
        recurrent: (..., gates x units) state-to-gate products plus recurrent bias.
        state: dict with "h" (and "c" for an LSTM), each (..., units).

    Returns:
        The new state dict.
    """
    if rnn_type == "gru":
        x_z, x_r, x_h = keras.ops.split(gate_inputs, 3, axis=-1)
        h_z, h_r, h_h = keras.ops.split(recurrent, 3, axis=-1)
        z = keras.ops.sigmoid(x_z + h_z)
        r = keras.ops.sigmoid(x_r + h_r)
        candidate = keras.ops.tanh(x_h + r * h_h)
        return {"h": z * state["h"] + (1.0 - z) * candidate}
    i, f, g, o = keras.ops.split(gate_inputs + recurrent, 4, axis=-1)
    c = keras.ops.sigmoid(f) * state["c"] + keras.ops.sigmoid(i) * keras.ops.tanh(g)
    return {"h": keras.ops.sigmoid(o) * keras.ops.tanh(c), "c": c}


def _rnn_bias_initializer(rnn_type: str, units: int, shape, dtype=None):
    # LSTM: forget-gate bias 1 (Jozefowicz et al. 2015); GRU: zeros.
    if rnn_type == "lstm":
        return keras.ops.concatenate(
            [
                keras.ops.zeros((units,), dtype=dtype),
                keras.ops.ones((units,), dtype=dtype),
                keras.ops.zeros((2 * units,), dtype=dtype),
            ]
        )
    return keras.ops.zeros(shape, dtype=dtype)
