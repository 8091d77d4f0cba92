"""Fixtures of the export tests: the tiny bundle, exported and served in a clean process."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest

from assistant.cli.main import main
from assistant.core import constants
from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.domains.warehouse import segment
from assistant.runtime import Assistant
from tests.serving.support import RECORD_ORDER, SEGMENT_TEXTS, TEXTS, run_child


@pytest.fixture(scope="module")
def assistant(bundle):
    """The tiny bundle: no domain, so no record order (lines decoded whole)."""
    return Assistant.load(bundle)


@pytest.fixture(scope="module")
def segmented_bundle(bundle, tmp_path_factory):
    """A copy of the tiny bundle in the warehouse domain with `RECORD_ORDER` (and no
    faithfulness check)."""
    root = tmp_path_factory.mktemp("segmented") / "model"
    shutil.copytree(bundle, root)
    (root / segment.RECORD_ORDER_FILE).write_text(json.dumps(RECORD_ORDER.to_json()),
                                                  encoding="utf-8")
    config = json.loads((root / constants.CONFIG_FILE).read_text(encoding="utf-8"))
    (root / constants.CONFIG_FILE).write_text(json.dumps({**config, "domain": "warehouse"}),
                                              encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def segmented_export(segmented_bundle, tmp_path_factory):
    """`segmented_bundle` exported through the CLI: (version directory, what it printed)."""
    out = tmp_path_factory.mktemp("segmented_export") / "served"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--model", str(segmented_bundle), "--out", str(out),
                     "--max-beam", "2"]) == 0
    return out / "1", printed.getvalue()


@pytest.fixture(scope="module")
def segmented_served(segmented_export, ids_rows):
    return run_child(segmented_export[0], text_ops=True, ids=ids_rows, texts=SEGMENT_TEXTS)


@pytest.fixture(scope="module")
def export(bundle, tmp_path_factory):
    """The tiny bundle exported once through the CLI: (version directory, what it printed)."""
    out = tmp_path_factory.mktemp("export") / "served"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--model", str(bundle), "--out", str(out), "--max-beam", "2"]) == 0
    return out / "1", printed.getvalue()


@pytest.fixture(scope="module")
def ids_rows(assistant):
    """Runtime-encoded TEXTS as a PAD-padded batch, then rows the export must refuse."""
    from assistant.core.tokenizer import normalize_source

    rows = [assistant.tokenizer.encode(normalize_source(t, assistant.config.source_case))
            for t in TEXTS]
    width = MAX_SOURCE_PIECES + 1
    padded = [row + [constants.PAD_ID] * (width - len(row)) for row in rows]
    padded.append([constants.PAD_ID] * width)  # all padding
    padded.append([5, constants.PAD_ID, 6] + [constants.PAD_ID] * (width - 3))  # not right-padded
    padded.append([assistant.config.vocab_size] + [constants.PAD_ID] * (width - 1))  # bad id
    padded.append([5] * width)  # longer than MAX_SOURCE_PIECES
    return padded


@pytest.fixture(scope="module")
def served(export, ids_rows):
    return run_child(export[0], text_ops=True, ids=ids_rows)
