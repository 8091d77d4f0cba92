"""Deterministic fake step functions, and helpers, for the decoding tests.

Two fakes: `spelling_inputs` gives one-hot logits that spell known sequences (the step count
lives in the state), and `PrefixLM` gives every prefix its own seeded distribution, so its
sequence probabilities can be enumerated by brute force and its state must follow the beam.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from assistant.core.constants import BOS_ID, EOS_ID

MODES = ("eager", "function", "xla")
A, B = 4, 1  # two ordinary tokens of the fakes' vocabularies


def run(mode: str, fn, *args, **kwargs):
    """Calls `fn` eagerly, in a `tf.function`, or in an XLA-compiled `tf.function`."""
    if mode == "eager":
        return fn(*args, **kwargs)
    return tf.function(lambda: fn(*args, **kwargs), jit_compile=mode == "xla")()


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def gnmt(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def spelling_inputs(sequences: list[list[int]], vocab: int, steps: int, scale: float = 3.0):
    """One-hot logits spelling `sequences` (one per row); no attention."""
    script = np.zeros((len(sequences), steps, vocab), np.float32)
    for row, sequence in enumerate(sequences):
        script[row, np.arange(len(sequence)), sequence] = scale

    def step(tokens, state, constants):
        logits = tf.gather(constants["script"], state["t"], batch_dims=1)  # (rows, vocab)
        return logits, {"t": state["t"] + 1}, None

    batch = len(sequences)
    state = {"t": tf.zeros((batch,), tf.int32)}
    return step, state, {"script": tf.constant(script)}, tf.fill((batch,), BOS_ID)


class PrefixLM:
    """logits = table[code(prefix) + salt]: every prefix has its own seeded distribution.

    The state carries the prefix code (BOS, y_1, ... in base `vocab`), so a beam search that
    reordered it wrongly would score the wrong prefixes. The attention of a step is
    [prefix code, step, previous token].
    """

    def __init__(self, vocab: int, steps: int, seed: int = 0, end_bias: float = 0.0) -> None:
        self.vocab = vocab
        self.size = vocab**steps
        rng = np.random.default_rng(seed)
        self.table = (2.0 * rng.normal(size=(self.size, vocab))).astype(np.float32)
        self.table[:, EOS_ID] += end_bias

    def code(self, prefix) -> int:
        code = BOS_ID
        for token in prefix:
            code = code * self.vocab + int(token)
        return code

    def set_probs(self, prefix, probs: dict[int, float]) -> None:
        """Gives `prefix` these next-token probabilities, the rest spread evenly."""
        rest = (1.0 - sum(probs.values())) / (self.vocab - len(probs))
        row = np.full(self.vocab, rest)
        for token, p in probs.items():
            row[token] = p
        self.table[self.code(prefix)] = np.log(row)

    def log_probs(self, prefix, salt: int = 0) -> np.ndarray:
        return log_softmax(self.table[(self.code(prefix) + salt) % self.size])

    def sequence_log_prob(self, tokens, salt: int = 0) -> float:
        return sum(self.log_probs(tokens[:i], salt)[t] for i, t in enumerate(tokens))

    def step(self, tokens, state, constants):
        code = state["code"] * self.vocab + tokens
        logits = tf.gather(tf.constant(self.table), (code + constants["salt"]) % self.size)
        attention = tf.cast(tf.stack([code, state["t"], tokens], axis=-1), tf.float32)
        return logits, {"code": code, "t": state["t"] + 1}, attention

    def inputs(self, salts):
        batch = len(salts)
        state = {"code": tf.zeros((batch,), tf.int32), "t": tf.zeros((batch,), tf.int32)}
        return state, {"salt": tf.constant(salts, tf.int32)}, tf.fill((batch,), BOS_ID)

    def brute_force(self, salt=0, limit=3, min_length=0, alpha=0.0):
        """Every sequence the length rules allow, as (tokens, log_prob, score), best first."""
        found = []

        def extend(prefix, log_prob):
            forced = len(prefix) + 1 >= limit
            for token, lp in enumerate(self.log_probs(prefix, salt)):
                if (forced and token != EOS_ID) or (
                    token == EOS_ID and len(prefix) < min_length and not forced
                ):
                    continue
                if token == EOS_ID:
                    n = len(prefix) + 1
                    found.append(
                        ((*prefix, token), log_prob + lp, (log_prob + lp) / gnmt(n, alpha))
                    )
                else:
                    extend((*prefix, token), log_prob + lp)

        extend((), 0.0)
        return sorted(found, key=lambda item: -item[2])


def row_tokens(result, row: int, rank: int = 0) -> tuple[int, ...]:
    length = int(result.lengths[row, rank])
    return tuple(int(t) for t in result.tokens[row, rank, :length])
