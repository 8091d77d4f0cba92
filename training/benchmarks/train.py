"""`make bench-train`: real target tokens per second of training at the reference size.

Trains the reference-size model (vocab 2000, embedding 128, bi-GRU 2x128, decoder GRU 256)
at batch 64 on length-bucketed batches, in the training precision unless --precision says
otherwise, and counts only real (non-padding) target tokens, EOS included. Data: a pairs
file (--data) tokenized with a tokenizer trained on it, or by default synthetic id sequences
with the corpus' length profile.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assistant.core.quiet_tf import import_tensorflow
from training.config import PRECISIONS, TrainConfig


def main() -> None:
    args = _parse_args()
    import_tensorflow()
    import keras

    from assistant.core.config import ModelConfig
    from training.data import make_batches
    from training.schedules import WarmupSchedule
    from training.steps import TrainSteps
    from training.trainer import build_model

    keras.utils.set_random_seed(0)
    data, vocab = _benchmark_data(args)
    model = build_model(ModelConfig(vocab_size=vocab), args.precision)
    optimizer = keras.optimizers.Adam(WarmupSchedule(1e-3, 100, "inverse_sqrt"), clipnorm=1.0)
    steps = TrainSteps(model, optimizer, label_smoothing=0.1)
    if args.no_bucketing:
        batches = make_batches(data, args.batch_size, seed=0, bucket_width=10_000)
    else:
        batches = make_batches(data, args.batch_size, seed=0)
    warmup, timed = batches[:5], batches[5 : 5 + args.batches]
    for batch in warmup:
        steps.train(*batch)
    real, padded, seconds = _time_batches(steps, timed)
    print(
        f"model: {model.count_params():,} parameters, vocab {vocab}, batch {args.batch_size}, "
        f"{'no bucketing' if args.no_bucketing else 'length bucketing'}, {args.precision}"
    )
    print(
        f"timed {len(timed)} batches: {real:,.0f} real target tokens "
        f"({real / padded:.0%} of padded) in {seconds:.2f} s"
    )
    print(f"train throughput: {real / seconds:,.0f} real target tokens/s (goal >= 12,000)")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="pairs file (.tsv/.jsonl); default: synthetic ids")
    parser.add_argument("--batches", type=int, default=60, help="timed batches")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=TrainConfig().precision,
        help="Keras dtype policy (default: the training default, %(default)s)",
    )
    parser.add_argument(
        "--no-bucketing",
        action="store_true",
        help="random batches (padding to the longest of random pairs)",
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


def _time_batches(steps, timed) -> tuple[float, int, float]:
    """Runs the train step on each timed batch.

    Returns:
        (real target tokens, padded target tokens, seconds).
    """
    padded = real = 0
    started = time.perf_counter()
    for source, target_in, target_out in timed:
        loss, _, count = steps.train(source, target_in, target_out)
        real += float(count)
        padded += target_out.size
    float(loss)
    seconds = time.perf_counter() - started
    return real, padded, seconds


if __name__ == "__main__":
    main()
