"""`python -m training evaluate`: exact match, BLEU, chrF and the domain's counters per category.

It prints a table; the JSON report is written only where `--json` says (never into the
bundle by default: the shipped bundle's evaluation.json is what its model card quotes).
With `--export DIR`, the `serving_default` replies of a SavedModel of the bundle are scored
on the same pairs as one more setting (`training.export_replies`).

A pair whose source holds a context (`assistant.core.tokenizer.join_context`, the corpus's
follow-ups) is answered as a surface answers a turn in a conversation:
`reply_batch(turns, contexts=...)`, so a bundle that reads context reads it, and any bundle's
domain checks the reply against it; its category (e.g. "followup_refer") is reported like
any other.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sacrebleu

from assistant.cli.args import add_decoding_arguments, decoding_options, positive_int
from assistant.core.atomic_files import atomic_write_text
from assistant.core.tokenizer import split_context
from assistant.runtime.domain import Domain, NullDomain, domain_class, domain_name
from assistant.runtime.options import RUNTIME_OPTIONS, ReplyOptions
from training.data import Pair, read_pairs

ALL = "all"


@dataclasses.dataclass
class CategoryScores:
    """Metrics of one category (or of all pairs) under one decoding setting."""

    count: int
    exact_match: float  # fraction of replies equal to the reference
    bleu: float  # sacrebleu corpus BLEU, 0-100
    chrf: float  # sacrebleu corpus chrF, 0-100
    # The domain's counters (`Domain.score_names`), e.g. the warehouse's "hallucinated"
    # (a number or code found neither in the input nor the reference) and "dropped".
    counters: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the metrics and the domain's counters side by side."""
        values = dataclasses.asdict(self)
        counters = values.pop("counters")
        return {**values, **counters}


def score_replies(pairs: Sequence[Pair], replies: Sequence[str],
                  domain: Domain | None = None) -> dict[str, CategoryScores]:
    """Scores replies against the references, per category and for all pairs.

    Exact match, BLEU and chrF for every bundle; the domain adds its own counters
    (`Domain.score`), summed over the category's pairs.
    """
    domain = domain or NullDomain()
    groups: dict[str, list[int]] = defaultdict(list)
    for index, pair in enumerate(pairs):
        groups[pair.category or "uncategorised"].append(index)
        groups[ALL].append(index)
    results = {}
    for category, indices in sorted(groups.items(), key=lambda kv: (kv[0] == ALL, kv[0])):
        hypotheses = [replies[i] for i in indices]
        references = [pairs[i].target for i in indices]
        counters = dict.fromkeys(domain.score_names, 0)
        for i in indices:
            for name, value in domain.score(pairs[i].source, pairs[i].target, replies[i]).items():
                counters[name] += value
        results[category] = CategoryScores(
            count=len(indices),
            exact_match=float(
                np.mean([h == r for h, r in zip(hypotheses, references, strict=True)])
            ),
            bleu=sacrebleu.corpus_bleu(hypotheses, [references]).score,
            chrf=sacrebleu.corpus_chrf(hypotheses, [references]).score,
            counters=counters,
        )
    return results


def teacher_forced_accuracy(
    assistant, pairs: Sequence[Pair], batch_size: int = 64
) -> dict[str, float]:
    """Token accuracy with gold decoder inputs, per category and for all pairs."""
    import tensorflow as tf

    from training.bundle_files import model_pairs
    from training.data import encode_pairs, make_batches

    groups: dict[str, list[Pair]] = defaultdict(list)
    for pair in model_pairs(list(pairs), assistant.domain):
        groups[pair.category or "uncategorised"].append(pair)
    forward = tf.function(
        lambda s, t: assistant.model((s, t), training=False), reduce_retracing=True
    )
    correct_all = count_all = 0.0
    accuracy = {}
    for category, members in sorted(groups.items()):
        encoded = encode_pairs(members, assistant.tokenizer, 256, 512,
                               assistant.config.source_case)
        correct = count = 0.0
        for source, target_in, target_out in make_batches(encoded, batch_size, seed=None):
            predictions = np.argmax(forward(source, target_in).numpy(), axis=-1)
            mask = target_out != 0
            correct += float(((predictions == target_out) & mask).sum())
            count += float(mask.sum())
        accuracy[category] = correct / max(count, 1.0)
        correct_all += correct
        count_all += count
    accuracy[ALL] = correct_all / max(count_all, 1.0)
    return accuracy


def evaluate(
    model_dir: str | Path,
    data: str | Path,
    settings: dict[str, dict[str, Any]],
    limit: int | None = None,
    batch_size: int = 64,
    progress: Callable[[str], None] | None = None,
    export: str | Path | None = None,
) -> dict[str, Any]:
    """Decodes `data` with each named decoding setting and scores it.

    Args:
        limit: only the first `limit` pairs (None: all); at least 1.
        export: a SavedModel (`python -m assistant export`'s EXPORT_DIR or a version of it)
            whose `serving_default` replies are scored as one more setting, named
            `EXPORT_SETTING`, after `settings`, with the bundle's domain counters.

    Returns:
        A JSON-ready report: per setting, per category scores and seconds; teacher-forced
        token accuracy per category; and up to 20 wrong replies per setting.

    Raises:
        ValueError: `limit` is below 1, or (one line) the data, the bundle or the export
            cannot be read.
    """
    from assistant.runtime.assistant import Assistant
    from training.export_replies import EXPORT_SETTING, load_serving

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    pairs = read_pairs(data)[:limit]  # read before the model loads: a bad file fails fast
    serving = load_serving(export) if export is not None else None  # before the long decoding
    assistant = Assistant.load(model_dir)
    report: dict[str, Any] = {
        "model": str(model_dir),
        "data": str(data),
        "pairs": len(pairs),
        "domain": assistant.domain.name,
        "score_names": list(assistant.domain.score_names),
        "settings": {},
    }
    progress = progress or (lambda message: None)
    turns, contexts = _turns([p.source for p in pairs])
    for name, options in settings.items():
        progress(f"decoding {len(pairs)} inputs with {name} ...")
        started = time.perf_counter()
        results = assistant.reply_batch(turns, batch_size, contexts, **options)
        replies = [r.text if r.error is None else "" for r in results]
        report["settings"][name] = _setting_report(
            pairs, replies, options, time.perf_counter() - started, assistant.domain)
    if serving is not None:
        progress(f"answering {len(pairs)} inputs with {serving.path}'s serving_default ...")
        started = time.perf_counter()
        replies = _export_replies(serving, assistant, turns, contexts, batch_size)
        report["settings"][EXPORT_SETTING] = _setting_report(
            pairs, replies, {"export": str(serving.path)}, time.perf_counter() - started,
            assistant.domain)
    progress("teacher-forced accuracy ...")
    report["teacher_forced_accuracy"] = teacher_forced_accuracy(assistant, pairs, batch_size)
    return report


def render_table(report: dict[str, Any], console) -> None:
    """Prints the report as one rich table (rows: category x setting)."""
    from rich.table import Table

    table = Table(title=f"{report['model']} on {report['data']} ({report['pairs']} pairs)")
    counters = report.get("score_names", ["hallucinated", "dropped"])
    for column in ("category", "decoding", "n", "exact", "BLEU", "chrF", "teacher-forced acc",
                   *counters):
        table.add_column(column, justify="left" if column in ("category", "decoding") else "right")
    tf_accuracy = report["teacher_forced_accuracy"]
    categories = next(iter(report["settings"].values()))["scores"].keys()
    for category in categories:
        for name, setting in report["settings"].items():
            scores = setting["scores"][category]
            table.add_row(
                category,
                name,
                str(scores["count"]),
                f"{scores['exact_match']:.2%}",
                f"{scores['bleu']:.1f}",
                f"{scores['chrf']:.1f}",
                f"{tf_accuracy.get(category, float('nan')):.2%}",
                *(str(scores.get(name, "")) for name in counters),
            )
        table.add_section()
    console.print(table)


def register(subparsers) -> argparse.ArgumentParser:
    """Adds `evaluate` to the `python -m training` subcommands."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model bundle on a pairs file",
        description="Decode a pairs file with a model bundle and print exact match, BLEU, chrF, "
        "teacher-forced token accuracy and the bundle domain's counters (the warehouse: "
        "hallucinated and dropped numbers) per category; write the report as JSON.",
    )
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--data", required=True, help="pairs file (.jsonl with categories)")
    parser.add_argument(
        "--json", dest="json_out", metavar="PATH",
        help="also write the report as JSON to PATH (default: no file, the table only; "
        "`make evaluate-default` writes the shipped bundle's evaluation.json)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="evaluate greedy search and beam search on whole inputs, then add what the "
        "bundle's domain does (splitting lines, the rerank by its check, the wide-beam "
        "retry) one step at a time",
    )
    parser.add_argument(
        "--export", metavar="DIR",
        help="also score the serving_default replies of this SavedModel (the EXPORT_DIR of "
        "`python -m assistant export`, whose newest version is used, or a version "
        "directory) as the setting 'export serving_default'; an export decodes as the "
        "runtime does without the rerank",
    )
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="only the first N pairs (N >= 1)")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N")
    add_decoding_arguments(parser, RUNTIME_OPTIONS)
    parser.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from training.export_replies import export_version_dir

    console = Console(stderr=False, soft_wrap=True)
    out = _checked_json_out(args.json_out)
    if args.export is not None:
        export_version_dir(args.export)  # a missing export fails before the model loads
    options = decoding_options(args)  # unset options keep the bundle's defaults
    settings = {_setting_name(options): options}
    if args.compare:  # each step of the bundle's decoding added on top of the previous one
        settings = {}
        domain = domain_class(domain_name(args.model))
        for step in compare_ladder(domain.runtime_options):
            setting = {**options, **step}
            settings[_setting_name(setting)] = setting
    report = evaluate(
        args.model,
        args.data,
        settings,
        limit=args.limit,
        batch_size=args.batch_size,
        progress=lambda message: Console(stderr=True).print(message),
        export=args.export,
    )
    render_table(report, console)
    if out is not None:
        atomic_write_text(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        console.print(f"report written to {out}")
    return 0


def compare_ladder(runtime_options: tuple[str, ...]) -> list[dict[str, Any]]:
    """`--compare`'s settings: greedy and beam search on whole inputs, then what the runtime
    adds for the bundle's domain, one step at a time (splitting lines into units, the rerank
    by the domain's check, the wide-beam retry of flagged inputs, then greedy decoding first
    with the beam only for flagged inputs; the last step is the bundle's defaults when its
    config leaves these on). A domain that drafts (`draft_below`) gets every step without
    drafts, then the last one with the bundle's threshold."""
    drafts = "draft_below" in runtime_options
    runtime_options = tuple(name for name in runtime_options if name != "draft_below")
    ladder = _runtime_ladder(runtime_options)
    if drafts:
        ladder = [*({**step, "draft_below": None} for step in ladder), dict(ladder[-1])]
    return ladder


def _runtime_ladder(runtime_options: tuple[str, ...]) -> list[dict[str, Any]]:
    """`compare_ladder` but for drafts."""
    if not runtime_options:
        return [{"strategy": "greedy"}, {"strategy": "beam"}]
    split = "segment" in runtime_options
    ladder = [{"strategy": "greedy", "segment": False, "rerank": False},
              {"strategy": "beam", "segment": False, "rerank": False}]
    if split:
        ladder.append({"strategy": "beam", "segment": True, "rerank": False})
    if "rerank" in runtime_options:
        ladder.append({"strategy": "beam", "segment": split, "rerank": True, "retry_beam": 0,
                       "greedy_first": False})
        ladder.append({"strategy": "beam", "segment": split, "rerank": True,
                       "greedy_first": False})
        if "greedy_first" in runtime_options:
            ladder.append({"strategy": "beam", "segment": split, "rerank": True,
                           "greedy_first": True})
    return ladder


def _export_replies(serving, assistant, turns: Sequence[str],
                    contexts: Sequence[str | None], batch_size: int) -> list[str]:
    """The export's replies to `turns`, sent as the runtime sends them to the model (with
    their contexts only to an export that reads them, with the bundle's beam settings)."""
    decoding = ReplyOptions.resolve(assistant.defaults, {}).decoding
    return serving.replies(turns, batch_size, contexts, decoding.beam_width,
                           decoding.length_penalty)


def _turns(sources: Sequence[str]) -> tuple[list[str], list[str | None]]:
    """Each source's turn and context (None for a source without one, `split_context`)."""
    split = [split_context(source) for source in sources]
    return [turn for _, turn in split], [context for context, _ in split]


def _setting_report(pairs: Sequence[Pair], replies: Sequence[str], options: dict[str, Any],
                    seconds: float, domain: Domain) -> dict[str, Any]:
    """One setting of the report: its options, seconds, scores and first wrong replies."""
    errors = [
        {"source": p.source, "reference": p.target, "reply": reply, "category": p.category}
        for p, reply in zip(pairs, replies, strict=True)
        if reply != p.target
    ]
    return {
        "options": options,
        "seconds": seconds,
        "scores": {k: v.to_dict() for k, v in score_replies(pairs, replies, domain).items()},
        "errors": errors[:20],
    }


def _checked_json_out(text: str | None) -> Path | None:
    """`--json`'s path, refused before the model loads if the report could not be written.

    Raises:
        ValueError: one line naming the path and what to do.
    """
    if text is None:
        return None
    if not text.strip():
        raise ValueError(f"--json {text!r} is empty: give the report's file name, "
                         "e.g. --json evaluation.json")
    out = Path(text)
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory (give --json a file name)")
    parent = out.parent
    if not parent.exists():
        raise ValueError(f"cannot write {out}: {parent} does not exist (create it or "
                         "choose another --json)")
    if not parent.is_dir():
        raise ValueError(f"cannot write {out}: {parent} is not a directory (choose another "
                         "--json)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {out}: {parent} is not writable (fix its "
                         "permissions or choose another --json)")
    return out


def _setting_name(options: dict[str, Any]) -> str:
    """"greedy", "beam 5 lp 1.0", "sample" ...; "bundle defaults" for what the bundle sets."""
    if not options:
        return "bundle defaults"
    parts = [options.get("strategy", "beam")]
    if "beam_width" in options:
        parts.append(str(options["beam_width"]))
    if "length_penalty" in options:
        parts.append(f"lp {options['length_penalty']}")
    if options.get("segment") is False:
        parts.append("whole lines")
    if "rerank" in options:
        parts.append("rerank" if options["rerank"] else "no rerank")
    if "retry_beam" in options:
        parts.append(f"retry {options['retry_beam']}" if options["retry_beam"] else "no retry")
    if "greedy_first" in options:
        parts.append("greedy first" if options["greedy_first"] else "beam for all")
    if "draft_below" in options:
        below = options["draft_below"]
        parts.append("no drafts" if below is None else f"drafts below {below}")
    return " ".join(parts)
