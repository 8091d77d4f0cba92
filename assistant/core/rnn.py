"""GRU and LSTM updates from precomputed gate products, and the bias initializer they share."""

from __future__ import annotations

import keras


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


def rnn_bias_initializer(rnn_type: str, units: int, shape, dtype=None):
    """The input bias of a GRU or LSTM: zeros, but 1 on an LSTM's forget gate.

    The forget-gate bias of 1 follows Jozefowicz et al. (2015).

    Args:
        rnn_type: "gru" or "lstm".
        units: the state width.
        shape: (gates x units,), the bias shape.

    Returns:
        The (gates x units,) initial bias.
    """
    if rnn_type == "lstm":
        return keras.ops.concatenate(
            [
                keras.ops.zeros((units,), dtype=dtype),
                keras.ops.ones((units,), dtype=dtype),
                keras.ops.zeros((2 * units,), dtype=dtype),
            ]
        )
    return keras.ops.zeros(shape, dtype=dtype)
