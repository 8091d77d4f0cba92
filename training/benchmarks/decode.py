"""`make bench-decode`: decoding latency and throughput at the reference size.

The reference model (vocab 2000, embedding 128, bi-GRU 2x128, decoder GRU 256) with seeded
random weights decodes 16-piece sources into exactly 17-piece outputs (the end token is
masked until then): batch-1 median latency and batch-64 sentences/s for greedy and beam 5,
the first-call (trace + XLA compile) time of a bucket, and achieved GFLOP/s against a float32
matmul peak measured in the same run. If keras-hub is installed (a benchmark-only extra:
`make bench-decode` installs it), its BeamSampler drives the same step function for
comparison.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

from assistant.core.quiet_tf import import_tensorflow

SOURCE_LEN = 16
OUTPUT_LEN = 17  # pieces per output, end token included


def main() -> None:
    args = _parse_args()
    tf = import_tensorflow()
    import keras

    from assistant.core import constants
    from assistant.core.binding import bind_model
    from assistant.core.config import ModelConfig
    from assistant.core.model import Seq2Seq
    from assistant.decoding import DecodingOptions
    from assistant.decoding.graphs import DecodingGraphs

    keras.utils.set_random_seed(0)
    config = ModelConfig()
    model = Seq2Seq(config)
    model.build()
    graphs = DecodingGraphs(functools.partial(bind_model, model))
    rng = np.random.default_rng(0)

    def source(batch):
        return rng.integers(constants.NUM_SPECIAL_IDS, config.vocab_size,
                            (batch, SOURCE_LEN)).astype(np.int32)

    fixed = {"min_length": OUTPUT_LEN, "max_length_a": OUTPUT_LEN, "max_length_b": 0.0}
    strategies = {
        "greedy": DecodingOptions(strategy="greedy", **fixed),
        "beam 5": DecodingOptions(strategy="beam", beam_width=5, **fixed),
    }
    peak = _matmul_peak(tf)
    print(f"reference model: {model.count_params():,} parameters; sources {SOURCE_LEN} pieces, "
          f"outputs {OUTPUT_LEN} pieces; float32 matmul peak {peak:.1f} GFLOP/s")
    for name, options in strategies.items():
        _benchmark_strategy(name, options, graphs, source, config, peak, args)
    if not args.no_keras_hub:
        _keras_hub_comparison(tf, model, source, args.batch)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="batch-1 calls per figure")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-keras-hub", action="store_true")
    return parser.parse_args()


def _benchmark_strategy(name, options, graphs, source, config, peak: float, args) -> None:
    """Prints one strategy's first-call time, batch-1 latency and batch throughput.

    Args:
        name: the strategy's label.
        options: its `DecodingOptions`.
        graphs: the `DecodingGraphs` of the reference model.
        source: `source(batch)` draws random source ids, shape (batch, SOURCE_LEN).
        config: the reference `ModelConfig`.
        peak: the measured float32 matmul peak, GFLOP/s.
        args: the parsed command line (--repeats, --batch).
    """
    started = time.perf_counter()
    result = graphs.run(source(1), options, OUTPUT_LEN)
    compile_seconds = time.perf_counter() - started
    assert int(result.lengths[0, 0]) == OUTPUT_LEN, result.lengths
    latencies = []
    for _ in range(args.repeats):
        batch = source(1)
        started = time.perf_counter()
        graphs.run(batch, options, OUTPUT_LEN)
        latencies.append(time.perf_counter() - started)
    big = source(args.batch)
    graphs.run(big, options, OUTPUT_LEN)  # compile the batch bucket
    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        graphs.run(big, options, OUTPUT_LEN)
    seconds = (time.perf_counter() - started) / rounds
    rows = args.batch * (options.beam_width if options.strategy == "beam" else 1)
    flops = rows * OUTPUT_LEN * _step_flops(config, SOURCE_LEN)
    print(f"{name:7s} batch 1: median {statistics.median(latencies) * 1000:.2f} ms "
          f"(p90 {np.percentile(latencies, 90) * 1000:.2f} ms); batch {args.batch}: "
          f"{args.batch / seconds:,.0f} sentences/s, {flops / seconds / 1e9:.1f} GFLOP/s "
          f"= {flops / seconds / 1e9 / peak:.0%} of peak; first call (trace + compile) "
          f"{compile_seconds:.2f} s")

def _step_flops(config, source_len: int) -> float:
    """Multiply-adds x 2 of one decoder step for one row (matmuls and attention)."""
    gates = 3 * config.decoder_units
    value_dim = 2 * config.encoder_units
    return 2.0 * (
        config.embedding_dim * gates  # embedding part of the gate inputs
        + config.decoder_units * (config.attention_units + gates)  # query and recurrence
        + value_dim * gates  # context part of the gate inputs
        + source_len * (2 * config.attention_units + value_dim)  # scores and context
        + (config.decoder_units + value_dim) * config.vocab_size  # output projection
    )


def _matmul_peak(tf) -> float:
    n = 1024
    a = tf.random.normal((n, n))
    matmul = tf.function(lambda x: tf.matmul(x, x), jit_compile=True)
    matmul(a).numpy()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(10):
            result = matmul(a)
        result.numpy()
        best = min(best, (time.perf_counter() - started) / 10)
    return 2 * n**3 / best / 1e9


def _keras_hub_comparison(tf, model, source, batch: int) -> None:
    try:
        import keras_hub
    except ImportError:
        print("keras-hub is not installed: no BeamSampler comparison")
        return
    from assistant.core import constants
    from assistant.core.binding import bind_model
    from assistant.core.model import Memory
    from assistant.decoding import DecodingOptions
    from assistant.decoding.graphs import DecodingGraphs

    sampler = keras_hub.samplers.BeamSampler(num_beams=5)

    def run(source_ids):
        memory, mask, state = model.encode(source_ids)
        weights = model.decoder.read_weights()
        rows = tf.shape(source_ids)[0]
        prompt = tf.concat([tf.fill((rows, 1), constants.BOS_ID),
                            tf.zeros((rows, OUTPUT_LEN), tf.int32)], axis=1)
        cache = {"h": state["h"], "values": memory.values, "keys": memory.keys, "mask": mask}

        def next_fn(prompt, cache, index):
            logits, new_state, _ = model.decode_step(
                prompt[:, index - 1], {"h": cache["h"]}, Memory(cache["values"], cache["keys"]),
                cache["mask"], weights=weights)
            return logits, None, {**cache, "h": new_state["h"]}

        return sampler(next_fn, prompt, cache=cache, index=1)

    # An unknown batch dimension: BeamSampler's loop widens the cache to batch x beams.
    compiled = tf.function(run, jit_compile=True,
                           input_signature=[tf.TensorSpec((None, SOURCE_LEN), tf.int32)])
    ours = DecodingGraphs(functools.partial(bind_model, model))
    options = DecodingOptions(strategy="beam", beam_width=5, min_length=OUTPUT_LEN,
                              max_length_a=OUTPUT_LEN, max_length_b=0.0)
    for rows in (1, batch):
        ids = source(rows)
        compiled(ids).numpy()
        ours.run(ids, options, OUTPUT_LEN)
        timings = {}
        calls = (("keras-hub BeamSampler", lambda ids=ids: compiled(ids).numpy()),
                 ("ours", lambda ids=ids: ours.run(ids, options, OUTPUT_LEN)))
        for name, call in calls:
            samples = []
            for _ in range(20 if rows == 1 else 3):
                started = time.perf_counter()
                call()
                samples.append(time.perf_counter() - started)
            timings[name] = statistics.median(samples)
        print(f"beam 5 batch {rows}: keras-hub BeamSampler (XLA) "
              f"{timings['keras-hub BeamSampler'] * 1000:.2f} ms, ours "
              f"{timings['ours'] * 1000:.2f} ms: ours is "
              f"{timings['keras-hub BeamSampler'] / timings['ours']:.2f}x as fast")


if __name__ == "__main__":
    main()
