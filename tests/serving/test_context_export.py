"""An export of a bundle that reads context: `generate` takes each text's context, reloaded
in a clean process, and answers as the runtime does."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from assistant.core.binding import bind_model
from assistant.decoding.graphs import DecodingGraphs
from assistant.runtime import Assistant
from assistant.serving.export import export_options, export_saved_model, export_splitter
from tests.serving.support import run_script

pytestmark = pytest.mark.slow

TEXTS = ["how do I fix it?", "how do I fix it?", "CV07:E217 T=85; SN02:W301 N=12",
         "what does that mean?", ""]
CONTEXTS = ["CV07:E217 T=85", "", "E217", "  E217 ", "E217"]
GENERATE = {"beam_width": 1, "length_penalty": 0.0}

CHILD = r"""
import json, sys
job = json.loads(sys.argv[1])
sys.path.extend(job["site_packages"])
import tensorflow as tf
import tensorflow_text  # noqa: F401
module = tf.saved_model.load(job["export"])
generate = module.signatures["generate"]
out = generate(text=tf.constant(job["texts"]), context=tf.constant(job["contexts"]),
               beam_width=tf.constant(job["beam_width"]), max_length=tf.constant(0),
               length_penalty=tf.constant(job["length_penalty"], tf.float32))
print(json.dumps({"inputs": sorted(generate.structured_input_signature[1]),
                  "reply": [x.decode("utf-8") for x in out["reply"].numpy()],
                  "score": out["score"].numpy().tolist()}))
"""


@pytest.fixture(scope="module")
def runtime(context_bundle):
    """The bundle without XLA (as the export below): the two decode with the same kernels,
    and neither spends seconds compiling."""
    assistant = Assistant.load(context_bundle, cache_size=0)
    assistant._graphs = DecodingGraphs(functools.partial(bind_model, assistant.model),
                                       jit_compile=False)
    return assistant


def test_generate_reads_each_context_as_the_runtime_does(runtime, tmp_path):
    assert runtime.reads_context
    # the fewest graphs to trace: greedy serving_default, generate of beam width 1
    options = export_options(runtime.defaults, {"strategy": "greedy"})
    result = export_saved_model(runtime, tmp_path / "served", options, jit_compile=False,
                                max_beam_width=1, splitter=export_splitter(runtime))
    served = run_script(CHILD, {"export": str(result.path), "texts": TEXTS,
                                "contexts": CONTEXTS, **GENERATE}, tmp_path)
    assert served["inputs"] == ["beam_width", "context", "length_penalty", "max_length", "text"]
    expected = runtime.reply_batch(TEXTS, contexts=CONTEXTS, strategy="beam", rerank=False,
                                   **GENERATE)
    assert served["reply"] == [reply.text for reply in expected]
    assert expected[-1].error == "empty input" and served["score"][-1] == float("-inf")
    np.testing.assert_allclose(served["score"][:-1], [r.score for r in expected[:-1]],
                               rtol=1e-5)
    assert expected[0].text != expected[1].text  # the context changed the reply
