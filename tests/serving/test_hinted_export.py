"""Exports of a bundle trained with catalog hints read each record with its hint, as the
runtime does (`Domain.model_text`, `Domain.graph_annotator`)."""

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from assistant.cli.main import main
from assistant.domains.warehouse import hints
from assistant.runtime import Assistant
from tests.serving.support import SEGMENT_TEXTS, run_child

pytestmark = pytest.mark.slow

HINTS = hints.CatalogHints(
    equipment={"E217": ("CV",), "W301": ("SN",), "E416": ("PL",)},
    params={"E217": ("T",), "W301": ("N",), "E416": ()},
    names={"CV": ("conveyor", "belt"), "SN": ("sorter",), "PL": ("palletizer",)})
TEXTS = [*SEGMENT_TEXTS, "PL33:E217 T=85", "XY12:E217", "CV07:X999", "  cv 7 e217 t=85c  ",
         "how do I fix e217 on belt 4?", "which codes belong to the sorter?", "what is X999"]


@pytest.fixture(scope="module")
def hinted_bundle(segmented_bundle, tmp_path_factory):
    """The segmented tiny bundle with `HINTS` (as if trained with them)."""
    root = tmp_path_factory.mktemp("hinted") / "model"
    shutil.copytree(segmented_bundle, root)
    (root / hints.HINTS_FILE).write_text(json.dumps(HINTS.to_json()), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def hinted_served(hinted_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("hinted_export") / "served"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", "--model", str(hinted_bundle), "--out", str(out),
                     "--max-beam", "2"]) == 0
    return run_child(out / "1", text_ops=True, ids=[[5, 6, 2]], texts=TEXTS)


def test_the_runtime_reads_each_record_with_its_hint(hinted_bundle, segmented_bundle):
    hinted = Assistant.load(hinted_bundle, cache_size=0)
    plain = Assistant.load(segmented_bundle, cache_size=0)
    assert hinted.domain.model_text("cv07:e217 t=85 ") == "cv07:e217 t=85 § OK T=85"
    assert plain.domain.model_text("cv07:e217 t=85 ") == "cv07:e217 t=85 "
    reply = hinted.reply("CV07:E217 T=85", rerank=False)
    assert reply.source_pieces != plain.reply("CV07:E217 T=85", rerank=False).source_pieces
    pieces = hinted.tokenizer.ids_to_pieces(hinted.tokenizer.encode("CV07:E217 T=85 § OK T=85"))
    assert reply.source_pieces == tuple(pieces)


def test_hinted_export_equals_the_runtime(hinted_served, hinted_bundle):
    runtime = Assistant.load(hinted_bundle, cache_size=0)  # the export's batches
    expected = runtime.reply_batch(TEXTS, rerank=False, segment=True)
    assert hinted_served["serve"]["reply"] == [r.text for r in expected]
    np.testing.assert_allclose(hinted_served["serve"]["score"],
                               [float("-inf") if r.error else r.score for r in expected],
                               rtol=1e-5)
