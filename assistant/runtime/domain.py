"""What the runtime asks of a domain, and how a bundle's domain is found.

A domain is the knowledge of one kind of input that the generic seq2seq runtime does not
have: how to split a line into units that are answered one at a time, in which order the
answers go, how to check a reply against its input, and (optionally) the in-graph twin of
the splitter for the export. A bundle names its domain in config.json (`"domain": "NAME"`);
a bundle trained on other pairs names none and gets `NullDomain`, which splits nothing and
checks nothing, so the model alone answers.

Domains are plugins: `domain_class` finds a name in `BUILTIN_DOMAINS` or in the
`keras_assistant.domains` entry-point group of installed packages ("module:Class") and
imports the module lazily; `load_domain` builds the domain from a bundle's files with
`Class.from_bundle(bundle_dir)`. The runtime never imports a domain module by name; the
warehouse (`assistant.domains.warehouse`) is loaded the same way.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from assistant.core import constants

ENTRY_POINT_GROUP = "keras_assistant.domains"
# name -> "module:Class" of a `Domain` subclass
BUILTIN_DOMAINS = {"warehouse": "assistant.domains.warehouse:WarehouseDomain",
                   "neighbours": "assistant.domains.neighbours:NeighbourDomain"}
NULL_DOMAIN = "none"  # config.json's "domain" of a bundle without one
LEGACY_DOMAIN_FILE = "faithfulness.json"  # a bundle without "domain" but with this: warehouse
# In a data directory: {"name": DOMAIN, "files": [...]}; training copies the files into the
# bundle and names the domain in config.json.
DOMAIN_MANIFEST = "domain.json"


class GraphSplitter(Protocol):
    """The in-graph twin of `Domain.split` and `Domain.order`, for the export.

    A `tf.Module` (so its lookup tables are saved with the export) that must split and
    rank exactly as the Python methods do.
    """

    def split(self, text: Any) -> Any:
        """ragged string (batch, None): each line's units (the line itself when unsplit)."""

    def ranks(self, units: Any) -> Any:
        """int32 (units,): the sort rank of each unit; ties keep input order."""


class GraphAnnotator(Protocol):
    """The in-graph twin of `Domain.model_text`, for the export: a `tf.Module` (its tables
    are saved with the export) that must write exactly what the Python method writes."""

    def annotate(self, text: Any) -> Any:
        """string (units,): the text the model reads for each unit."""

    def annotate_context(self, context: Any, text: Any) -> Any:
        """string (batch,): the text the model reads for each context, said before each
        text (`model_context`)."""


class Domain:
    """The domain interface, with the null behaviour as defaults.

    Subclasses override what their domain knows. Attributes:
        name: the name config.json gives.
        title: what the assistant answers, for CLI help and the chat banner.
        hint: one line telling the chat user what to type.
        runtime_options: which `RuntimeOptions` act for this domain ("rerank", "retry_beam"
            and "greedy_first" need `check`, "segment" needs `split`, "draft_below" needs
            `drafts`); surfaces show only these.
            The class states what the domain can do; an instance may narrow it to what its
            bundle's files allow.
        files: the bundle files the domain reads (the trainer copies them from the data
            directory into the bundle).
        score_names: the per-pair counters `score` returns, for evaluation tables.
    """

    name: str = NULL_DOMAIN
    title: str = "a sequence-to-sequence model trained on your own pairs"
    hint: str = "Type a text; the model answers it."
    runtime_options: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    score_names: tuple[str, ...] = ()

    @classmethod
    def from_bundle(cls, bundle_dir: Path | None) -> Domain:
        """The domain with the files of a bundle (None: without any).

        Raises:
            ValueError: one line: a file of the domain is not valid.
        """
        return cls()

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]], source_case: str = "keep") -> Domain:
        """The domain of a bundle built from its train pairs ((turn, target)) for a model of
        `source_case` (`ModelConfig.source_case`), for a domain that training derives from
        the data (`train.neighbours`); `save_files` writes it.

        Raises:
            ValueError: one line: this domain is not built from pairs.
        """
        raise ValueError(f"the {cls.name} domain is not built from train pairs")

    def save_files(self, directory: Path) -> None:
        """Writes the files `from_bundle` reads into a bundle directory (a domain built
        `from_pairs`; the others' files are copied from their data directory)."""

    @classmethod
    def register_training_commands(cls, subparsers) -> None:
        """Adds the domain's `python -m training` subcommands (e.g. its corpus builder)."""

    @property
    def checks(self) -> bool:
        """Whether `check` can flag anything (rerank and retry act only then)."""
        return "rerank" in self.runtime_options

    def split(self, text: str) -> list[str] | None:
        """The units of `text` to answer one at a time, or None to answer it whole."""
        return None

    def order(self, units: Sequence[str]) -> list[int]:
        """Indices of `units` (from `split`) in the order their answers are joined."""
        return list(range(len(units)))

    def reply_bound(self, text: str) -> str | None:
        """A text as long as a good reply to the unit `text` (an input, or a unit of
        `split`), or None when the domain cannot tell. With the rerank, the runtime limits
        the search of that unit to a margin over its pieces (`assistant.decoding.buckets.
        BOUND_MARGIN`), so hypotheses that ramble on after the good ones have ended do not
        keep a whole batch decoding up to the step budget."""
        return None

    def unreadable(self, text: str, context: str = "") -> str | None:
        """A flag for an input (or a unit of `split`) that the domain can tell, before
        anything is decoded, no reply could be right for (noise, a corrupted or cut-short
        record), or None to decode it. With the rerank, the runtime answers such a unit
        with `fallback` and this flag instead of decoding it; the model alone (rerank off)
        answers everything. `context` as in `check`."""
        return None

    def respell(self, text: str) -> str | None:
        """The input (or a unit of `split`) in the spelling the model was trained on, when
        the domain can tell what it says and it is spelled otherwise ("cv 7 e217 t=85" ->
        "CV07:E217 T=85"), or None. With the rerank, an input whose reply stays flagged after
        the retry is answered again in this spelling; that reply is kept when the check
        passes it against the input as typed. The model alone never sees it."""
        return None

    def judges(self, text: str) -> bool:
        """Whether `check` can tell a wrong reply to the unit `text` from a right one (the
        unit names what replies are checked against). With greedy-first only such units
        keep an unflagged greedy reply; the others get the beam's best (a greedy small-talk
        reply the check cannot fault is no better than the beam's)."""
        return True

    def model_text(self, text: str) -> str:
        """The text the model reads for a unit (an input, or a unit of `split`): the unit
        itself, or the unit with what the domain knows of it written after it, when the
        bundle's model was trained so (training writes its sources with the same method,
        and the export with `graph_annotator`). Checks, caches and replies see the unit as
        typed. The null domain reads every unit as it is."""
        return text

    def model_texts(self, texts: list[str]) -> list[str]:
        """`model_text` of many units at once (training reads its splits so), for a domain
        that is faster in batches."""
        return [self.model_text(text) for text in texts]

    def model_context(self, context: str, text: str) -> str:
        """The text the model reads for a follow-up's context, said before the unit `text`,
        as `model_text` for a unit (and `GraphAnnotator.annotate_context` in the export).
        The null domain reads it as it is."""
        return context

    def template(self, text: str) -> tuple[str, tuple[str, ...]] | None:
        """A unit (an input, or a unit of `split`) with its values taken out, and the
        values, when the reply to it depends on them only by copying them ("CV07:E217
        T=85" -> ("CV07:E217 T=#", ("85",))), or None. A slim reply cache answers a unit
        whose template it has seen with that reply, the values substituted and checked
        (`assistant.runtime.templates`)."""
        return None

    def check(self, source: str, reply: str, context: str = "") -> list[str]:
        """Short flags for what `reply` gets wrong about `source`; empty when nothing.

        `context` is the conversation's context the turn was said in (`remember`): the
        reply may be about what it names, as about what `source` names. The runtime passes
        it when there is one and the method takes it (`takes_context`): a domain written
        before contexts, with two arguments, still works and checks the turn alone.
        """
        return []

    def fallback(self, source: str, flags: Sequence[str], context: str = "") -> str | None:
        """The reply to give instead of a hypothesis the check flagged, when no hypothesis
        passed it (rerank on): a plain statement of what could not be read, or None to
        keep the best flagged hypothesis. The reply keeps its flags either way. `context`
        as in `check`."""
        return None

    def remember(self, context: str, text: str) -> str:
        """The context of a conversation after `text` was said in `context` (both may be
        empty): what the next turn's "it" may mean, in the form the domain's corpus writes
        contexts, so a model trained with context reads it as it learnt. Surfaces keep it
        (the chat per session, `convert` from a record's earlier message). The null domain
        remembers the last text as it is."""
        return text.strip() or context

    def refocus(self, context: str, text: str) -> str | None:
        """The context a flagged follow-up is answered once more in (rerank on): `context`
        narrowed to what `text` refers to in it, so the model reads only that, or "" to
        answer it alone when it refers to nothing there (a change of subject); None for no
        second try (the null domain never narrows)."""
        return None

    def spell_out(self, context: str, text: str) -> str | None:
        """The last try (rerank on) for a flagged follow-up that `refocus` leaves as it is:
        `text` written so that it needs no context (the question it asks, naming what it
        refers to in `context`), answered alone; None for no such try (the null domain)."""
        return None

    def drafts(self, texts: Sequence[str]) -> list[str | None]:
        """What the domain would answer each text with on its own, for a reply the model
        scores too low (`RuntimeOptions.draft_below`), or None (the null domain has none)."""
        return [None] * len(texts)

    def describe_context(self, context: str) -> str:
        """A few words saying what "it" means in `context`, for surfaces ("" for none)."""
        return context.strip()

    def graph_splitter(self) -> GraphSplitter | None:
        """The in-graph `split`/`order` for the export, or None (the export answers whole)."""
        return None

    def graph_annotator(self) -> GraphAnnotator | None:
        """The in-graph `model_text` and `model_context` for the export, or None (units and
        contexts are read as they are)."""
        return None

    def score(self, source: str, reference: str, reply: str) -> dict[str, int]:
        """Evaluation counters of one reply (0 or 1 each), named by `score_names`."""
        return {}


class NullDomain(Domain):
    """The domain of a bundle trained on other pairs: the model alone answers."""


@functools.lru_cache(maxsize=64)
def takes_context(method) -> bool:
    """Whether a domain's `check` or `fallback` (the function of its class) takes `context`."""
    try:
        return "context" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin or a C function: no signature to read
        return False


def domain_name(bundle_dir: str | Path) -> str:
    """The domain a bundle names in config.json, without loading anything else.

    A bundle written before config.json named domains is the warehouse's when it carries
    `LEGACY_DOMAIN_FILE`. A missing or unreadable config gives `NULL_DOMAIN` (the loader
    reports the real problem).
    """
    bundle = Path(bundle_dir)
    try:
        payload = json.loads((bundle / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return NULL_DOMAIN
    if isinstance(payload, dict) and "domain" in payload:
        return str(payload["domain"] or NULL_DOMAIN)
    return "warehouse" if (bundle / LEGACY_DOMAIN_FILE).is_file() else NULL_DOMAIN


def domain_class(name: str) -> type[Domain]:
    """The `Domain` subclass called `name` (`NullDomain` for `NULL_DOMAIN`).

    Raises:
        ValueError: one line: no domain has that name.
    """
    if name in (NULL_DOMAIN, ""):
        return NullDomain
    target = BUILTIN_DOMAINS.get(name) or _entry_point(name)
    if target is None:
        known = ", ".join(sorted({NULL_DOMAIN, *BUILTIN_DOMAINS, *_entry_point_names()}))
        raise ValueError(f"unknown domain {name!r} (known: {known})")
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_domain(name: str, bundle_dir: str | Path | None = None) -> Domain:
    """The domain called `name`, with its files from `bundle_dir` (None: without any).

    Raises:
        ValueError: one line: the name is unknown, or the domain's files are not valid.
    """
    return domain_class(name).from_bundle(None if bundle_dir is None else Path(bundle_dir))


def known_domains() -> list[str]:
    """The names of every domain installed (built in or from entry points)."""
    return sorted({*BUILTIN_DOMAINS, *_entry_point_names()})


def _entry_point(name: str) -> str | None:
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.value
    return None


def _entry_point_names() -> list[str]:
    return [entry.name for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]
