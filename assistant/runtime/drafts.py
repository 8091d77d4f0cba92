"""Answering with the domain's draft when the model is unsure (`RuntimeOptions.draft_below`).

A neighbours bundle (`train.neighbours`) reads each input with its nearest train pair and
edits that pair's target. Where the model's own reply scores low, that target, retrieval's
answer, is right more often than the edit (on the Unicode-names corpus of 1,538 train pairs
the edit loses to retrieval on chrF; answering the replies scored below the threshold chosen
on the validation split with the draft beats both). The replaced reply is flagged, naming
the model's reply, so surfaces warn and nothing the model said is lost; the draft takes its
place at the head of the n-best list, with its score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.runtime.domain import Domain
from assistant.runtime.inputs import Turn
from assistant.runtime.options import ReplyOptions
from assistant.runtime.reply import Alternative, Reply


def low_score_flag(score: float, below: float, reply: str) -> str:
    """The flag of a reply answered with the draft."""
    return f"score {score:.3f} below {below:.3f}: answered with the draft, not {reply!r}"


def drafted(domain: Domain, inputs: Sequence[Turn], replies: list[Reply],
            options: ReplyOptions) -> list[Reply]:
    """`replies`, each one the model scored below `options.runtime.draft_below` (unflagged,
    without error; not a sampled one, which was asked to vary) replaced by the domain's
    draft of its input, when the domain has one."""
    below = options.runtime.draft_below
    if below is None or options.decoding.strategy == "sample":
        return replies
    below = float(np.float32(below))  # scores are float32: compared as the export compares
    low = [index for index, (turn, reply) in enumerate(zip(inputs, replies, strict=True))
           if reply.error is None and not reply.flags and reply.score < below
           and isinstance(turn.text, str)]
    drafts = dict(zip(low, domain.drafts([inputs[index].text for index in low]), strict=True))
    out = list(replies)
    for index, draft in drafts.items():
        if draft is None:
            continue
        reply = replies[index]
        out[index] = Reply(text=draft, score=reply.score,
                           alternatives=(Alternative(draft, reply.score),
                                         *reply.alternatives[1:]),
                           flags=(low_score_flag(reply.score, below, reply.text),),
                           source_pieces=reply.source_pieces)
    return out
