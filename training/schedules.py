"""Learning-rate and scheduled-sampling schedules."""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="assistant")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then constant, inverse square root or cosine decay.

    Args:
        peak: learning rate at the end of the warm-up.
        warmup_steps: steps of linear warm-up (0: none).
        decay: "constant", "inverse_sqrt" (peak x sqrt(warmup / step)) or "cosine"
            (to `floor` at `total_steps`).
        total_steps: length of the cosine decay.
        floor: smallest learning rate of the cosine decay.
    """

    def __init__(
        self, peak: float, warmup_steps: int, decay: str, total_steps: int = 1, floor: float = 0.0
    ) -> None:
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.decay = decay
        self.total_steps = total_steps
        self.floor = floor

    def __call__(self, step):
        step = keras.ops.cast(step, "float32") + 1.0
        warmup = float(max(self.warmup_steps, 1))
        warming = self.peak * step / warmup
        if self.decay == "constant":
            decayed = keras.ops.convert_to_tensor(self.peak, "float32")
        elif self.decay == "inverse_sqrt":
            decayed = self.peak * keras.ops.sqrt(warmup / keras.ops.maximum(step, warmup))
        else:
            span = float(max(self.total_steps - self.warmup_steps, 1))
            progress = keras.ops.clip((step - warmup) / span, 0.0, 1.0)
            cosine = 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
            decayed = self.floor + (self.peak - self.floor) * cosine
        return keras.ops.where(step < warmup, warming, decayed)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
            "total_steps": self.total_steps,
            "floor": self.floor,
        }


def sampling_probability(kind: str, step: int, k: float, maximum: float) -> float:
    """Probability of feeding the model its own prediction at training step `step`.

    Bengio et al. (2015) decay the teacher-forcing probability eps(step); this returns
    min(maximum, 1 - eps):
      linear: eps = max(0, 1 - step / k); exponential: eps = k ** step (0 < k < 1);
      inverse_sigmoid: eps = k / (k + exp(step / k)); off: 0.
    """
    if kind == "off":
        return 0.0
    if kind == "linear":
        eps = max(0.0, 1.0 - step / max(k, 1.0))
    elif kind == "exponential":
        if not 0.0 < k < 1.0:
            raise ValueError("exponential scheduled sampling needs 0 < sampling_k < 1")
        eps = k**step
    elif kind == "inverse_sigmoid":
        eps = k / (k + math.exp(min(step / k, 700.0)))
    else:
        raise ValueError(f"unknown scheduled sampling schedule {kind!r}")
    return min(maximum, 1.0 - eps)
