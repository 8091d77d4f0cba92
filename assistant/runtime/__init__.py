"""The runtime: the `Assistant` facade over a loaded bundle, its options and its domain."""

from assistant.runtime.assistant import Assistant
from assistant.runtime.bundle import BundleError
from assistant.runtime.domain import Domain, NullDomain, load_domain
from assistant.runtime.options import ReplyOptions, RuntimeOptions
from assistant.runtime.reply import Alternative, InputError, Reply

__all__ = [
    "Alternative",
    "Assistant",
    "BundleError",
    "Domain",
    "InputError",
    "NullDomain",
    "Reply",
    "ReplyOptions",
    "RuntimeOptions",
    "load_domain",
]
