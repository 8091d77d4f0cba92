"""The seq2seq network: bidirectional RNN encoder, attentional decoder, output projection."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import keras
import tensorflow as tf

from assistant.core import constants
from assistant.core.config import ModelConfig
from assistant.core.decoder import AttentionDecoder
from assistant.core.encoder import BidirectionalRNN


class Memory(NamedTuple):
    """What the decoder attends to, computed once per source.

    values: (batch, src_len, 2 x encoder_units) encoder outputs.
    keys: (batch, src_len, attention_units) W1 x values, precomputed for every step.
    source: (batch, src_len) int source ids, where copy attention puts its probability
        (needed only when `ModelConfig.copy` is set).
    """

    values: object
    keys: object
    source: object = None


@keras.saving.register_keras_serializable(package="assistant")
class Seq2Seq(keras.Model):
    """Encoder-decoder with Bahdanau attention and input feeding over shared subword embeddings.

    source ids -> embedding -> `encoder_layers` bidirectional GRU/LSTM layers -> memory;
    the last layer's final forward and backward states go through a tanh bridge to the
    decoder's initial state; `AttentionDecoder` produces [s_t; c_t] per step, and a dense
    layer projects it to vocabulary logits. Id `constants.PAD_ID` is padding everywhere.

    `call((source, target_in))` is teacher forcing; `encode` and `decode_step` are what
    inference drives one token at a time.

    Args:
        config: a `ModelConfig` (or its dict form).
    """

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if config is None:
            config = ModelConfig()
        elif isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        self.config = config
        self.embedding = keras.layers.Embedding(
            config.vocab_size, config.embedding_dim, name="embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(config.dropout, name="embedding_dropout")
        self.encoder_rnns = [
            BidirectionalRNN(
                config.encoder_units,
                config.rnn_type,
                input_dim=config.embedding_dim if i == 0 else 2 * config.encoder_units,
                name=f"encoder_{config.rnn_type}_{i}",
            )
            for i in range(config.encoder_layers)
        ]
        self.encoder_dropouts = [
            keras.layers.Dropout(config.dropout, name=f"encoder_dropout_{i}")
            for i in range(config.encoder_layers - 1)
        ]
        self.bridges = {
            key: keras.layers.Dense(config.decoder_units, activation="tanh", name=f"bridge_{key}")
            for key in (("h",) if config.rnn_type == "gru" else ("h", "c"))
        }
        self.decoder = AttentionDecoder(
            config.decoder_units,
            config.attention_units,
            config.rnn_type,
            embedding_dim=config.embedding_dim,
            value_dim=2 * config.encoder_units,
            attention_query=config.attention_query,
            name="decoder",
        )
        self.decoder.build()  # `encode` uses its attention keys before the decoder is called
        self.output_dropout = keras.layers.Dropout(config.dropout, name="output_dropout")
        self.output_projection = keras.layers.Dense(config.vocab_size, name="output_projection")
        if config.copy:
            # p_gen from [s_t; c_t; x_t]: the weight of the vocabulary distribution.
            self.copy_gate = keras.layers.Dense(1, name="copy_gate")

    @property
    def outputs_log_probs(self) -> bool:
        """Whether `call` and `decode_step` return normalised log-probabilities (copy
        attention) rather than logits: a loss then needs no log-softmax of its own."""
        return self.config.copy

    def build(self, input_shape=None) -> None:
        source = keras.ops.ones((1, 2), dtype="int32")
        self.call((source, source))
        super().build(input_shape)

    def encode(self, source, training: bool = False):
        """Runs the encoder.

        Args:
            source: (batch, src_len) int ids, right-padded with PAD_ID.

        Returns:
            (memory, source_mask, initial_state): a `Memory`, the (batch, src_len) bool mask of
            real tokens, and the decoder's initial state (dict of (batch, decoder_units)).
        """
        mask = keras.ops.not_equal(source, constants.PAD_ID)
        x = self.embedding_dropout(self.embedding(source), training=training)
        final_states = {}
        for i, rnn in enumerate(self.encoder_rnns):
            if i > 0:
                x = self.encoder_dropouts[i - 1](x, training=training)
            x, final_states = rnn(x, mask)
        # The bridge maps the last layer's [forward; backward] final states to the decoder's.
        state = {key: bridge(final_states[key]) for key, bridge in self.bridges.items()}
        context = self.decoder.initial_context(state)
        if context is not None:
            state["context"] = context
        memory = Memory(values=x, keys=self.decoder.attention.keys(x), source=source)
        return memory, mask, state

    def decode_step(self, token, state, encoder_outputs: Memory, source_mask, weights=None,
                    with_gate: bool = False):
        """Advances the decoder by one token.

        Args:
            token: (batch,) int ids of the previous target token (BOS at the start).
            state: dict of (batch, decoder_units) decoder state.
            encoder_outputs: the `Memory` from `encode`.
            source_mask: (batch, src_len) bool.
            weights: `self.decoder.read_weights()`, read once by a caller that loops over
                steps (default: read here).
            with_gate: also return the copy gate p_gen, float32 (batch,) (1 without copy).

        Returns:
            (logits, new_state, attention): (batch, vocab) logits (with copy attention,
            float32 log-probabilities), the new state dict and the (batch, src_len) attention
            weights used for this step.
        """
        if weights is None:
            weights = self.decoder.read_weights()
        embedded = self.embedding(token)
        projected = self.decoder.project_embeddings(embedded)
        output, new_state, attention = self.decoder.step(
            projected, state, encoder_outputs.keys, encoder_outputs.values, source_mask, weights
        )
        logits = self.output_projection(output)
        logits = self._copy_mixture(logits, output, embedded, attention, encoder_outputs.source)
        if not with_gate:
            return logits, new_state, attention
        gate = (self.copy_gate_value(output, embedded)[:, 0] if self.config.copy
                else tf.ones(tf.shape(token), tf.float32))
        return logits, new_state, attention, gate

    def call(self, inputs, training: bool = False, return_attention: bool = False):
        """Teacher forcing.

        Args:
            inputs: (source, target_in), int ids of shapes (batch, src_len) and
                (batch, tgt_len); target_in starts with BOS.

        Returns:
            logits (batch, tgt_len, vocab), and attention (batch, tgt_len, src_len) when
            `return_attention` is true.
        """
        source, target_in = inputs
        memory, mask, state = self.encode(source, training=training)
        embeddings = self.embedding_dropout(self.embedding(target_in), training=training)
        outputs, attention = self.decoder(embeddings, state, memory.values, mask)
        logits = self.output_projection(self.output_dropout(outputs, training=training))
        logits = self._copy_mixture(logits, outputs, embeddings, attention, source)
        return (logits, attention) if return_attention else logits

    def scheduled_sampling_logits(
        self, source, target_in, sampling_probability, seed, training: bool = True
    ):
        """Teacher forcing that feeds the model its own previous prediction at random steps.

        At every step after the first, each row's input is the argmax of the model's previous
        logits with probability `sampling_probability`, else the gold token (scheduled
        sampling, Bengio et al. 2015). Slower than `call`: the embedding and the output
        projection run inside the time loop.

        Args:
            source: (batch, src_len) int ids.
            target_in: (batch, tgt_len) int ids starting with BOS.
            sampling_probability: scalar float in [0, 1].
            seed: int32 (2,) seed of the stateless coin flips.

        Returns:
            logits (batch, tgt_len, vocab).
        """
        memory, mask, state = self.encode(source, training=training)
        weights = self.decoder.read_weights()
        gold = tf.transpose(target_in)  # (tgt_len, batch)
        steps, batch = tf.shape(gold)[0], tf.shape(gold)[1]
        use_model = tf.random.stateless_uniform((steps, batch), seed) < sampling_probability
        state_keys = self.decoder.state_keys()
        logits_array = tf.TensorArray(tf.float32 if self.config.copy else self.compute_dtype,
                                      size=steps)

        def body(t, previous, state, logits_array):
            token = tf.where(use_model[t] & (t > 0), previous, gold[t])
            embedded = self.embedding_dropout(self.embedding(token), training=training)
            output, new_state, attention = self.decoder.step(
                self.decoder.project_embeddings(embedded),
                dict(zip(state_keys, state, strict=True)),
                memory.keys,
                memory.values,
                mask,
                weights,
            )
            logits = self.output_projection(self.output_dropout(output, training=training))
            logits = self._copy_mixture(logits, output, embedded, attention, source)
            prediction = tf.argmax(logits, axis=-1, output_type=gold.dtype)
            return (
                t + 1,
                prediction,
                tuple(new_state[k] for k in state_keys),
                logits_array.write(t, logits),
            )

        _, _, _, logits_array = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), gold[0], tuple(state[k] for k in state_keys), logits_array),
        )
        return tf.transpose(logits_array.stack(), (1, 0, 2))  # (batch, tgt_len, vocab)

    def copy_gate_value(self, output, embedded):
        """float32 (..., 1) p_gen, the weight of the vocabulary distribution, from the
        decoder output [s_t; c_t] (..., units + value_dim) and the input embedding x_t."""
        features = keras.ops.concatenate([output, keras.ops.cast(embedded, output.dtype)], -1)
        return tf.sigmoid(tf.cast(self.copy_gate(features), tf.float32))

    def _copy_mixture(self, logits, output, embedded, attention, source):
        """The logits unchanged without copy; with copy, float32 log-probabilities of
        p = p_gen x softmax(logits) + (1 - p_gen) x attention scattered onto the source ids.

        Shapes: logits (..., vocab); output (..., units + value_dim); embedded (...,
        embedding_dim); attention (..., src_len); source (batch, src_len), where "..." is
        (batch,) in a decoding step and (batch, tgt_len) in teacher forcing.
        """
        if not self.config.copy:
            return logits
        gate = self.copy_gate_value(output, embedded)  # (..., 1)
        vocab = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        copied = scatter_to_vocab(tf.cast(attention, tf.float32), source, self.config.vocab_size)
        probs = gate * vocab + (1.0 - gate) * copied
        return tf.math.log(tf.maximum(probs, _MIN_PROB))

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, **self.config.to_dict()}

    @classmethod
    def from_config(cls, config: dict) -> Seq2Seq:
        config = dict(config)
        kwargs = {key: config.pop(key) for key in ("name", "trainable") if key in config}
        config.pop("dtype", None)
        known = {field.name for field in dataclasses.fields(ModelConfig)}
        return cls(ModelConfig.from_dict({k: v for k, v in config.items() if k in known}), **kwargs)


def scatter_to_vocab(attention, source, vocab_size: int):
    """Sums attention weights onto the vocabulary ids of the source pieces they attend to.

    Args:
        attention: float32 (batch, src_len) or (batch, tgt_len, src_len).
        source: int (batch, src_len) piece ids (padding has zero attention).
        vocab_size: static int.

    Returns:
        float32 (batch, vocab) or (batch, tgt_len, vocab): for each id, the attention on
        the source positions holding it.
    """
    source = tf.cast(source, tf.int32)
    if attention.shape.rank == 3:
        # Teacher forcing: one batched matrix product with the source's one-hot rows is
        # faster to train than a scatter into (batch, vocab, tgt_len) and its transposes.
        return tf.matmul(attention, tf.one_hot(source, vocab_size, dtype=attention.dtype))
    rows = tf.broadcast_to(tf.range(tf.shape(source)[0])[:, None], tf.shape(source))
    indices = tf.stack([rows, source], axis=-1)  # (batch, src_len, 2)
    return tf.scatter_nd(indices, attention, [tf.shape(source)[0], vocab_size])


_MIN_PROB = 1e-30  # floor of copy-attention probabilities before the log (no -inf)
