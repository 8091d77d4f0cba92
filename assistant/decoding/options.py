"""The decoding options: a plain dataclass (no TensorFlow), saved as JSON in bundles."""

from __future__ import annotations

import dataclasses
from typing import Any

STRATEGIES = ("greedy", "beam", "sample")
# The widest beam a request may ask for (beam_width, and the runtime's retry_beam). Memory and
# time grow with width x vocabulary at every step (and width x source length for the attention
# kept), so an unbounded width lets one request run for minutes; the product decodes with 5,
# retries with 16, and wider beams rarely find better replies. 64 leaves room to experiment.
BEAM_WIDTH_LIMIT = 64


@dataclasses.dataclass(frozen=True)
class DecodingOptions:
    """How to decode; every field is a plain value so the options can be saved as JSON.

    These defaults are the only ones: a bundle's config.json ("decoding") overrides them,
    the trainer writes the values it chose from the data there, and every surface reads
    them through `assistant.runtime.options`.
    """

    strategy: str = "beam"  # "greedy", "beam" or "sample"
    beam_width: int = 5  # hypotheses kept per row by beam search; 1 to BEAM_WIDTH_LIMIT
    length_penalty: float = 0.6  # GNMT alpha of beam search; 0 ranks by log-prob (favours short)
    n_best: int = 1  # hypotheses returned by beam search, <= beam_width
    temperature: float = 1.0  # sampling: < 1 sharper, > 1 flatter, 0 greedy
    top_k: int = 0  # sampling: keep the k most likely tokens; 0 is off
    top_p: float = 1.0  # sampling: keep the nucleus of this probability mass; 1 is off
    seed: int = 0  # sampling: the same seed and batch give the same samples
    min_length: int = 0  # the end token is masked until this many tokens were generated
    max_length_a: int = 200  # per-row limit = a + b x source length (tokens, counting the end)
    max_length_b: float = 2.0  # the per-source-token part of that limit

    def validate(self) -> None:
        """Checks every field.

        Raises:
            ValueError: one line naming the first invalid field.
        """
        for name, valid, rule in _RULES:
            value = getattr(self, name)
            if not valid(value):
                raise ValueError(f"{name} {rule}, got {value!r}")
        if self.n_best > self.beam_width:
            raise ValueError(
                f"n_best ({self.n_best}) must not exceed beam_width ({self.beam_width})"
            )

    def max_lengths(self, source_lengths):
        """int32 (batch,) per-row limits `floor(a + b x source_lengths)` from (batch,) lengths."""
        import tensorflow as tf

        lengths = tf.cast(source_lengths, tf.float32)
        return tf.cast(tf.floor(self.max_length_a + self.max_length_b * lengths), tf.int32)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# (field, check, rule stated in the error message), checked in this order.
_RULES = (
    ("strategy", lambda v: v in STRATEGIES, "must be one of 'greedy', 'beam', 'sample'"),
    ("beam_width", lambda v: _is_int(v) and 1 <= v <= BEAM_WIDTH_LIMIT,
     f"must be an int from 1 to {BEAM_WIDTH_LIMIT} (memory and time grow with the width)"),
    ("n_best", lambda v: _is_int(v) and v >= 1, "must be an int >= 1"),
    ("length_penalty", lambda v: _is_number(v) and v >= 0, "must be a number >= 0"),
    ("temperature", lambda v: _is_number(v) and v >= 0, "must be a number >= 0 (0 is greedy)"),
    ("top_k", lambda v: _is_int(v) and v >= 0, "must be an int >= 0 (0 turns top-k off)"),
    ("top_p", lambda v: _is_number(v) and 0 < v <= 1, "must be in (0, 1] (1 turns top-p off)"),
    ("seed", _is_int, "must be an int"),
    ("min_length", lambda v: _is_int(v) and v >= 0, "must be an int >= 0"),
    ("max_length_a", lambda v: _is_number(v) and v >= 0, "must be a number >= 0"),
    ("max_length_b", lambda v: _is_number(v) and v >= 0, "must be a number >= 0"),
)
