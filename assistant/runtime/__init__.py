"""The runtime: the `Assistant` facade over a loaded bundle, its options and its domain.

Names are imported on first use, so the CLI can read options and domains without loading
TensorFlow.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Alternative": "reply",
    "Assistant": "assistant",
    "BundleError": "bundle",
    "Domain": "domain",
    "InputError": "reply",
    "NullDomain": "domain",
    "Reply": "reply",
    "ReplyOptions": "options",
    "RuntimeOptions": "options",
    "load_domain": "domain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'assistant.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(f"assistant.runtime.{_EXPORTS[name]}"), name)
