"""The train and evaluation steps of `training.steps` run on every replica of a
tf.distribute strategy, with the results of one device on the global batch."""

from __future__ import annotations

import keras
import tensorflow as tf

from training.distribute import distribute_batches
from training.steps import autocast, target_mask, token_sums

_SUM = tf.distribute.ReduceOp.SUM


class ReplicatedSteps:
    """`TrainSteps` under a strategy: the same calls, taking the distributed batches of
    `dataset` and returning the same global `(loss, correct, count)` scalars.

    A replica's loss is its rows' summed token loss divided by the real tokens of the
    whole global batch, so the replicas' gradients, summed by the optimizer's all-reduce,
    are the gradient of the global batch's mean token loss: the loss, label smoothing and
    learning rate of one device, whatever the number of replicas. The optimizer must be
    `replica_optimizer`'s, which clips that summed gradient.

    Args:
        strategy: the `tf.distribute.Strategy` the model and optimizer were built under.
        model: the model to train.
        optimizer: from `replica_optimizer`, built under `strategy.scope()`.
        label_smoothing: probability mass spread over the vocabulary by the train steps.
        jit_compile: XLA-compile each replica's forward and backward pass and its
            evaluation (the all-reduces and the optimizer run outside XLA).
    """

    def __init__(
        self, strategy, model, optimizer, label_smoothing: float, jit_compile: bool = False
    ) -> None:
        self.strategy = strategy
        self.model = model
        self.optimizer = optimizer
        self.label_smoothing = label_smoothing
        self.jit_compile = jit_compile
        self._gradients = (
            tf.function(self._replica_gradients, jit_compile=True)
            if jit_compile
            else self._replica_gradients
        )
        self._evaluation = (
            tf.function(self._replica_evaluate, jit_compile=True)
            if jit_compile
            else self._replica_evaluate
        )
        self.train = self.train_sampled = self.evaluate = None  # compiled by `dataset`

    def dataset(self, batches):
        """`(source, target_in, target_out)` NumPy batches of `batch_size` rows as a
        distributed dataset: each replica gets its share of every batch's rows."""
        dataset = distribute_batches(self.strategy, batches)
        if self.train is None:
            self._compile(dataset.element_spec)
        return dataset

    def _compile(self, batch_spec) -> None:
        # Without XLA one trace serves every batch shape; XLA needs the time loops' static
        # lengths, so it traces once per shape (batches padded to a few fixed lengths).
        signature = None if self.jit_compile else list(batch_spec)
        self.train = tf.function(self._train, input_signature=signature)
        self.evaluate = tf.function(self._evaluate, input_signature=signature)
        scalars = [tf.TensorSpec((), tf.float32), tf.TensorSpec((2,), tf.int32)]
        self.train_sampled = tf.function(
            self._train_sampled, input_signature=[*batch_spec, *scalars]
        )

    def _train(self, source, target_in, target_out):
        return self._reduce(self.strategy.run(self._replica_train, (source, target_in, target_out)))

    def _train_sampled(self, source, target_in, target_out, probability, seed):
        return self._reduce(
            self.strategy.run(
                self._replica_train_sampled, (source, target_in, target_out, probability, seed)
            )
        )

    def _evaluate(self, source, target_in, target_out):
        return self._reduce(self.strategy.run(self._evaluation, (source, target_in, target_out)))

    def _replica_train(self, source, target_in, target_out):
        tokens = _global_tokens(target_out)
        loss, correct, count, gradients = self._gradients(source, target_in, target_out, tokens)
        self.optimizer.apply(gradients, self.model.trainable_variables)
        return tf.stack([loss, correct, count])

    def _replica_gradients(self, source, target_in, target_out, tokens):
        with tf.GradientTape() as tape:
            logits = self.model((source, target_in), training=True)
            loss, correct, count = token_sums(logits, target_out, self.label_smoothing,
                                               self.model.outputs_log_probs)
            loss = loss / tf.maximum(tokens, 1.0)
        return loss, correct, count, tape.gradient(loss, self.model.trainable_variables)

    def _replica_train_sampled(self, source, target_in, target_out, probability, seed):
        tokens = _global_tokens(target_out)
        # Each replica draws its own coin flips: the same seed would repeat them.
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
        with tf.GradientTape() as tape, autocast(self.model):
            logits = self.model.scheduled_sampling_logits(source, target_in, probability, seed)
            loss, correct, count = token_sums(logits, target_out, self.label_smoothing,
                                               self.model.outputs_log_probs)
            loss = loss / tf.maximum(tokens, 1.0)
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return tf.stack([loss, correct, count])

    def _replica_evaluate(self, source, target_in, target_out):
        logits = self.model((source, target_in), training=False)
        return tf.stack(token_sums(logits, target_out, 0.0, self.model.outputs_log_probs))

    def _reduce(self, per_replica):
        """The replicas' stacked (loss, correct, count) summed in one all-reduce."""
        summed = self.strategy.reduce(_SUM, per_replica, axis=None)  # (3,)
        return summed[0], summed[1], summed[2]


def replica_optimizer(learning_rate, clipnorm: float) -> keras.optimizers.Optimizer:
    """The Adam optimizer of a replicated run, with `clipnorm` clipping each variable's
    gradient summed over the replicas, as one device clips the global batch's gradient.
    Build it under the strategy's scope."""
    # Keras' name for Adam: the optimizer's variables are named as on one device.
    return _SummedGradientClippingAdam(learning_rate, summed_clipnorm=clipnorm, name="adam")


def _global_tokens(target_out):
    """The real target tokens of the global batch, summed over the replicas."""
    local = tf.reduce_sum(target_mask(target_out))
    return tf.distribute.get_replica_context().all_reduce(_SUM, local)


class _SummedGradientClippingAdam(keras.optimizers.Adam):
    """Adam whose per-variable gradient-norm clipping applies to the gradient summed over
    the replicas.

    Keras' own `clipnorm` clips each replica's gradient before its all-reduce, which under
    a strategy is another update than one device's (a sum of clipped parts). `update_step`
    receives the summed gradient, so the clipping moves there, with the op Keras clips with.

    Args:
        learning_rate: a float or a schedule.
        summed_clipnorm: the largest norm of each variable's summed gradient (0: no clipping).
    """

    def __init__(self, learning_rate, summed_clipnorm: float = 0.0, **kwargs) -> None:
        super().__init__(learning_rate, **kwargs)
        self.summed_clipnorm = summed_clipnorm

    def update_step(self, gradient, variable, learning_rate):
        if self.summed_clipnorm:
            gradient = tf.clip_by_norm(gradient, self.summed_clipnorm)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "summed_clipnorm": self.summed_clipnorm}
