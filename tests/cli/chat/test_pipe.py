"""The chat without a terminal: one reply line per input line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.cli.chat.pipe import run_pipe
from assistant.runtime.assistant import Reply
from tests.cli.chat.fakes import fake_reply


def test_pipe_mode_answers_every_line_with_one_line():
    calls = []

    def reply_batch(texts, **options):
        calls.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("batch failed")
        return [Reply(text="", score=float("nan"), error="empty input") if not t.strip()
                else fake_reply(t, **options) for t in texts]

    data = b"hello\n\xff\xfe bad\n\n/beam 3\r\nboom\nmulti\xe2\x80\xa8line 86\nlast"
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_pipe(reply_batch, io.BytesIO(data), stdout, stderr, batch_size=4) == 0
    assert stdout.getvalue().split("\n") == [
        "reply to hello", "reply to \ufffd\ufffd bad", "", "reply to /beam 3", "",
        "reply to multi line 86", "reply to last", ""]
    assert stderr.getvalue().splitlines() == [
        "line 2: invalid UTF-8 (bytes replaced by U+FFFD)", "line 3: empty input",
        "line 5: RuntimeError: batch failed", "line 6: check: number 86 not in input"]
    assert calls[0] == ["hello", "\ufffd\ufffd bad", "", "/beam 3"]  # batches of at most 4
    assert ["boom"] in calls  # a failed batch is retried line by line


def test_pipe_mode_streams_lines_before_the_input_ends():
    read_fd, write_fd = os.pipe()
    stdout = io.StringIO()
    seen = threading.Event()

    def reply_batch(texts, **options):
        seen.set()
        return [fake_reply(t) for t in texts]

    with os.fdopen(read_fd, "rb") as reader:
        with os.fdopen(write_fd, "wb") as writer:
            writer.write(b"first\n")
            writer.flush()
            worker = threading.Thread(target=run_pipe,
                                      args=(reply_batch, reader, stdout, io.StringIO()))
            worker.start()
            assert seen.wait(10), "the first line was not answered before the end of input"
            writer.write(b"second\n")
        worker.join(10)
    assert stdout.getvalue() == "reply to first\nreply to second\n"


@pytest.mark.slow
def test_chat_over_a_pipe_in_a_subprocess(bundle):
    data = (b"CV07:E217 T=85\n\xff\xfe broken \xe2\x82\n\n/beam 3\n" + b"x " * 2000
            + b"\n\x00\x00\n\xe2\x80\x8b\nhello")
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "chat", "--model", str(bundle), "--greedy"],
        input=data, capture_output=True, timeout=300,
        cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    out = result.stdout.decode("utf-8")
    assert out.endswith("\n")
    assert len(out.split("\n")) == 9  # 8 inputs, 8 lines
    errors = result.stderr.decode("utf-8").splitlines()
    assert errors[:2] == ["line 2: invalid UTF-8 (bytes replaced by U+FFFD)",
                          "line 3: empty input"]
    assert errors[2].startswith("line 5: input too long")
    assert errors[3:] == ["line 6: empty input", "line 7: empty input"]  # NULs, U+200B
