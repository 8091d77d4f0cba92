"""The attentional decoder: a GRU or LSTM with Bahdanau attention and input feeding."""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from assistant.core.attention import BahdanauAttention, attend
from assistant.core.rnn import rnn_bias_initializer, rnn_update


class DecoderWeights(NamedTuple):
    """The decoder's variables read once, outside the time loop.

    Reading them inside a `tf.while_loop` would make the gradient tape stack a copy of
    every kernel per step; reading them once also lets the two products of the previous
    state (attention query and recurrence) run as one matrix product.
    """

    state_kernel: object  # (units, attention_units + gates x units): [W2 | U]; "current": U
    state_bias: object  # (attention_units + gates x units,); "current": (gates x units,)
    context_kernel: object  # (value_dim, gates x units)
    score_vector: object  # (attention_units,)
    query_kernel: object = None  # "current" only: W2 (units, attention_units), on s_t
    query_bias: object = None  # "current" only: (attention_units,)


@keras.saving.register_keras_serializable(package="assistant")
class AttentionDecoder(keras.layers.Layer):
    """A GRU or LSTM decoder with Bahdanau attention and input feeding.

    With `attention_query="previous"` (Bahdanau et al. 2015), at step t the attention scores
    the previous state s_{t-1} against the encoder outputs to get the context c_t; the RNN
    reads [embedding(y_{t-1}); c_t] (input feeding) and updates its state to s_t. With
    "current" (Luong et al. 2015; the order of See et al.'s pointer-generator) the RNN first
    reads [embedding(y_{t-1}); c_{t-1}] (the previous context, kept in the state as
    "context") to get s_t, and the attention scores s_t: the step that emits a piece knows
    the piece before it, which copying the first piece of a span needs. Either way the
    layer outputs [s_t; c_t] for the output projection.
    The input-to-gate product of the embeddings does not depend on the recurrence, so
    teacher forcing computes it for all steps in one matrix product before the loop.

    Args:
        units: RNN state width.
        attention_units: width of the additive attention's hidden layer.
        rnn_type: "gru" (Keras' reset_after formulation) or "lstm".
        embedding_dim: width of the target embeddings.
        value_dim: width of the encoder outputs.
        attention_query: "previous" or "current" (`ModelConfig.attention_query`).
    """

    def __init__(
        self,
        units: int,
        attention_units: int,
        rnn_type: str,
        embedding_dim: int,
        value_dim: int,
        attention_query: str = "previous",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.attention_query = attention_query
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
        """Names of the state tensors: ("h",) for a GRU, ("h", "c") for an LSTM, and
        "context" (the previous step's, (batch, value_dim)) with `attention_query="current"`."""
        rnn = ("h",) if self.rnn_type == "gru" else ("h", "c")
        return (*rnn, "context") if self.attention_query == "current" else rnn

    def initial_context(self, state):
        """The "context" entry of the initial state (zeros like the encoder's), or None."""
        if self.attention_query != "current":
            return None
        return keras.ops.zeros((keras.ops.shape(state["h"])[0], self.value_dim), state["h"].dtype)

    def read_weights(self) -> DecoderWeights:
        """Reads the variables `step` needs; call once per sequence, outside any loop."""
        attention = self.attention
        if self.attention_query == "current":
            return DecoderWeights(
                state_kernel=tf.identity(self.recurrent_kernel),
                state_bias=tf.identity(self.recurrent_bias),
                context_kernel=tf.identity(self.context_kernel),
                score_vector=tf.identity(attention.score_vector),
                query_kernel=tf.identity(attention.query_kernel),
                query_bias=tf.identity(attention.query_bias),
            )
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
        if self.attention_query == "current":
            return self._step_current(projected_input, state, keys, values, mask, weights)
        h = state["h"]
        from_state = keras.ops.matmul(h, weights.state_kernel) + weights.state_bias
        query = from_state[:, : self.attention_units]  # (batch, attention_units)
        recurrent = from_state[:, self.attention_units :]  # (batch, gates x units)
        context, attention = attend(query, keys, values, mask, weights.score_vector)
        gate_inputs = projected_input + keras.ops.matmul(context, weights.context_kernel)
        new_state = rnn_update(self.rnn_type, gate_inputs, recurrent, state)
        output = keras.ops.concatenate([new_state["h"], context], axis=-1)
        return output, new_state, attention

    def _step_current(self, projected_input, state, keys, values, mask, weights):
        """`step` with `attention_query="current"`: the RNN reads the previous context, then
        the attention scores the new state."""
        recurrent = keras.ops.matmul(state["h"], weights.state_kernel) + weights.state_bias
        gate_inputs = projected_input + keras.ops.matmul(state["context"], weights.context_kernel)
        new_state = rnn_update(self.rnn_type, gate_inputs, recurrent, state)
        query = keras.ops.matmul(new_state["h"], weights.query_kernel) + weights.query_bias
        context, attention = attend(query, keys, values, mask, weights.score_vector)
        output = keras.ops.concatenate([new_state["h"], context], axis=-1)
        return output, {**new_state, "context": context}, attention

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
            "attention_query": self.attention_query,
        }

    def _bias_initializer(self, shape, dtype=None):
        return rnn_bias_initializer(self.rnn_type, self.units, shape, dtype)
