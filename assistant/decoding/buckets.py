"""Static shapes of the compiled decoding graphs: length buckets and the step budget.

Sources are padded to `SOURCE_BUCKETS` and batches to `BATCH_BUCKETS`, so a new input length
never retraces a graph; XLA compiles once per bucket. The runtime (`assistant.runtime`) and
the exported graph (`assistant.serving`) pad the same way, so they compute the same numbers.
"""

from __future__ import annotations

import math

SOURCE_BUCKETS = (8, 16, 32, 64, 128, 256)  # sources are padded to one of these lengths
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # batches are padded to one of these sizes
MAX_SOURCE_PIECES = SOURCE_BUCKETS[-1]  # longer inputs are refused with a clear error
MAX_STEPS_CAP = 512  # no reply is longer than this many pieces
# A reply the domain can size (`Domain.reply_bound`) is searched up to ceil(ratio x the
# bound's pieces) + slack pieces, with the rerank: exact for replies that long, and hypotheses
# that ramble on stop there instead of at the step budget.
BOUND_MARGIN = (1.3, 10)


def bounded_limit(bound_pieces: int) -> int:
    """The length limit (counting the end token) of a reply sized at `bound_pieces`."""
    ratio, slack = BOUND_MARGIN
    return math.ceil(ratio * bound_pieces) + slack + 1


def source_bucket(length: int) -> int:
    """The smallest source bucket holding `length` pieces (`length` <= MAX_SOURCE_PIECES)."""
    return next(bucket for bucket in SOURCE_BUCKETS if bucket >= length)


def batch_bucket(rows: int) -> int:
    """The smallest batch bucket holding `rows` rows (`rows` itself beyond the largest)."""
    return next((bucket for bucket in BATCH_BUCKETS if bucket >= rows), rows)


def step_budget(options) -> int:
    """The decoding buffer size for `options` (a `DecodingOptions`): the limit of the longest
    input, capped at `MAX_STEPS_CAP`.

    It is one size for every bucket, so a new input length never retraces; each row still
    stops at its own limit a + b x its length (see `assistant.core.binding.bind_model`).
    """
    return min(MAX_STEPS_CAP, int(options.max_length_a + options.max_length_b * MAX_SOURCE_PIECES))
