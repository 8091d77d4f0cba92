"""What the runtime returns: a `Reply` per input, with its n-best `Alternative`s."""

from __future__ import annotations

import dataclasses

import numpy as np


class InputError(ValueError):
    """One input cannot be answered (empty, too long); the message says why."""


@dataclasses.dataclass(frozen=True)
class Alternative:
    """One n-best hypothesis."""

    text: str
    score: float


@dataclasses.dataclass(frozen=True)
class Reply:
    """The answer to one input.

    Attributes:
        text: the reply.
        score: the ranking score (log-probability, length-normalised under beam search).
        alternatives: the n-best list: `text` first, then the others in score order.
        attention: (len(pieces), len(source_pieces)) float32 attention of the best hypothesis.
        source_pieces: the input's SentencePiece pieces.
        pieces: the reply's pieces, ending with "</s>" when the model ended it.
        token_log_probs: log-probability of each of `pieces`.
        copy_gate: with copy attention, p_gen of each of `pieces`: the weight of the
            vocabulary distribution (1 - p_gen went to copying from the input); else empty.
        flags: what the domain's check found wrong with the reply (e.g. a number that is
            not in the input); empty when nothing, or when the domain checks nothing.
        error: set instead of a reply when the input could not be answered.
    """

    text: str
    score: float
    alternatives: tuple[Alternative, ...] = ()
    attention: np.ndarray | None = None
    source_pieces: tuple[str, ...] = ()
    pieces: tuple[str, ...] = ()
    token_log_probs: tuple[float, ...] = ()
    copy_gate: tuple[float, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None
