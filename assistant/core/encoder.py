"""The encoder's layer: one bidirectional GRU or LSTM over right-padded sequences."""

from __future__ import annotations

import keras
import tensorflow as tf

from assistant.core.rnn import rnn_bias_initializer, rnn_update


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
        # The loop's stacked outputs lose the static length; the next layer's loop (and
        # XLA-compiled training) needs it back.
        outputs.set_shape([inputs.shape[0], inputs.shape[1], 2 * self.units])
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
        bias = rnn_bias_initializer(self.rnn_type, self.units, shape[-1:], dtype)
        return keras.ops.broadcast_to(bias, shape)

    def _recurrent_initializer(self, shape, dtype=None):
        orthogonal = keras.initializers.Orthogonal()
        return keras.ops.stack([orthogonal(shape[1:], dtype=dtype) for _ in range(shape[0])])
