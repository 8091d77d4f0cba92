"""`NeighbourDomain`: pairs of your own, each source read with its nearest train pair."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.core import constants
from assistant.core.atomic_files import atomic_write_text
from assistant.domains.neighbours import index as index_lib
from assistant.runtime.domain import Domain

NAME = "neighbours"  # config.json's "domain"
NEIGHBOURS_FILE = "neighbours.jsonl"  # the train pairs (`NeighbourIndex.to_jsonl`)


class NeighbourDomain(Domain):
    """The null domain, except that the model reads each unit followed by its nearest
    train pair (`index.NeighbourIndex.read`), as it was trained (`train.neighbours`), and a
    reply the model scores below the bundle's `draft_below` is that pair's target.

    Args:
        index: the bundle's train pairs; None: an empty index (units read as typed).
    """

    name = NAME
    title = "a sequence-to-sequence model trained on your own pairs, with their neighbours"
    files = (NEIGHBOURS_FILE,)
    runtime_options = ("draft_below",)

    def __init__(self, index: index_lib.NeighbourIndex | None = None) -> None:
        self.index = index or index_lib.NeighbourIndex((), ())

    @classmethod
    def from_bundle(cls, bundle_dir: Path | None) -> NeighbourDomain:
        """The domain with a bundle's `NEIGHBOURS_FILE` (an empty index without a bundle).

        Raises:
            ValueError: one line: the file is missing or not valid.
        """
        if bundle_dir is None:
            return cls()
        path = Path(bundle_dir) / NEIGHBOURS_FILE
        if not path.is_file():
            raise ValueError(f"{path}: missing (the train pairs of a neighbours bundle)")
        try:
            return cls(index_lib.NeighbourIndex.load(path, _source_case(Path(bundle_dir))))
        except index_lib.NeighboursFileError as error:
            raise ValueError(str(error)) from None

    @classmethod
    def from_pairs(cls, pairs, source_case: str = "keep") -> NeighbourDomain:
        return cls(index_lib.NeighbourIndex.from_pairs(pairs, source_case))

    def save_files(self, directory: Path) -> None:
        atomic_write_text(Path(directory) / NEIGHBOURS_FILE, self.index.to_jsonl())

    def model_text(self, text: str) -> str:
        return self.index.read([text])[0]

    def model_texts(self, texts: list[str]) -> list[str]:
        return self.index.read(texts)

    def drafts(self, texts: list[str]) -> list[str | None]:
        """Each text's nearest train pair's target (what retrieval alone answers)."""
        return self.index.replies(texts)

    def graph_annotator(self):
        from assistant.domains.neighbours.graph import GraphNeighbours

        return GraphNeighbours(self.index)


def _source_case(bundle_dir: Path) -> str:
    """config.json's `model.source_case` ("keep" when it cannot tell: the bundle loader
    reports a broken config.json itself)."""
    try:
        payload = json.loads((bundle_dir / constants.CONFIG_FILE).read_text(encoding="utf-8"))
        return str(payload["model"].get("source_case", "keep"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "keep"
