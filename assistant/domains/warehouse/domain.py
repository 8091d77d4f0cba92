"""`WarehouseDomain`: the warehouse's answers to what the runtime asks of a domain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.domains.warehouse import faithfulness, manifest, segment
from assistant.runtime.domain import Domain


class WarehouseDomain(Domain):
    """Fault lines split into records, answers in the catalog's order, replies checked.

    Args:
        checker: `check(source, reply) -> flags` bound to the bundle's catalog facts
            (`faithfulness.load_checker`), or None to check nothing.
        record_order: the catalog's `segment.RecordOrder`, or None to segment nothing.
    """

    name = manifest.NAME
    title = "warehouse fault codes and short prompts, answered as operator messages"
    hint = "Type a fault-code line or a question"
    runtime_options = ("rerank", "retry_beam", "segment")  # narrowed to the bundle's files
    files = manifest.FILES
    score_names = ("hallucinated", "dropped")

    def __init__(self, checker: Callable[[str, str], list[str]] | None = None,
                 record_order: segment.RecordOrder | None = None) -> None:
        self.checker = checker
        self.record_order = record_order
        options = []
        if checker is not None:
            options += ["rerank", "retry_beam"]
        if record_order is not None:
            options.append("segment")
        self.runtime_options = tuple(options)

    @classmethod
    def from_bundle(cls, bundle_dir: Path | None) -> WarehouseDomain:
        """The domain with a bundle's catalog facts (none without `bundle_dir`).

        Raises:
            ValueError: one line: a domain file of the bundle is not valid.
        """
        if bundle_dir is None:
            return cls()
        checker = faithfulness.load_checker(Path(bundle_dir) / faithfulness.BUNDLE_FILE)
        return cls(checker, segment.load_record_order(bundle_dir))

    @classmethod
    def register_training_commands(cls, subparsers) -> None:
        """`build-corpus`: the warehouse corpus (fault lines, questions, small talk)."""
        from assistant.domains.warehouse import corpus

        corpus.register(subparsers)

    def split(self, text: str) -> list[str] | None:
        if self.record_order is None:
            return None
        return segment.split_line(text)

    def order(self, units: Sequence[str]) -> list[int]:
        if self.record_order is None:
            return list(range(len(units)))
        return self.record_order.order(units)

    def check(self, source: str, reply: str) -> list[str]:
        return [] if self.checker is None else self.checker(source, reply)

    def graph_splitter(self):
        if self.record_order is None:
            return None
        from assistant.domains.warehouse.graph_segment import RecordSplitter

        return RecordSplitter(self.record_order)

    def score(self, source: str, reference: str, reply: str) -> dict[str, int]:
        """hallucinated: a number or code in the reply found neither in the input nor in
        the reference (the catalog's fixed wording is in the reference); dropped: a number
        of the input missing from the reply that the reference keeps."""
        allowed = faithfulness.extract_numbers(reference)
        codes = faithfulness.extract_codes(reference)
        hallucinated = bool(faithfulness.hallucinated_numbers(source, reply, allowed)
                            or faithfulness.hallucinated_codes(source, reply, codes))
        expected_drops = set(faithfulness.dropped_numbers(source, reference))
        dropped = bool(set(faithfulness.dropped_numbers(source, reply)) - expected_drops)
        return {"hallucinated": int(hallucinated), "dropped": int(dropped)}
