"""`make bench-train`: real target tokens per second of training, today's path and XLA's.

Trains the reference-size model (vocab 2000, embedding 128, bi-GRU 2x128, decoder GRU 256)
at batch 64 twice from the same initial weights on the same length-bucketed batches, in the
training precision unless --precision says otherwise: once with the train step as a plain
`tf.function` on batches padded to their own longest pair (`train.xla=false`), once
XLA-compiled on batches padded to `TrainConfig.pad_lengths` (`train.xla=true`, the
default). It counts only real (non-padding) target tokens, EOS included, and prints both
throughputs (with and without the one-off compiles), their ratio, and both loss curves.
Data: a pairs file (--data) tokenized with a tokenizer trained on it, or by default
synthetic id sequences with the corpus' length profile.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from assistant.core.quiet_tf import import_tensorflow
from training.config import PRECISIONS, TrainConfig


@dataclasses.dataclass
class PathRun:
    """What training one path printed: per-step losses and times, tokens, shapes."""

    name: str
    losses: list[float]
    seconds: list[float]
    real: list[float]
    padded: int
    first_of_shape: list[bool]  # the step compiled (first batch of its shape)

    def rate(self, steady: bool) -> float:
        keep = [not first for first in self.first_of_shape] if steady else [True] * len(self.real)
        tokens = sum(r for r, k in zip(self.real, keep, strict=True) if k)
        seconds = sum(s for s, k in zip(self.seconds, keep, strict=True) if k)
        return tokens / seconds if seconds else 0.0


def main() -> None:
    args = _parse_args()
    import_tensorflow()
    data, vocab = _benchmark_data(args)
    runs = [_train_path(data, vocab, args, xla=False), _train_path(data, vocab, args, xla=True)]
    print(f"vocab {vocab}, batch {args.batch_size}, {args.batches} batches, {args.precision}")
    for run in runs:
        shapes = sum(run.first_of_shape)
        print(f"{run.name}: {run.rate(steady=False):,.0f} real target tokens/s with compiles "
              f"({sum(run.seconds):.1f} s, {shapes} batch shapes), {run.rate(steady=True):,.0f} "
              f"without; {sum(run.real) / run.padded:.0%} of padded tokens are real")
    ratio = runs[1].rate(steady=False) / runs[0].rate(steady=False)
    steady = runs[1].rate(steady=True) / runs[0].rate(steady=True)
    print(f"XLA / today: {ratio:.2f}x with compiles, {steady:.2f}x without (goal >= 1.5x)")
    _print_losses(runs)


def _train_path(data, vocab: int, args: argparse.Namespace, xla: bool) -> PathRun:
    import keras

    from assistant.core.config import ModelConfig
    from training.data import make_batches
    from training.schedules import WarmupSchedule
    from training.steps import TrainSteps
    from training.trainer import build_model

    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(vocab_size=vocab), args.precision)
    optimizer = keras.optimizers.Adam(WarmupSchedule(1e-3, 100, "inverse_sqrt"), clipnorm=1.0)
    steps = TrainSteps(model, optimizer, label_smoothing=0.1, jit_compile=xla)
    pad_lengths = TrainConfig().pad_lengths if xla else None
    batches = make_batches(data, args.batch_size, seed=0, pad_lengths=pad_lengths)
    run = PathRun("XLA, fixed padded lengths" if xla else "today (tf.function, own length)",
                  [], [], [], 0, [])
    seen = set()
    for source, target_in, target_out in batches[: args.batches]:
        started = time.perf_counter()
        loss, _, count = steps.train(source, target_in, target_out)
        run.losses.append(float(loss))  # waits for the step
        run.seconds.append(time.perf_counter() - started)
        run.real.append(float(count))
        run.padded += target_out.size
        run.first_of_shape.append((source.shape, target_in.shape) not in seen)
        seen.add((source.shape, target_in.shape))
    return run


def _print_losses(runs: list[PathRun]) -> None:
    every = max(1, len(runs[0].losses) // 10)
    print("step  " + "  ".join(f"{run.name[:30]:>30}" for run in runs))
    for step in range(0, len(runs[0].losses), every):
        print(f"{step + 1:>4}  " + "  ".join(f"{run.losses[step]:>30.4f}" for run in runs))
    worst = max(abs(a - b) for a, b in zip(runs[0].losses, runs[1].losses, strict=True))
    print(f"largest loss difference over {len(runs[0].losses)} steps: {worst:.4f}")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="pairs file (.tsv/.jsonl); default: synthetic ids")
    parser.add_argument("--batches", type=int, default=200, help="batches per path")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=TrainConfig().precision,
        help="Keras dtype policy (default: the training default, %(default)s)",
    )
    return parser.parse_args()


def _benchmark_data(args: argparse.Namespace):
    """The encoded pairs to time and their vocabulary size: `--data` tokenized with a
    tokenizer trained on it, or synthetic ids with the corpus' length profile.

    Returns:
        (EncodedPairs, vocabulary size).
    """
    from training.data import EncodedPairs, encode_pairs, read_pairs
    from training.tokenizer_training import TokenizerConfig, train_tokenizer

    if args.data:
        pairs = read_pairs(args.data)
        tokenizer = train_tokenizer(
            [p.source for p in pairs] + [p.target for p in pairs], TokenizerConfig(vocab_size=2000)
        )
        return encode_pairs(pairs, tokenizer, 128, 160), tokenizer.vocab_size
    rng = np.random.default_rng(0)
    count = args.batch_size * (args.batches + 10)
    data = EncodedPairs(
        [rng.integers(4, 2000, rng.integers(6, 30)).astype(np.int32) for _ in range(count)],
        [rng.integers(4, 2000, rng.integers(12, 50)).astype(np.int32) for _ in range(count)],
        0,
    )
    return data, 2000


if __name__ == "__main__":
    main()
