"""Copy attention (`ModelConfig.copy`): the mixture, its decoding, and what it buys."""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from assistant.core import constants
from assistant.core.binding import bind_model
from assistant.core.config import ModelConfig
from assistant.core.model import Memory, Seq2Seq, scatter_to_vocab
from assistant.decoding.graphs import DecodingGraphs
from assistant.decoding.options import DecodingOptions

SMALL = {"embedding_dim": 16, "encoder_units": 16, "decoder_units": 32, "attention_units": 16,
         "dropout": 0.0, "encoder_layers": 1}
SEEN = np.arange(10, 25)  # ids the echo task trains on
UNSEEN = np.arange(25, 40)  # ids it is tested on: never in a training target


def model_with(copy: bool, vocab_size: int = 40, seed: int = 0,
               attention_query: str = "previous") -> Seq2Seq:
    keras.utils.set_random_seed(seed)
    model = Seq2Seq(ModelConfig(vocab_size=vocab_size, copy=copy,
                                attention_query=attention_query, **SMALL))
    model.build()
    return model


def batch():
    source = np.array([[5, 6, 7, 6], [8, 9, 0, 0]], np.int32)
    target_in = np.array([[constants.BOS_ID, 6, 7], [constants.BOS_ID, 9, 0]], np.int32)
    return source, target_in


def test_scatter_sums_attention_onto_repeated_ids():
    attention = tf.constant([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.0, 0.0]])
    copied = scatter_to_vocab(attention, tf.constant(batch()[0]), 12).numpy()
    expected = np.zeros((2, 12), np.float32)
    expected[0, [5, 6, 7]] = [0.1, 0.2 + 0.4, 0.3]
    expected[1, [8, 9]] = [0.5, 0.5]
    np.testing.assert_allclose(copied, expected, rtol=1e-6)
    stepwise = scatter_to_vocab(tf.stack([attention, attention[:, ::-1]], axis=1),
                                tf.constant(batch()[0]), 12).numpy()
    np.testing.assert_allclose(stepwise[:, 0], expected, rtol=1e-6)


def test_the_distribution_is_the_hand_computed_mixture_and_sums_to_one():
    model = model_with(copy=True)
    source, target_in = batch()
    log_probs, attention = model((source, target_in), return_attention=True)
    probs = np.exp(log_probs.numpy())
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    # by hand: the vocabulary softmax and the attention on the source ids, mixed by p_gen
    memory, mask, state = model.encode(source)
    embedded = model.embedding(target_in)
    outputs, _ = model.decoder(embedded, state, memory.values, mask)
    vocab = tf.nn.softmax(model.output_projection(outputs)).numpy()
    gate = model.copy_gate_value(outputs, embedded).numpy()  # (batch, tgt, 1)
    copied = np.zeros_like(vocab)
    for b in range(2):
        for s, piece in enumerate(source[b]):
            copied[b, :, piece] += attention.numpy()[b, :, s]
    np.testing.assert_allclose(probs, gate * vocab + (1 - gate) * copied, rtol=1e-4, atol=1e-7)
    assert gate.min() > 0.0 and gate.max() < 1.0


@pytest.mark.parametrize("query", ["previous", "current"])
def test_decoding_steps_equal_teacher_forcing(query):
    model = model_with(copy=True, attention_query=query)
    source, target_in = batch()
    teacher = model((source, target_in)).numpy()
    memory, mask, state = model.encode(source)
    assert memory.source is not None
    for t in range(target_in.shape[1]):
        step_logits, state, _ = model.decode_step(tf.constant(target_in[:, t]), state, memory,
                                                  mask)
        np.testing.assert_allclose(step_logits.numpy(), teacher[:, t], rtol=1e-4, atol=1e-5)


def test_a_model_without_copy_is_unchanged():
    model = model_with(copy=False)
    assert not hasattr(model, "copy_gate")
    source, target_in = batch()
    memory, mask, state = model.encode(source)
    logits, _, _ = model.decode_step(tf.constant(target_in[:, 0]), state,
                                     Memory(memory.values, memory.keys), mask)
    np.testing.assert_allclose(logits.numpy(), model((source, target_in)).numpy()[:, 0],
                               rtol=1e-4, atol=1e-5)


def test_the_loss_skips_the_log_softmax_of_a_copy_model_without_changing_loss_or_gradients():
    from training.steps import token_sums

    model = model_with(copy=True)
    assert model.outputs_log_probs and not model_with(copy=False).outputs_log_probs
    source, target_in = batch()
    labels = np.array([[6, 7, constants.EOS_ID], [9, constants.EOS_ID, 0]], np.int32)
    results = []
    for normalised in (False, True):
        with tf.GradientTape() as tape:
            loss, correct, count = token_sums(model((source, target_in)), labels, 0.1, normalised)
        results.append((loss.numpy(), correct.numpy(), count.numpy(),
                        tape.gradient(loss, model.trainable_variables)))
    (loss, correct, count, gradients) = results[0]
    (fast_loss, fast_correct, fast_count, fast_gradients) = results[1]
    np.testing.assert_allclose(fast_loss, loss, rtol=1e-5)
    assert (fast_correct, fast_count) == (correct, count) and count == 5
    assert len(gradients) == len(fast_gradients) > 10
    for gradient, fast_gradient in zip(gradients, fast_gradients, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(fast_gradient).numpy(),
                                   tf.convert_to_tensor(gradient).numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_only_a_copy_model_learns_to_echo_numbers_it_never_saw():
    accuracy = {copy: _echo_accuracy(_train_echo(copy)) for copy in (False, True)}
    assert accuracy[True] >= 0.9, accuracy
    assert accuracy[False] <= 0.1, accuracy


def _echo_pairs(ids: np.ndarray, count: int, seed: int):
    rng = np.random.default_rng(seed)
    source = rng.choice(ids, size=(count, 3)).astype(np.int32)
    target_in = np.concatenate([np.full((count, 1), constants.BOS_ID, np.int32), source], 1)
    target_out = np.concatenate([source, np.full((count, 1), constants.EOS_ID, np.int32)], 1)
    return source, target_in, target_out


def _train_echo(copy: bool) -> Seq2Seq:
    model = model_with(copy=copy)
    optimizer = keras.optimizers.Adam(0.01)
    source, target_in, target_out = _echo_pairs(SEEN, 2048, seed=1)

    @tf.function
    def step(source, target_in, target_out):
        with tf.GradientTape() as tape:
            logits = model((source, target_in), training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                target_out, tf.cast(logits, tf.float32)))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    for start in range(0, 2048 * 2, 64):
        rows = slice(start % 2048, start % 2048 + 64)
        step(source[rows], target_in[rows], target_out[rows])
    return model


def _echo_accuracy(model: Seq2Seq) -> float:
    """The share of unseen-id sources whose greedy reply is the source itself."""
    source, _, target_out = _echo_pairs(UNSEEN, 64, seed=2)
    graphs = DecodingGraphs(functools.partial(bind_model, model), jit_compile=False)
    options = DecodingOptions(strategy="greedy", max_length_a=1, max_length_b=1.0)
    result = graphs.run(source, options, max_steps=4)
    replies = result.tokens[:, 0, :4]
    return float(np.mean(np.all(replies == target_out, axis=1)))
