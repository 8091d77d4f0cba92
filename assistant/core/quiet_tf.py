"""Imports TensorFlow without the C++ start-up chatter on stderr.

TensorFlow's native libraries print oneDNN/CUDA notices while loading, before any log
level applies. Surfaces call `import_tensorflow()` first so a user sees only our output;
if the import fails, what TensorFlow printed is replayed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

XLA_FLAGS = "--xla_backend_optimization_level=1"


def import_tensorflow(start_runtime: bool = True):
    """Imports TensorFlow (and initialises its CPU device) with fd 2 captured.

    Args:
        start_runtime: False imports without starting TensorFlow's runtime (initialising
            its devices), for a caller that configures the runtime first: a multi-worker
            distribution strategy sets up collective ops, which a started runtime refuses.

    Returns:
        The `tensorflow` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # 3: the oneDNN "DT_BOOL" notice of the first XLA compile is logged at error level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # LLVM optimisation level 1 for XLA on the CPU: compiles a decoding bucket in about 1.2 s
    # instead of 1.7 s with the same reply latency (make bench-decode). An XLA_FLAGS the user
    # set is kept as it is.
    os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)
    with native_logs_captured():
        import tensorflow as tf

        if start_runtime:
            tf.config.list_logical_devices("CPU")
    return tf


@contextlib.contextmanager
def native_logs_captured(replay: bool = False) -> Iterator[None]:
    """Holds back what native code (TensorFlow, SentencePiece) prints on fd 2.

    The captured text is replayed when the block raises, or always when `replay` (--debug).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed or replay:
                captured.seek(0)
                sys.stderr.write(captured.read().decode("utf-8", "replace"))
