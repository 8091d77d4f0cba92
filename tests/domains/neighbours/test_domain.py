"""A bundle trained with `train.neighbours`: the train pairs it carries, the text its model
reads in the runtime, and an export (reloaded in a clean process) that reads the same."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from assistant.core import constants
from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.domains.neighbours import NeighbourDomain
from assistant.domains.neighbours.domain import NEIGHBOURS_FILE
from assistant.domains.neighbours.index import NeighbourIndex
from assistant.runtime import Assistant
from assistant.runtime.bundle import BundleError, load_bundle
from assistant.serving.export import export_options, export_saved_model
from tests.conftest import TINY_OVERRIDES
from tests.domains.neighbours.support import LONG, PAIRS, TEXTS
from tests.serving.support import SERVE_CHILD, run_script
from training.config import load_run_config
from training.data import DataError
from training.trainer import train


def test_the_bundle_carries_its_train_pairs_and_names_the_domain(neighbours_bundle):
    config = json.loads((neighbours_bundle / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    assert config["domain"] == "neighbours"
    index = NeighbourIndex.load(neighbours_bundle / NEIGHBOURS_FILE)
    log = json.loads((neighbours_bundle / constants.TRAINING_LOG_FILE).read_text(encoding="utf-8"))
    assert len(index.sources) == log["pairs"]["train"]  # the train split, not valid or test
    assert set(zip(index.sources, index.targets, strict=True)) <= set(PAIRS)
    assert isinstance(load_bundle(neighbours_bundle).domain, NeighbourDomain)


def test_the_model_reads_each_text_with_its_neighbour(neighbours_bundle):
    assistant = Assistant.load(neighbours_bundle, cache_size=0)
    index = NeighbourIndex.load(neighbours_bundle / NEIGHBOURS_FILE)
    reply = assistant.reply(" U+0100 ")
    drafted = index.read(["U+0100"])[0]
    assert drafted.startswith("U+0100 ~ U+")
    tokenizer = assistant.tokenizer
    assert reply.source_pieces == tuple(tokenizer.ids_to_pieces(tokenizer.encode(drafted)))


@pytest.fixture
def long_draft(neighbours_bundle):
    """The bundle with LONG among its train pairs."""
    assistant = Assistant.load(neighbours_bundle, cache_size=0)
    index = assistant.domain.index
    assistant.domain = NeighbourDomain(NeighbourIndex.from_pairs(
        [*zip(index.sources, index.targets, strict=True), LONG]))
    return assistant


def test_a_text_too_long_with_its_neighbour_is_read_alone(long_draft):
    tokenizer = long_draft.tokenizer
    assert len(tokenizer.encode(long_draft.domain.model_text("U+0201"))) > MAX_SOURCE_PIECES
    reply = long_draft.reply("U+0201")
    assert reply.error is None
    assert reply.source_pieces == tuple(tokenizer.ids_to_pieces(tokenizer.encode("U+0201")))


def test_the_domain_reads_the_bundle_s_source_case(neighbours_bundle, tmp_path):
    import shutil

    upper = tmp_path / "model"
    shutil.copytree(neighbours_bundle, upper)
    config = json.loads((upper / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    config["model"]["source_case"] = "upper"
    (upper / constants.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    assert NeighbourDomain.from_bundle(upper).index.case == "upper"
    assert NeighbourDomain.from_bundle(neighbours_bundle).index.case == "keep"


def test_a_bundle_without_its_pairs_file_is_one_line(neighbours_bundle, tmp_path):
    import shutil

    broken = tmp_path / "model"
    shutil.copytree(neighbours_bundle, broken)
    (broken / NEIGHBOURS_FILE).unlink()
    with pytest.raises(BundleError, match=f"{NEIGHBOURS_FILE}: missing"):
        load_bundle(broken)


def test_neighbours_need_pairs_without_a_domain(tmp_path):
    for split in ("train", "valid"):
        (tmp_path / f"{split}.jsonl").write_text('{"source": "a", "target": "b"}\n',
                                                 encoding="utf-8")
    (tmp_path / "domain.json").write_text('{"name": "warehouse", "files": []}', encoding="utf-8")
    config = load_run_config(overrides=[*TINY_OVERRIDES, "train.neighbours=true"])
    with pytest.raises(DataError, match=r"train\.neighbours is for pairs without a domain; "
                                        r"this data is the warehouse domain's"):
        train(tmp_path, tmp_path / "model", config, console=Console(file=io.StringIO()))


@pytest.mark.slow
def test_the_export_reads_each_text_with_the_same_neighbour(long_draft, tmp_path):
    assistant = long_draft
    options = export_options(assistant.defaults, {"strategy": "greedy"})
    result = export_saved_model(assistant, tmp_path / "served", options, jit_compile=False,
                                max_beam_width=1)
    served = run_script(SERVE_CHILD, {"export": str(result.path), "texts": TEXTS}, tmp_path)
    expected = assistant.reply_batch(TEXTS, strategy="greedy")
    assert served["reply"] == [reply.text for reply in expected]
    scores = [r.score if r.error is None else float("-inf") for r in expected]
    np.testing.assert_allclose(served["score"], scores, rtol=1e-5)
