"""The compiled train and evaluation steps: masked, label-smoothed token cross-entropy."""

from __future__ import annotations

import contextlib

import tensorflow as tf

from assistant.core import constants
from assistant.core.model import Seq2Seq


class TrainSteps:
    """The compiled train and evaluation steps of one model and optimizer.

    Each step takes `(source, target_in, target_out)`, int32 tensors of shape
    (batch, src_len), (batch, tgt_len) and (batch, tgt_len), and returns float32 scalars
    `(loss, correct, count)`: the train steps' mean loss over real tokens, `evaluate`'s
    summed loss; correct argmax predictions; real (non-padding) target tokens.

    Args:
        model: the model to train.
        optimizer: the Keras optimizer the train steps apply (None to only evaluate).
        label_smoothing: probability mass spread over the vocabulary by the train steps.
        jit_compile: XLA-compile `train` and `evaluate` (once per batch shape: give them
            batches of a few fixed shapes, `make_batches(pad_lengths=...)`).
    """

    def __init__(self, model: Seq2Seq, optimizer, label_smoothing: float,
                 jit_compile: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.label_smoothing = label_smoothing
        ids = tf.TensorSpec((None, None), tf.int32)
        # XLA needs the time loops' static lengths: one trace per batch shape instead of
        # one for all (the shapes are few when batches are padded to fixed lengths).
        signature = None if jit_compile else [ids, ids, ids]
        self.train = tf.function(self._train, input_signature=signature,
                                 jit_compile=jit_compile)
        self.train_sampled = tf.function(
            self._train_sampled,
            input_signature=[
                ids,
                ids,
                ids,
                tf.TensorSpec((), tf.float32),
                tf.TensorSpec((2,), tf.int32),
            ],
        )
        self.evaluate = tf.function(self._evaluate, input_signature=signature,
                                    jit_compile=jit_compile)

    def dataset(self, batches):
        """An epoch's `(source, target_in, target_out)` NumPy batches as the train steps
        take them: a tf.data pipeline that prepares the next 2 while a step runs."""
        return tf.data.Dataset.from_generator(
            lambda: iter(batches),
            output_signature=tuple(tf.TensorSpec((None, None), tf.int32) for _ in range(3)),
        ).prefetch(2)

    def _train(self, source, target_in, target_out):
        with tf.GradientTape() as tape:
            logits = self.model((source, target_in), training=True)
            loss, correct, count = _token_loss(logits, target_out, self.label_smoothing,
                                              self.model.outputs_log_probs)
        self._apply(tape, loss)
        return loss, correct, count

    def _train_sampled(self, source, target_in, target_out, probability, seed):
        with tf.GradientTape() as tape, autocast(self.model):
            logits = self.model.scheduled_sampling_logits(source, target_in, probability, seed)
            loss, correct, count = _token_loss(logits, target_out, self.label_smoothing,
                                              self.model.outputs_log_probs)
        self._apply(tape, loss)
        return loss, correct, count

    def _apply(self, tape, loss):
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)

    def _evaluate(self, source, target_in, target_out):
        logits = self.model((source, target_in), training=False)
        loss, correct, count = _token_loss(logits, target_out, 0.0, self.model.outputs_log_probs)
        return loss * count, correct, count


def token_sums(logits, labels, label_smoothing: float, normalised: bool = False):
    """Masked, label-smoothed cross-entropy summed over the real tokens of a batch, in
    float32 whatever the logits' dtype (bfloat16 under mixed precision).

    Args:
        logits: (batch, tgt_len, vocab).
        labels: (batch, tgt_len) int32, PAD_ID on padding.
        label_smoothing: probability mass spread over the vocabulary.
        normalised: `logits` are normalised log-probabilities already (a copy model's,
            `Seq2Seq.outputs_log_probs`): no log-softmax. It would change neither the loss
            nor the gradients (they keep the distribution normalised) and costs about a
            tenth of a copy model's train step.

    Returns:
        (summed token loss, correct argmax predictions, real token count), float32 scalars.
    """
    mask = target_mask(labels)  # (batch, tgt_len)
    logits = tf.cast(logits, tf.float32)
    log_probs = logits if normalised else tf.nn.log_softmax(logits, axis=-1)
    nll = -tf.gather(log_probs, labels, axis=-1, batch_dims=2)  # (batch, tgt_len)
    if label_smoothing:
        smooth = -tf.reduce_mean(log_probs, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    count = tf.reduce_sum(mask)
    predictions = tf.argmax(logits, axis=-1, output_type=labels.dtype)
    correct = tf.reduce_sum(tf.cast(tf.equal(predictions, labels), tf.float32) * mask)
    return tf.reduce_sum(nll * mask), correct, count


def target_mask(labels):
    """(batch, tgt_len) float32: 1 on real target tokens, 0 on padding."""
    return tf.cast(tf.not_equal(labels, constants.PAD_ID), tf.float32)


def autocast(model: Seq2Seq):
    """The variable autocasting Keras applies inside a layer's `__call__`, for model methods
    called directly (`scheduled_sampling_logits`), so that under mixed_bfloat16 they read the
    float32 variables as bfloat16 like the layers they call. Keras has no public API for it."""
    if model.compute_dtype == model.variable_dtype:
        return contextlib.nullcontext()
    from keras.src.backend import AutocastScope

    return AutocastScope(model.compute_dtype)


def _token_loss(logits, labels, label_smoothing: float, normalised: bool = False):
    """`token_sums` with the mean loss over real tokens in place of the sum.

    Returns:
        (mean loss over real tokens, correct argmax predictions, real token count).
    """
    loss_sum, correct, count = token_sums(logits, labels, label_smoothing, normalised)
    return loss_sum / tf.maximum(count, 1.0), correct, count
