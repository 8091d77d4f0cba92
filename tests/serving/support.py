"""What the export tests share: inputs, the scripts a clean child process runs on an
export, and the Python reference of segmented replies."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys

from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.domains.warehouse import segment

TEXTS = [
    "CV07:E217 T=85",
    "  hello there, how are you today?\u3000",
    "x",
    "SN02:W301 N=12; CV1:E217",
    "\x00\x07 ctrl 😀 héllo",
]
BAD_TEXTS = ["", " \t\u00a0 ", "CV07:E217 " * MAX_SOURCE_PIECES, "CV07:E217"]
RECORD_ORDER = segment.RecordOrder({"SN:W301": 0, "CV:E217": 2}, default_rank=1)
SEGMENT_TEXTS = [
    "what does E217 mean?",  # a question: whole
    "CV07:E217 T=85",  # one record: whole
    "CV07:E217 T=85; SN02:W301 N=12",  # the second record ranks first
    "cv1:e217;PL33:E416 M=5 ; sn2 : w301",  # lower case; PL:E416 takes the default rank
    "CV07:E217 T=85;SN02:W301 N=12;AB12:X999;CV3:E217 T=40",  # equal ranks keep input order
    "CV07:E217 T=85; SN02:W301 N=12;",  # a trailing ";"
    "CV07:E217\u00a0T=85;\u2003SN02:W301,N=12\u3000",  # Unicode spaces are Python's \s
    "CV07:E217 T=85; hello",  # a malformed record: whole
    "CV07:E217;;SN02:W301",  # an empty record: whole
    "",  # empty: no reply
    " ; ",  # whole
    "CV07:E217;",  # one record and a trailing ";": whole
    "CV1:E217; CV2:E217; CV3:E217; CV4:E217; CV5:E217",  # more than MAX_RECORDS: whole
    "SN02:W301; CV07:E217" + " T=85" * MAX_SOURCE_PIECES,  # a record too long: no reply
]

# Runs in a fresh `python -I -S` process that sees the installed packages but not the project
# (site-packages is put on the path without running its .pth files, so the editable install
# of keras-assistant is not importable); prints JSON.
CHILD = r"""
import json, sys
job = json.loads(sys.argv[1])
sys.path.extend(job["site_packages"])
import tensorflow as tf
if job["text_ops"]:
    import tensorflow_text  # noqa: F401
try:
    import assistant  # noqa: F401
    project = True
except ImportError:
    project = False
module = tf.saved_model.load(job["export"])
out = {"project_importable": project, "tensorflow_text": "tensorflow_text" in sys.modules,
       "signatures": {}}
for name, function in module.signatures.items():
    inputs = function.structured_input_signature[1]
    out["signatures"][name] = {
        "inputs": {k: [v.dtype.name, v.shape.as_list()] for k, v in inputs.items()},
        "outputs": {k: [v.dtype.name, v.shape.as_list()]
                    for k, v in function.structured_outputs.items()},
    }

def plain(result):
    return {k: [x.decode("utf-8") if isinstance(x, bytes) else x for x in v.numpy().tolist()]
            for k, v in result.items()}

def call(name, **kwargs):
    try:
        return plain(module.signatures[name](**kwargs))
    except tf.errors.InvalidArgumentError as error:
        return {"error": error.message}

if job["text_ops"]:
    out["serve"] = call("serving_default", text=tf.constant(job["texts"]))
    out["bad"] = call("serving_default", text=tf.constant(job["bad"]))
    out["empty"] = call("serving_default", text=tf.constant([], tf.string))
    for key, (width, penalty, length) in job["generate"].items():
        out[key] = call("generate", text=tf.constant(job["texts"]),
                        beam_width=tf.constant(width), max_length=tf.constant(length),
                        length_penalty=tf.constant(penalty, tf.float32))
out["ids"] = call("generate_ids", ids=tf.constant(job["ids"], tf.int32))
out["ids_empty"] = call("generate_ids", ids=tf.zeros([0, 0], tf.int32))
print(json.dumps(out))
"""

GENERATE = {
    "beam2": (2, 0.0, 0),
    "short": (2, 0.0, 3),
    "too_wide": (3, 0.6, 0),
    "zero_wide": (0, 0.6, 0),
    "negative_penalty": (2, -1.0, 0),
}



# Loads an export in a fresh process and answers texts with serving_default; prints JSON.
SERVE_CHILD = r"""
import json, sys
job = json.loads(sys.argv[1])
sys.path.extend(job["site_packages"])
import tensorflow as tf
import tensorflow_text  # noqa: F401
result = tf.saved_model.load(job["export"]).signatures["serving_default"](
    text=tf.constant(job["texts"]))
print(json.dumps({"reply": [x.decode("utf-8") for x in result["reply"].numpy()],
                  "score": result["score"].numpy().tolist()}))
"""


def run_child(export_path, text_ops: bool, ids, texts=TEXTS) -> dict:
    job = {"export": str(export_path), "text_ops": text_ops, "texts": texts, "bad": BAD_TEXTS,
           "generate": GENERATE, "ids": ids}
    return run_script(CHILD, job, export_path)


def run_script(script: str, job: dict, cwd) -> dict:
    job = {**job, "site_packages": site.getsitepackages()}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
    process = subprocess.run([sys.executable, "-I", "-S", "-c", script, json.dumps(job)],
                             cwd=cwd, env=env, capture_output=True, text=True,
                             check=False, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def reference(assistant, texts, record_order, **options) -> tuple[list[str], list[float]]:
    """Replies and scores by the warehouse `segment` rules, in Python: the records of a
    line decoded as lines (flattened in place), ordered by `record_order` and joined."""
    units, plan = [], []
    for text in texts:
        records = segment.split_line(text)
        plan.append((records, len(units)))
        units.extend(records or [text])
    answers = assistant.reply_batch(units, rerank=False, segment=False, **options)
    replies, scores = [], []
    for records, start in plan:
        parts = answers[start : start + len(records or [None])]
        if any(part.error is not None for part in parts):
            replies.append("")
            scores.append(float("-inf"))
            continue
        order = record_order.order(records) if records else [0]
        replies.append(" ".join(parts[i].text for i in order if parts[i].text))
        scores.append(sum(parts[i].score for i in order))
    return replies, scores
