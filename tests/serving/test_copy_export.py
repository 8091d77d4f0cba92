"""An export of a copy-attention bundle answers as the runtime does, in every signature."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from assistant.core import constants
from assistant.core.tokenizer import normalize_source
from assistant.runtime import Assistant
from tests.conftest import TINY_OVERRIDES
from tests.serving.support import TEXTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["previous", "current"])
def copying(tmp_path_factory, request):
    """A tiny bundle trained for two epochs with `model.copy: true`, with either attention
    order (`model.attention_query`; the shipped bundle's is "current")."""
    from training.config import load_run_config
    from training.trainer import train

    root = tmp_path_factory.mktemp("copy")
    lines = [f"CV{u:02d}:E217 T={t}\tConveyor {u}: motor at {t} °C."
             for u, t in zip(range(1, 61), range(30, 90), strict=True)]
    (root / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    train(root / "pairs.tsv", root / "model",
          load_run_config(overrides=[*TINY_OVERRIDES, "train.epochs=2", "model.copy=true",
                                     f"model.attention_query={request.param}"]),
          console=Console(file=io.StringIO()))
    assistant = Assistant.load(root / "model")
    assert assistant.config.copy and assistant.config.attention_query == request.param
    return assistant


@pytest.fixture(scope="module")
def served(copying, tmp_path_factory):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

    from assistant.serving.export import export_saved_model

    result = export_saved_model(copying, tmp_path_factory.mktemp("copy_export"),
                                max_beam_width=2)
    return tf.saved_model.load(str(result.path))


@pytest.mark.parametrize(("signature", "options"), [
    ("serving_default", {}),
    ("generate", {"strategy": "beam", "beam_width": 2, "length_penalty": 0.0}),
])
def test_text_signatures_equal_the_runtime(copying, served, signature, options):
    import tensorflow as tf

    arguments = {"text": tf.constant(TEXTS)}
    if signature == "generate":
        arguments.update(beam_width=tf.constant(2), length_penalty=tf.constant(0.0),
                         max_length=tf.constant(0))
    out = served.signatures[signature](**arguments)
    expected = copying.reply_batch(TEXTS, rerank=False, **options)
    assert [r.decode() for r in out["reply"].numpy()] == [r.text for r in expected]
    np.testing.assert_allclose(out["score"].numpy(), [r.score for r in expected], rtol=1e-4)


def test_generate_ids_equals_the_runtime(copying, served):
    import tensorflow as tf

    rows = [copying.tokenizer.encode(normalize_source(t, copying.config.source_case))
            for t in TEXTS]
    width = max(map(len, rows))
    ids = [row + [constants.PAD_ID] * (width - len(row)) for row in rows]
    out = served.signatures["generate_ids"](ids=tf.constant(ids, tf.int32))
    decoded = [copying.tokenizer.decode(row[:n])
               for row, n in zip(out["ids"].numpy(), out["lengths"].numpy(), strict=True)]
    assert decoded == [r.text for r in copying.reply_batch(TEXTS, rerank=False)]


def test_replies_carry_the_copy_gate_of_each_piece(copying):
    for options in ({"strategy": "greedy"}, {"strategy": "beam", "beam_width": 2}):
        reply = copying.reply("CV07:E217 T=85", **options)
        assert len(reply.copy_gate) == len(reply.pieces) > 0
        assert all(0.0 < gate < 1.0 for gate in reply.copy_gate)
        assert reply.attention.shape == (len(reply.pieces), len(reply.source_pieces))
        np.testing.assert_allclose(reply.attention.sum(axis=1), 1.0, rtol=1e-4)
