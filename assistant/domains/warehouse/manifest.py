"""What names the warehouse domain in a data directory and a bundle, and the files it reads."""

from __future__ import annotations

from assistant.domains.warehouse import faithfulness, hints, segment

NAME = "warehouse"  # config.json's "domain"
# copied into every bundle (a bundle of older data may lack the hints: read as typed)
FILES = (faithfulness.BUNDLE_FILE, segment.RECORD_ORDER_FILE, hints.HINTS_FILE)


def manifest() -> dict:
    """The `DOMAIN_MANIFEST` (`assistant.runtime.domain`) of a data directory."""
    return {"name": NAME, "files": list(FILES)}
