"""The model side of the decoding step contract: a `Seq2Seq` bound to a padded source batch.

The runtime (`assistant.decoding.graphs.DecodingGraphs`) and the exported graph
(`assistant.serving`) both decode through `bind_model`, so they run the same ops and give the
same replies.
"""

from __future__ import annotations

import tensorflow as tf

from assistant.core import constants
from assistant.core.model import Memory


def bind_model(model, source, max_length_a, max_length_b, max_steps: int,
               attention: bool = True):
    """Encodes a padded source batch and binds the model to the decoding step contract.

    The runtime (`DecodingGraphs`) and the exported graph (`assistant.serving.module`) both
    decode through this, so they run the same ops and give the same replies.

    Args:
        model: a built `Seq2Seq`.
        source: int32 (batch, src_len), padded with `constants.PAD_ID`.
        max_length_a, max_length_b: float32 scalars; a row's limit is a + b x its length.
        max_steps: static int, the step budget every limit is clipped to.
        attention: whether the step returns attention weights (None otherwise); with copy
            attention they carry the copy gate p_gen as one more column (src_len + 1).

    Returns:
        (step_fn, state, constants, start_ids, max_lengths): the arguments the strategies of
        `assistant.decoding` take; max_lengths is int32 (batch,), 1 for padding rows.
    """
    memory, mask, state = model.encode(source)
    weights = model.decoder.read_weights()
    source_lengths = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)
    max_lengths = tf.cast(max_length_a + max_length_b * source_lengths, tf.int32)
    max_lengths = tf.clip_by_value(max_lengths, 1, max_steps)  # (batch,)
    # Rows that only pad a batch bucket end at once instead of decoding `a` steps.
    max_lengths = tf.where(source_lengths > 0, max_lengths, 1)

    gate_column = attention and model.config.copy

    def step(tokens, state, shared):
        memory = Memory(shared["values"], shared["keys"], shared.get("source"))
        if not gate_column:
            logits, state, weights_ = model.decode_step(tokens, state, memory, shared["mask"],
                                                        weights=weights)
            return logits, state, weights_ if attention else None
        logits, state, weights_, gate = model.decode_step(
            tokens, state, memory, shared["mask"], weights=weights, with_gate=True)
        # The copy gate rides in one more attention column: (rows, src_len + 1).
        return logits, state, tf.concat([weights_, gate[:, None]], axis=-1)

    start_ids = tf.fill((tf.shape(source)[0],), constants.BOS_ID)
    shared = {"values": memory.values, "keys": memory.keys, "mask": mask}
    if model.config.copy:  # copy attention puts probability on the source's ids
        shared["source"] = source
    return step, state, shared, start_ids, max_lengths
