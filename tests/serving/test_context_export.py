"""An export of a bundle that reads context: `generate` takes each text's context, reloaded
in a clean process, and answers as the runtime does."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest

from assistant.core.binding import bind_model
from assistant.core.tokenizer import model_source
from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.decoding.graphs import DecodingGraphs
from assistant.domains.warehouse import hints
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


HINTS = hints.CatalogHints(
    equipment={"E217": ("CV",), "W301": ("SN",), "E416": ("PL",)},
    params={"E217": ("T",), "W301": ("N",), "E416": ()},
    names={"CV": ("conveyor", "belt"), "SN": ("sorter",), "PL": ("palletizer",)},
    meanings={"E217": "motor over-temperature"}, contexts=True)
LONG_CONTEXT = "; ".join(f"CV{unit:02d}:E217 T={unit}" for unit in range(1, 17))
HINTED_TEXTS = ["how do I fix it?", "and the sorter?", "what does that mean?", "fix?",
                "how do I fix it?", "CV07:E217 T=85"]
HINTED_CONTEXTS = ["CV07:E217 T=85; SN02:W301 N=12", "CV07:E217 T=85; SN02:W301 N=12 >> E217",
                   "E217", "PL03:E416 >> SN02:W301", LONG_CONTEXT, "hello"]


@pytest.fixture(scope="module")
def hinted_runtime(context_bundle, tmp_path_factory):
    """The context bundle with `HINTS` (as if trained with context hints), without XLA."""
    root = tmp_path_factory.mktemp("context_hinted") / "model"
    shutil.copytree(context_bundle, root)
    (root / hints.HINTS_FILE).write_text(json.dumps(HINTS.to_json()), encoding="utf-8")
    assistant = Assistant.load(root, cache_size=0)
    assistant._graphs = DecodingGraphs(functools.partial(bind_model, assistant.model),
                                       jit_compile=False)
    return assistant


def test_the_runtime_reads_a_context_with_its_hints(hinted_runtime, runtime):
    tokenizer = hinted_runtime.tokenizer
    reply = hinted_runtime.reply("fix?", context="E217", rerank=False)
    read = "E217 § IT E217 motor over-temperature: CV <CTX> fix?"
    assert reply.source_pieces == tuple(tokenizer.ids_to_pieces(tokenizer.encode(read)))
    assert reply.source_pieces != runtime.reply("fix?", context="E217",
                                                rerank=False).source_pieces
    # a context too long to read with its hints is read as typed, not refused
    case = hinted_runtime.config.source_case
    annotated = model_source("fix?", HINTS.annotate_context(LONG_CONTEXT, "fix?"), case)
    assert len(tokenizer.encode(annotated)) > MAX_SOURCE_PIECES
    plain = model_source("fix?", LONG_CONTEXT, case)
    assert len(tokenizer.encode(plain)) <= MAX_SOURCE_PIECES
    long = hinted_runtime.reply("fix?", context=LONG_CONTEXT, rerank=False)
    assert long.error is None
    assert long.source_pieces == tuple(tokenizer.ids_to_pieces(tokenizer.encode(plain)))


def test_generate_reads_each_context_with_its_hints_as_the_runtime(hinted_runtime, tmp_path):
    options = export_options(hinted_runtime.defaults, {"strategy": "greedy"})
    result = export_saved_model(hinted_runtime, tmp_path / "served", options,
                                jit_compile=False, max_beam_width=1,
                                splitter=export_splitter(hinted_runtime))
    served = run_script(CHILD, {"export": str(result.path), "texts": HINTED_TEXTS,
                                "contexts": HINTED_CONTEXTS, **GENERATE}, tmp_path)
    expected = hinted_runtime.reply_batch(HINTED_TEXTS, contexts=HINTED_CONTEXTS,
                                          strategy="beam", rerank=False, **GENERATE)
    assert served["reply"] == [reply.text for reply in expected]
    np.testing.assert_allclose(served["score"], [r.score for r in expected], rtol=1e-5)
