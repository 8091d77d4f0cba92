"""`WarehouseDomain`: the warehouse's answers to what the runtime asks of a domain."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.domains.warehouse import context as context_lib
from assistant.domains.warehouse import detector as detector_lib
from assistant.domains.warehouse import faithfulness, grounding, hints, manifest, mentions, segment
from assistant.domains.warehouse import referents as referents_lib
from assistant.domains.warehouse import respell as respell_lib
from assistant.domains.warehouse import unreadable as unreadable_lib
from assistant.runtime.domain import Domain

HELP_TEXT = ("I can help with warehouse fault codes: what a code means, how serious it is, "
             "which equipment raises it and how to fix it. Type the fault records from the "
             "panel, or ask about a code.")  # the fallback for an input without records


class WarehouseDomain(Domain):
    """Fault lines split into records, answers in the catalog's order, replies checked.

    Args:
        checker: `check(source, reply) -> flags` bound to the bundle's catalog facts
            (`faithfulness.load_checker`), or None to check nothing.
        record_order: the catalog's `segment.RecordOrder`, or None to segment nothing.
        detector: the catalog's record detector, for `fallback`; None: the checker's
            (`faithfulness.Checker.detector`), or no fallback without a checker.
        catalog_hints: the catalog's `hints.CatalogHints` when the bundle's model was trained
            to read them, or None to read every unit as typed.
    """

    name = manifest.NAME
    title = "warehouse fault codes and short prompts, answered as operator messages"
    hint = "Type a fault-code line or a question"
    # narrowed to the bundle's files
    runtime_options = ("rerank", "retry_beam", "greedy_first", "segment")
    files = manifest.FILES
    score_names = ("hallucinated", "dropped")

    def __init__(self, checker: Callable[[str, str], list[str]] | None = None,
                 record_order: segment.RecordOrder | None = None,
                 detector: detector_lib.Detector | None = None,
                 catalog_hints: hints.CatalogHints | None = None) -> None:
        self.checker = checker
        self.catalog_hints = catalog_hints
        self.record_order = record_order
        if detector is None and isinstance(checker, faithfulness.Checker):
            detector = checker.detector()
        self.detector = detector
        options = []
        if checker is not None:
            options += ["rerank", "retry_beam", "greedy_first"]
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
        return cls(checker, segment.load_record_order(bundle_dir),
                   catalog_hints=hints.load_hints(bundle_dir))

    @classmethod
    def register_training_commands(cls, subparsers) -> None:
        """`build-corpus`: the warehouse corpus (fault lines, questions, small talk), and
        `build-log`: a seeded warehouse log (the benchmark workload)."""
        from assistant.domains.warehouse import corpus, logs

        corpus.register(subparsers)
        logs.register(subparsers)

    def split(self, text: str) -> list[str] | None:
        if self.record_order is None:
            return None
        return segment.split_line(text)

    def order(self, units: Sequence[str]) -> list[int]:
        if self.record_order is None:
            return list(range(len(units)))
        return self.record_order.order(units)

    def reply_bound(self, text: str) -> str | None:
        if not isinstance(self.checker, faithfulness.Checker):
            return None
        return self.checker.reply_bound(text)

    def unreadable(self, text: str, context: str = "") -> str | None:
        """Noise, a control character in a record, a record cut short (`unreadable`)."""
        if self.detector is None:
            return None
        return unreadable_lib.unreadable(text, self.detector, context)

    def respell(self, text: str) -> str | None:
        """A fault line in another spelling, or a question naming a fault by its meaning,
        written canonically (`respell`)."""
        if self.detector is None or not isinstance(self.checker, faithfulness.Checker):
            return None
        return respell_lib.respell(text, self.detector, self.checker.code_table)

    def template(self, text: str) -> tuple[str, tuple[str, ...]] | None:
        """A record as a PLC writes it ("CV07:E217 T=85 N=3") with its values taken out,
        when no value repeats the unit number or another value (`segment.template`)."""
        return segment.template(text)

    def check(self, source: str, reply: str, context: str = "") -> list[str]:
        if self.checker is None:
            return []
        checked = self.checker(source, reply, context) if context else self.checker(source, reply)
        flags = [*checked, *self._order_flags(source, reply)]
        if reply[:1].islower():  # every catalog reply starts with a capital
            flags.append("reply starts in lower case")
        return flags

    def _order_flags(self, source: str, reply: str) -> list[str]:
        """"records out of the catalog's order": a fault line of several records whose
        sentences do not come in the catalog's order (severity, then input order), as a
        line decoded whole may tell them. Lines that name a code twice are not judged."""
        if self.record_order is None or self.detector is None:
            return []
        detections = self.detector.detect(source)
        codes = [detection.record.code for detection in detections]
        if (len(detections) < 2 or len(set(codes)) < len(codes)
                or not self.detector.is_fault_line(source, detections)):
            return []
        told = reply.upper()
        positions = [told.find(code) for code in codes]
        if min(positions) < 0:
            return []  # a record missing from the reply is flagged by the checker
        wanted = self.record_order.order([f"{d.record.label}:{d.record.code}"
                                          for d in detections])
        said = sorted(range(len(codes)), key=lambda index: positions[index])
        return [] if said == wanted else ["records out of the catalog's order"]

    def fallback(self, source: str, flags: Sequence[str], context: str = "") -> str | None:
        """What could not be read, said plainly: the records of `source` the `flags` name
        (all of them when the flags name none); for an input without records or codes,
        what its `context` was about ("I could not answer reliably about E217 on conveyor
        7; ..."), else what the assistant can help with; for an input `unreadable` refuses,
        what could not be read and why. None without a detector (no catalog), and for a
        line whose only flags are those of its refused records (the joined reply already
        says, in the record's place, why it could not be read)."""
        if self.detector is None:
            return None
        whole = unreadable_lib.unreadable(source, self.detector, context)
        if whole is not None:
            return unreadable_lib.fallback_text(source, [whole])
        if flags and all(unreadable_lib.is_refusal(flag) for flag in flags):
            return None  # a line with a refused record: its reply says which one, in place
        detections = self.detector.detect(source)
        if not detections and context and not faithfulness.extract_codes(source):
            subjects = self._context(context).subjects()
            if subjects:
                about = context_lib.describe(subjects, self.detector.equipment_names)
                return (f"I could not answer reliably about {about}; please check the code "
                        "on the panel and report it to maintenance.")
        if not detections:
            return _no_record_fallback(source)
        named = [index for index, detection in enumerate(detections)
                 if any(_names_record(flag, detection.record) for flag in flags)]
        named = named or list(range(len(detections)))
        if not self.detector.is_fault_line(source, detections):
            text = _join([f"`{detections[index].text}`" for index in named])
            return (f"I could not answer reliably about {text}; please check the code on the "
                    "panel and report it to maintenance.")
        return _unread_records(detections, named)

    def remember(self, context: str, text: str) -> str:
        """The last fault line and what the last question named (`context.remember`), as
        the text a model trained with context reads: "CV07:E217 T=85; SN02:W301 N=12 >>
        W301"."""
        return context_lib.remember(self._context(context), text, self._reader()).text

    def refocus(self, context: str, text: str) -> str | None:
        """The records of the context's line the turn refers to (`referents.referents`:
        "and the sorter?" -> the sorter's record, "how do I fix it?" -> the focus's), as a
        line, or the focus's code alone; "" (answer it alone) when it refers to nothing
        there ("what does yolo mean?"); None when it refers to the context as it is."""
        subjects = referents_lib.referents(text, context, self._reader())
        if not subjects:
            return ""
        narrowed = "; ".join(subject.format() if subject.prefix else subject.code
                             for subject in subjects)
        return narrowed if narrowed != context.strip() else None

    def spell_out(self, context: str, text: str) -> str | None:
        """A follow-up about one record of the context as the canonical question (or fault
        line) that names it ("fix?" after `LP80:W824 N=19` -> "how do I fix W824 on
        LP80?", `respell.spell_out`), or None."""
        return respell_lib.spell_out(context, text, self._reader())

    def describe_context(self, context: str) -> str:
        """What "it" means: "E217 on conveyor 7", or "E217 on conveyor 7 or W301 on sorter
        2" when a reply would have to ask which."""
        subjects = self._context(context).subjects()
        return context_lib.describe(subjects, self._reader().equipment_names)

    def _context(self, text: str) -> context_lib.Context:
        return context_lib.parse_context(text, self._reader())

    def _reader(self) -> detector_lib.Detector:
        """The catalog's detector; without one (no faithfulness.json), one that reads the
        canonical grammar's records only."""
        return self.detector or detector_lib.Detector({})

    def judges(self, text: str) -> bool:
        """A unit that names a code, a unit or a type of equipment (the detector's reading)."""
        if not isinstance(self.checker, faithfulness.Checker):
            return True
        reading = grounding.read_source(text, self.checker.equipment_names,
                                        self.checker.equipment_aliases)
        return bool(reading.records or reading.units or reading.prefixes
                    or mentions.extract_codes(text))

    def model_text(self, text: str) -> str:
        """A unit that is one record, with its catalog hint (`hints`), for a bundle trained
        with hints."""
        return text if self.catalog_hints is None else self.catalog_hints.annotate(text)

    def model_context(self, context: str, text: str) -> str:
        """A context with its records' hints, for a bundle trained with context hints."""
        return (context if self.catalog_hints is None
                else self.catalog_hints.annotate_context(context, text))

    def graph_annotator(self):
        if self.catalog_hints is None:
            return None
        from assistant.domains.warehouse.graph_segment import HintAnnotator

        return HintAnnotator(self.catalog_hints)

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


def _no_record_fallback(source: str) -> str:
    codes = faithfulness.extract_codes(source)
    if not codes:
        return HELP_TEXT
    text = _join(list(dict.fromkeys(codes)))
    return (f"I could not answer reliably about {text}; please check the code on the panel "
            "and report it to maintenance.")


def _names_record(flag: str, record) -> bool:
    """Whether a flag is about `record`: it names its unit label ("CV07") or its code."""
    words = set(re.findall(r"[A-Za-z0-9]+", flag))
    return record.label in words or record.code in words


def _unread_records(detections: Sequence[detector_lib.Detection], named: list[int]) -> str:
    """"I could not read record 2, `XX07:E999 T=8`, as a fault record; ...": the records
    at the indices `named`, by position in the line when it has more than one."""
    texts = _join([f"`{detections[index].text}`" for index in named])
    if len(detections) == 1:
        return (f"I could not read {texts} as a fault record; please check it and report "
                "the code to maintenance.")
    positions = [str(index + 1) for index in named]
    if len(named) == 1:
        return (f"I could not read record {positions[0]}, {texts}, as a fault record; please "
                "check it and report the code to maintenance.")
    return (f"I could not read records {_join(positions)}, {texts}, as fault records; please check "
            "them and report the codes to maintenance.")


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
