"""One reply from the replies to the units of a split line (`Domain.split`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.core import constants
from assistant.runtime.reply import Alternative, Reply


def join_units(replies: Sequence[Reply], order: Sequence[int]) -> Reply:
    """Joins the replies to a line's units into the line's reply.

    Args:
        replies: one reply per unit, in input order.
        order: indices of `replies` in the order the answers are told (`Domain.order`).

    Returns:
        The sentences in `order` joined by one space; the score is the sum of the units'
        scores; the k-th alternative joins every unit's k-th alternative. `source_pieces`
        are the units' pieces in input order, `pieces` the sentences' pieces with one end
        piece at the end, and the attention is block-diagonal (a sentence attends only to
        its own unit). A unit that could not be answered makes the line's reply an error
        ("record 2: empty input"). Flags are left to the caller, who checks the joined
        text against the whole line.
    """
    for position, reply in enumerate(replies, start=1):
        if reply.error is not None:
            return Reply(text="", score=float("nan"), error=f"record {position}: {reply.error}")
    alternatives = _joined_alternatives(replies, order)
    pieces: list[str] = []
    log_probs: list[float] = []
    gates: list[float] = []
    rows = []
    offsets = np.cumsum([0] + [len(reply.source_pieces) for reply in replies])
    for place, i in enumerate(order):
        reply = replies[i]
        keep = len(reply.pieces)
        if place < len(order) - 1 and reply.pieces[-1:] == (constants.EOS_PIECE,):
            keep -= 1  # one end piece, after the last sentence
        pieces.extend(reply.pieces[:keep])
        log_probs.extend(reply.token_log_probs[:keep])
        gates.extend(reply.copy_gate[:keep])
        if reply.attention is not None:
            block = np.zeros((keep, offsets[-1]), np.float32)  # (keep, all source pieces)
            block[:, offsets[i] : offsets[i + 1]] = reply.attention[:keep]
            rows.append(block)
    return Reply(
        text=alternatives[0].text,
        score=alternatives[0].score,
        alternatives=alternatives,
        attention=np.concatenate(rows) if len(rows) == len(replies) else None,
        source_pieces=tuple(p for reply in replies for p in reply.source_pieces),
        pieces=tuple(pieces),
        token_log_probs=tuple(log_probs),
        copy_gate=tuple(gates) if len(gates) == len(pieces) else (),
    )


def _joined_alternatives(replies: Sequence[Reply],
                         order: Sequence[int]) -> tuple[Alternative, ...]:
    count = min(len(reply.alternatives) for reply in replies)
    return tuple(
        Alternative(
            " ".join(t for t in (replies[i].alternatives[k].text for i in order) if t),
            sum(replies[i].alternatives[k].score for i in order),
        )
        for k in range(count)
    )
