"""What names the warehouse domain in a data directory and a bundle, and the files it reads."""

from __future__ import annotations

from assistant.domains.warehouse import faithfulness, hints, segment

NAME = "warehouse"  # config.json's "domain"
# the files a bundle may carry; the hints only when its corpus was built with them
FILES = (faithfulness.BUNDLE_FILE, segment.RECORD_ORDER_FILE, hints.HINTS_FILE)


def manifest(catalog_hints: bool = False) -> dict:
    """The `DOMAIN_MANIFEST` (`assistant.runtime.domain`) of a data directory: the files
    training copies into the bundle (the hints with `catalog_hints`)."""
    files = [f for f in FILES if catalog_hints or f != hints.HINTS_FILE]
    return {"name": NAME, "files": files}
