"""Fixtures of the export tests: the tiny bundle, exported and served in a clean process."""

from __future__ import annotations

import contextlib
import io

import pytest

from assistant.cli.main import main
from assistant.core import constants
from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.runtime import Assistant
from tests.serving.support import SEGMENT_TEXTS, TEXTS, run_child


@pytest.fixture(scope="module")
def assistant(bundle):
    """The tiny bundle: no domain, so no record order (lines decoded whole). No reply cache:
    the export is compared with the runtime decoding the same batches."""
    return Assistant.load(bundle, cache_size=0)


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
