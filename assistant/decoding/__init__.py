"""Batched decoding strategies that drive any step function; they never import the model.

The step contract, shared by greedy search, beam search and sampling:

    step_fn(tokens, state, constants) -> (logits, new_state, attention)

- tokens: int32 (rows,), the previous token of every row (rows = batch, or batch x beam).
- state: a nest of (rows, ...) tensors; beam search reorders it along its backpointers.
- constants: a nest of (rows, ...) tensors (encoder memory, attention keys, source mask) or
  None; beam search tiles it to batch x beam once and never reorders it.
- logits: float32 (rows, vocab), unnormalised. attention: float32 (rows, src_len) or None.

Everything is TensorFlow ops in a `tf.while_loop` with buffers of the static `max_steps`, so
one trace serves every call of a given shape, eagerly, in `tf.function`, and with
`jit_compile=True`. `common` states the length rules (tokens end with the end token;
lengths count it).
"""

from __future__ import annotations

import importlib

# name -> module; imported on first use, so reading `DecodingOptions` (the CLI, a config)
# does not import TensorFlow.
_EXPORTS = {
    "STRATEGIES": "options",
    "DecodingOptions": "options",
    "DecodingResult": "common",
    "StepFn": "common",
    "beam_search": "beam",
    "decode": "factory",
    "greedy_search": "greedy",
    "sample": "sampling",
    "tile_to_beam": "common",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'assistant.decoding' has no attribute {name!r}")
    return getattr(importlib.import_module(f"assistant.decoding.{_EXPORTS[name]}"), name)
