"""A decoding graph's result row as a `Reply`: texts, the chosen hypothesis, its attention."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.core.tokenizer import Tokenizer
from assistant.runtime.reply import Alternative, Reply

# choose(alternatives) -> (the rank to answer with, its flags)
Chooser = Callable[[list[Alternative]], tuple[int, tuple[str, ...]]]


def result_reply(result, row: int, source_ids: list[int], tokenizer: Tokenizer, copy: bool,
                 choose: Chooser, n_best: int) -> Reply:
    """The reply of row `row` of a `DecodingGraphs.run` result.

    Args:
        result: the graph's result (tokens, lengths, scores, token log-probs, attention).
        row: the row of the batch.
        source_ids: the row's source pieces, unpadded.
        tokenizer: turns ids into text and pieces.
        copy: the model has copy attention (its gate rides in the attention's last column).
        choose: picks the hypothesis to answer with (the rerank) and gives its flags.
        n_best: the alternatives kept, the chosen one first, the others in score order.
    """
    alternatives = []
    for rank in range(result.tokens.shape[1]):
        length = int(result.lengths[row, rank])
        ids = result.tokens[row, rank, :length]
        alternatives.append(Alternative(tokenizer.decode(ids), float(result.scores[row, rank])))
    best, flags = choose(alternatives)
    order = [best] + [rank for rank in range(len(alternatives)) if rank != best]
    alternatives = [alternatives[rank] for rank in order[:n_best]]
    best_length = int(result.lengths[row, best])
    best_ids = result.tokens[row, best, :best_length]
    attention, copy_gate = None, ()
    if result.attention is not None:
        weights = result.attention[row, best, :best_length]  # (T, src_len [+ 1])
        # a copy: a view would keep the whole batch's attention alive with the reply
        attention = np.array(weights[:, : len(source_ids)], np.float32)
        if copy:  # the gate rides in the last column (core.binding)
            copy_gate = tuple(float(x) for x in weights[:, -1])
    return Reply(
        text=alternatives[0].text,
        score=alternatives[0].score,
        alternatives=tuple(alternatives),
        attention=attention,
        source_pieces=tuple(tokenizer.ids_to_pieces(source_ids)),
        pieces=tuple(tokenizer.ids_to_pieces(best_ids)),
        token_log_probs=tuple(float(x) for x in result.token_log_probs[row, best, :best_length]),
        copy_gate=copy_gate,
        flags=flags,
    )
