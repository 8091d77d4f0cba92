"""Checks and times a SavedModel export against the Python runtime.

    python -m training.benchmarks.export --compare [--data /tmp/corpus/test.jsonl]
    python -m training.benchmarks.export --speed

`--compare` exports the bundle twice (beam search with the bundle's defaults, and greedy),
answers every source of the test split with `Assistant.reply_batch` and with the export's
signatures in a fresh `python -I` process that cannot import this project, and prints the
share of equal replies: `serving_default` on the whole split in one call, one line per call,
`generate` with the default settings, and `generate_ids` (ids decoded here). Both sides use
the export's settings: no rerank, and record segmentation as the export does it (the
bundle's default, or `--segment/--no-segment`); `generate_ids`, which decodes whole lines,
is compared with the runtime decoding whole lines.

`--speed` prints, for a fresh process: the TensorFlow import, the SavedModel load and the
first answer; then the median batch-1 latency of the export and of the in-process runtime on
the same lines (every bucket compiled first).
"""

from __future__ import annotations

import argparse
import json
import os
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs in a fresh `python -I -S` process: TensorFlow and tensorflow-text only (site-packages
# is put on the path without its .pth files, so an editable install of the project is hidden).
_CHILD = r"""
import json, sys, time
started = time.perf_counter()
job = json.load(open(sys.argv[1]))
sys.path.extend(job["site_packages"])
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
imported = time.perf_counter()
try:
    import assistant  # noqa: F401
    sys.exit("the project is importable in the child process")
except ImportError:
    pass
module = tf.saved_model.load(job["export"])
loaded = time.perf_counter()
serve = module.signatures["serving_default"]
texts = job["texts"]
first = serve(text=tf.constant(texts[:1]))
answered = time.perf_counter()
out = {"import": imported - started, "load": loaded - imported, "first": answered - loaded}

def strings(tensor):
    return [x.decode("utf-8") for x in tensor.numpy()]

if job["mode"] == "compare":
    whole = serve(text=tf.constant(texts))
    out["whole"] = strings(whole["reply"])
    out["whole_scores"] = whole["score"].numpy().tolist()
    out["single"] = [strings(serve(text=tf.constant([t]))["reply"])[0] for t in texts]
    if job.get("generate"):
        generated = module.signatures["generate"](
            text=tf.constant(texts), beam_width=tf.constant(job["generate"]["beam_width"]),
            length_penalty=tf.constant(job["generate"]["length_penalty"], tf.float32),
            max_length=tf.constant(0))
        out["generate"] = strings(generated["reply"])
    ids = tf.ragged.constant(job["ids"], dtype=tf.int32).to_tensor()
    result = module.signatures["generate_ids"](ids=ids)
    out["ids"] = [row[:n] for row, n in zip(result["ids"].numpy().tolist(),
                                            result["lengths"].numpy().tolist())]
else:
    for text in job["warm"]:
        serve(text=tf.constant([text]))
    latencies = []
    for text in texts:
        begin = time.perf_counter()
        serve(text=tf.constant([text]))
        latencies.append(time.perf_counter() - begin)
    out["latencies"] = latencies
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--compare", action="store_true", help="replies: export vs runtime")
    mode.add_argument("--speed", action="store_true", help="load, first answer and latency")
    parser.add_argument("--model", type=Path, default=Path("saved_models/warehouse"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/corpus/test.jsonl"),
                        help="JSONL with 'source' fields (python -m training build-corpus)")
    parser.add_argument("--limit", type=int, default=0, help="first N lines only (0: all)")
    parser.add_argument("--repeats", type=int, default=100, help="--speed: lines timed")
    parser.add_argument("--no-xla", dest="jit_compile", action="store_false")
    parser.add_argument("--segment", action=argparse.BooleanOptionalAction, default=None,
                        help="answer multi-record lines record by record (default: the "
                             "bundle's, as `python -m assistant export`)")
    args = parser.parse_args()

    from assistant.core.quiet_tf import import_tensorflow

    import_tensorflow()
    from assistant.runtime.assistant import Assistant
    from assistant.serving.export import export_splitter

    assistant = Assistant.load(args.model)
    segmented = export_splitter(assistant, args.segment) is not None
    sources = [json.loads(line)["source"] for line in args.data.read_text("utf-8").splitlines()
               if line.strip()]
    if args.limit:
        sources = sources[: args.limit]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        if args.compare:
            _compare(assistant, sources, Path(tmp), args.jit_compile, segmented)
        else:
            _speed(assistant, sources[: args.repeats], Path(tmp), args.jit_compile, segmented)


def _compare(assistant, sources: list[str], tmp: Path, jit_compile: bool,
             segmented: bool) -> None:
    from assistant.core.tokenizer import normalize_source
    from assistant.serving.export import export_options, export_saved_model, export_splitter

    defaults = assistant.defaults
    settings = {
        f"beam {defaults.get('beam_width', 5)}": {},
        "greedy": {"strategy": "greedy"},
    }
    ids = [assistant.tokenizer.encode(normalize_source(assistant.domain.model_text(text),
                                                       assistant.config.source_case))
           for text in sources]  # what the runtime encodes (with a bundle's catalog hints)
    print(f"{len(sources)} lines; model {assistant.name}; defaults {defaults}; records "
          f"{'segmented' if segmented else 'not segmented'}")
    for name, overrides in settings.items():
        options = export_options(defaults, overrides)
        export = export_saved_model(assistant, tmp / name.replace(" ", "_"), options,
                                    jit_compile=jit_compile,
                                    splitter=export_splitter(assistant, segmented))
        started = time.perf_counter()
        expected = assistant.reply_batch(sources, **overrides, rerank=False,
                                         segment=segmented)  # as exported
        runtime_seconds = time.perf_counter() - started
        whole = expected
        if segmented:  # generate_ids decodes whole lines
            whole = assistant.reply_batch(sources, **overrides, rerank=False, segment=False)
        job = {"mode": "compare", "export": str(export.path), "texts": sources, "ids": ids}
        if options.strategy == "beam":
            job["generate"] = {"beam_width": options.beam_width,
                               "length_penalty": options.length_penalty}
        started = time.perf_counter()
        got = _run_child(job, tmp)
        child_seconds = time.perf_counter() - started
        texts = [reply.text for reply in expected]
        print(f"{name}: runtime {runtime_seconds:.1f} s, export process {child_seconds:.1f} s")
        _report("serving_default, whole split in one call", texts, got["whole"])
        _report("serving_default, one line per call", texts, got["single"])
        if "generate" in got:
            _report(f"generate(beam_width={options.beam_width}, "
                    f"length_penalty={options.length_penalty}, max_length=0)",
                    texts, got["generate"])
        _report("generate_ids (decoded with tokenizer.py; runtime without segmentation)"
                if segmented else "generate_ids (decoded with tokenizer.py)",
                [reply.text for reply in whole],
                [assistant.tokenizer.decode(row) for row in got["ids"]])
        scores = [(r.score, s) for r, s in zip(expected, got["whole_scores"], strict=True)
                  if r.error is None]
        worst = max((abs(a - b) for a, b in scores), default=0.0)
        print(f"  largest score difference (whole split): {worst:.3g}")


def _speed(assistant, lines: list[str], tmp: Path, jit_compile: bool, segmented: bool) -> None:
    from assistant.serving.export import export_saved_model, export_splitter

    export = export_saved_model(assistant, tmp / "export", jit_compile=jit_compile,
                                splitter=export_splitter(assistant, segmented))
    warm = _bucket_representatives(assistant, lines)
    got = _run_child({"mode": "speed", "export": str(export.path), "texts": lines,
                      "warm": warm}, tmp)
    print(f"export ({'XLA' if jit_compile else 'no XLA'}), fresh process: import TensorFlow "
          f"{got['import']:.2f} s, load {got['load']:.2f} s, first answer {got['first']:.2f} s "
          f"(load + first answer {got['load'] + got['first']:.2f} s)")
    for text in warm:
        assistant.reply(text, segment=segmented)
    runtime = []
    for text in lines:
        started = time.perf_counter()
        assistant.reply(text, segment=segmented)
        runtime.append(time.perf_counter() - started)
    exported = statistics.median(got["latencies"]) * 1000
    in_process = statistics.median(runtime) * 1000
    print(f"batch 1, {assistant.defaults.get('strategy')} {assistant.defaults.get('beam_width')}"
          f", {len(lines)} lines: export median {exported:.1f} ms, runtime median "
          f"{in_process:.1f} ms (ratio {exported / in_process:.2f})")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _bucket_representatives(assistant, lines: list[str]) -> list[str]:
    """One line per source bucket among `lines`, so timing starts with every bucket compiled."""
    from assistant.runtime.assistant import SOURCE_BUCKETS

    chosen = {}
    for text in lines:
        pieces = len(assistant.tokenizer.encode(text.strip()))
        bucket = next((b for b in SOURCE_BUCKETS if b >= pieces), None)
        chosen.setdefault(bucket, text)
    return [text for bucket, text in chosen.items() if bucket is not None]


def _run_child(job: dict, tmp: Path) -> dict:
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps({**job, "site_packages": site.getsitepackages()}), "utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    process = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD, str(job_file)], cwd=tmp,
                             env=env, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        sys.exit(f"export process failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def _report(name: str, expected: list[str], got: list[str]) -> None:
    equal = sum(a == b for a, b in zip(expected, got, strict=True))
    print(f"  {name}: {equal}/{len(expected)} equal ({100 * equal / len(expected):.2f}%)")
    for a, b in [(a, b) for a, b in zip(expected, got, strict=True) if a != b][:3]:
        print(f"    runtime: {a!r}\n    export:  {b!r}")


if __name__ == "__main__":
    main()
