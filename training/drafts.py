"""Choosing a bundle's `draft_below` on its validation split (`RuntimeOptions.draft_below`).

A bundle whose domain drafts (`Domain.drafts`; a neighbours bundle, `train.neighbours`)
can answer the replies its model scores low with the draft instead: the nearest train
pair's target. Where to draw the line is chosen on the validation split: among the
thresholds at up to `CANDIDATES` quantiles of the model's scores, the one whose mixed
replies have the highest corpus chrF, with no fewer exact replies than the model's own
(retrieval's draft is rarely exact, so a line drawn too high trades exact replies for
near ones); none when no threshold raises chrF. `python -m training train` runs it at the
end of a neighbours run; `python -m training calibrate-drafts` runs it on any bundle.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sacrebleu

from assistant.core import constants
from assistant.core.atomic_files import atomic_write_text

CANDIDATES = 100  # thresholds tried: quantiles of the validation scores


@dataclasses.dataclass(frozen=True)
class Choice:
    """A threshold and what it did on the pairs it was chosen on."""

    draft_below: float | None  # None: the model's replies always
    pairs: int
    drafted: int  # replies answered with the draft (scored below it, with a draft)
    model_chrf: float
    chrf: float
    model_exact: int
    exact: int

    def describe(self) -> str:
        if self.draft_below is None:
            return (f"draft_below: off (no threshold raises validation chrF {self.model_chrf:.1f}"
                    f" on {self.pairs} pairs)")
        return (f"draft_below: {self.draft_below:.4f} ({self.drafted} of {self.pairs} "
                f"validation replies drafted: chrF {self.model_chrf:.1f} -> {self.chrf:.1f}, "
                f"exact {self.model_exact} -> {self.exact})")


def choose(replies: Sequence[str], scores: Sequence[float], drafts: Sequence[str | None],
           targets: Sequence[str]) -> Choice:
    """The threshold (see the module docstring) for replies with their scores, each input's
    draft (None: none) and the references."""
    scores = np.asarray(scores, np.float64)
    if not len(replies):
        return Choice(None, 0, 0, 0.0, 0.0, 0, 0)
    model_chrf = _chrf(replies, targets)
    model_exact = _exact(replies, targets)
    best = Choice(None, len(replies), 0, model_chrf, model_chrf, model_exact, model_exact)
    finite = scores[np.isfinite(scores)]
    if not len(finite):
        return best
    # float32 thresholds: the runtime and the export compare float32 scores with them
    candidates = np.unique(np.quantile(finite, np.linspace(0, 1, CANDIDATES)).astype(np.float32))
    for below in candidates:
        mixed = [draft if draft is not None and score < below else reply
                 for reply, score, draft in zip(replies, scores, drafts, strict=True)]
        chrf, exact = _chrf(mixed, targets), _exact(mixed, targets)
        if chrf > best.chrf and exact >= model_exact:
            drafted = sum(draft is not None and score < below
                          for score, draft in zip(scores, drafts, strict=True))
            best = Choice(float(below), len(replies), drafted, model_chrf, chrf, model_exact,
                          exact)
    return best


def calibrate(bundle_dir: str | Path, pairs, batch_size: int = 64) -> Choice | None:
    """Chooses the bundle's `draft_below` on `pairs` (`training.data.Pair`s) and writes it
    into its config.json ("decoding"); None (nothing written) when its domain drafts
    nothing."""
    from assistant.runtime.assistant import Assistant

    assistant = Assistant.load(bundle_dir, cache_size=0)
    if "draft_below" not in assistant.domain.runtime_options:
        return None
    sources = [pair.source for pair in pairs]
    answered = assistant.reply_batch(sources, batch_size, draft_below=None)
    kept = [i for i, reply in enumerate(answered) if reply.error is None]
    drafts = assistant.domain.drafts([sources[i] for i in kept])
    choice = choose([answered[i].text for i in kept], [answered[i].score for i in kept],
                    drafts, [pairs[i].target for i in kept])
    path = Path(bundle_dir) / constants.CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8"))
    config.setdefault("decoding", {})["draft_below"] = choice.draft_below
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return choice


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate-drafts", help="choose a neighbours bundle's draft_below on validation pairs",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the bundle directory")
    parser.add_argument("--data", required=True, type=Path,
                        help="validation pairs (.jsonl or .tsv), e.g. the data's valid.jsonl")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from training.data import read_pairs

    choice = calibrate(args.model, read_pairs(args.data))
    if choice is None:
        print(f"{args.model}: its domain has no drafts; config.json unchanged")
        return 0
    print(f"{args.model}: {choice.describe()}")
    return 0


def _chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    return sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score


def _exact(hypotheses: Sequence[str], references: Sequence[str]) -> int:
    return sum(h == r for h, r in zip(hypotheses, references, strict=True))
