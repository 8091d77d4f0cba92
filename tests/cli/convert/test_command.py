"""`python -m assistant convert`: order, windows, flags, exit codes, interruptions, end to end."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from assistant.cli.convert import pipeline
from assistant.cli.convert.formats import INVALID_UTF8
from assistant.cli.main import main
from tests.cli.convert.fakes import (
    REPO,
    SLOW_FAKE,
    FakeAssistant,
    read_csv,
    read_jsonl,
    write,
)


def run_cli(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "assistant", "convert", *map(str, args)],
                          input=stdin, capture_output=True, cwd=REPO, env=env, timeout=300)


def test_txt_one_reply_per_line_in_order_with_flags_on_stderr(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.txt", "cv07:e217 t=85\r\n\n   \nhello MULTI\nFLAG 1\n")
    assert convert(source, "-o", tmp_path / "out.txt") == 0
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n")
    assert lines == ["CV07:E217 T=85", "", "", "HELLO MULTI SECOND LINE", "FLAG 1", ""]
    err = capsys.readouterr().err.splitlines()
    assert f"{source}:2: empty input" in err
    assert f"{source}:3: empty input" in err
    assert f"{source}:5: number 99 not in input" in err
    assert err[-1].startswith("convert: 5 records, 3 flagged, ")
    assert err[-1].endswith(" records/s")


def test_order_is_kept_across_windows(fake, convert, tmp_path):
    texts = ["x" * (1 + (i * 7) % 13) + str(i) for i in range(50)]
    source = write(tmp_path / "in.txt", "\n".join(texts) + "\n")
    assert convert(source, "-o", tmp_path / "out.txt", "--batch-size", 8, "--window", 8) == 0
    assert (tmp_path / "out.txt").read_text().splitlines() == [t.upper() for t in texts]
    assert [len(call) for call in fake.calls] == [8] * 6 + [2]


def test_stdin_and_stdout(fake, convert, monkeypatch, capsys):
    for argv in ([], ["-"], ["-", "-o", "-"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
        assert convert(*argv) == 0
        out, err = capsys.readouterr()
        assert out == "ONE\nTWO\n"
        assert err.startswith("convert: 2 records, 0 flagged")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"source": "x"}\n')))
    assert convert("--format", "jsonl") == 0
    assert json.loads(capsys.readouterr().out)["reply"] == "X"


def test_no_input_on_a_terminal_is_a_usage_error(fake, convert, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert convert() == 2
    assert capsys.readouterr().err == "error: no input: give INPUT, or pipe records to stdin\n"


def test_invalid_utf8_is_answered_and_flagged(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.txt", b"ok\nbad \xff\xfe byte\n")
    assert convert(source, "-o", tmp_path / "out.txt") == 0
    assert (tmp_path / "out.txt").read_text() == "OK\nBAD \ufffd\ufffd BYTE\n"
    assert f"{source}:2: {INVALID_UTF8}" in capsys.readouterr().err
    table = write(tmp_path / "in.csv", b"source\n\"multi\nline \xc3\"\n")
    assert convert(table, "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv")[1][3] == INVALID_UTF8


def test_too_long_inputs_are_flagged(fake, convert, tmp_path):
    huge = "x" * (pipeline.MAX_INPUT_CHARS + 1)
    source = write(tmp_path / "in.jsonl", "\n".join(
        json.dumps({"source": text}) for text in ("short", "y" * 70, huge)) + "\n")
    assert convert(source, "-o", tmp_path / "out.jsonl") == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [o["flags"] for o in out] == [
        [], ["input too long: 70 pieces, the limit is 50"],
        [f"input too long: {len(huge):,} characters, the limit is {pipeline.MAX_INPUT_CHARS:,}"]]
    assert all(huge not in call for call in fake.calls)  # never sent to the model


def test_strict_exit_codes(fake, convert, tmp_path):
    clean = write(tmp_path / "clean.txt", "a\nb\n")
    flagged = write(tmp_path / "flagged.txt", "a\nFLAG\n")
    assert convert(clean, "--strict", "-o", tmp_path / "o1.txt") == 0
    assert convert(flagged, "-o", tmp_path / "o2.txt") == 0
    assert convert(flagged, "--strict", "-o", tmp_path / "o3.txt") == 1
    assert (tmp_path / "o3.txt").read_text() == "A\nFLAG\n"  # written all the same


def test_usage_errors_are_one_line(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.txt", "a\n")
    cases = [
        ([tmp_path / "missing.txt"], "missing.txt: no such file"),
        ([tmp_path], "is a directory"),
        ([source, "-o", tmp_path], "is a directory; give a file name with -o"),
        ([source, "-o", source], "the output would replace the input"),
        ([source, "--beam", "20"], "beam_width must be at most 16, got 20"),
        ([source, "--nbest", "3"], "--nbest 3 needs jsonl output"),
        ([write(tmp_path / "dup.csv", "source,a,a\n"), "-o", tmp_path / "dup.jsonl"],
         "duplicate column names"),
    ]
    for argv, message in cases:
        assert convert(*argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert source.read_text() == "a\n"


def test_nbest_alternatives_in_jsonl(fake, convert, tmp_path):
    source = write(tmp_path / "in.txt", "a\n")
    assert convert(source, "--nbest", "2", "-o", tmp_path / "out.jsonl") == 0
    assert read_jsonl(tmp_path / "out.jsonl")[0]["alternatives"] == [
        {"text": "A #0", "score": 0.0}, {"text": "A #1", "score": -0.25}]


@pytest.mark.parametrize("previous", [None, "previous content\n"])
def test_interrupted_run_leaves_no_partial_file(tmp_path, previous):
    assistant = FakeAssistant(interrupt_at=2)
    source = write(tmp_path / "in.txt", "".join(f"line {i}\n" for i in range(10)))
    target = tmp_path / "out.txt"
    if previous is not None:
        target.write_text(previous)
    assert main(["convert", str(source), "-o", str(target), "--batch-size", "4", "--window",
                 "4"], load_assistant=lambda _: assistant) == 130
    assert len(assistant.calls) == 2
    assert (target.read_text() if target.exists() else None) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.txt"] + ([target.name] if previous else []))


def test_sigterm_leaves_the_previous_file(tmp_path):
    source = write(tmp_path / "in.txt", "".join(f"line {i}\n" for i in range(2000)))
    target = write(tmp_path / "out.txt", "previous\n")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FAKE, "convert", source, "-o", target, "--batch-size", "1"],
        cwd=REPO, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".out.txt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.txt.*.tmp")), "the temporary output never appeared"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert target.read_text() == "previous\n"
    assert not list(tmp_path.glob(".out.txt.*"))


@pytest.mark.slow
def test_end_to_end_csv_matches_reply_batch(bundle, tmp_path):
    from assistant.runtime.assistant import Assistant

    texts = ["CV07:E217 T=85", "hello there, how are you today?", "SN02:W301 N=12; CV1:E217",
             "x", "CV12:E217 T=41", ""]
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["id", "source"], *enumerate(texts)])
    done = run_cli(source, "-o", tmp_path / "out.csv", "--model", bundle, "--greedy",
                   "--batch-size", "2")
    assert done.returncode == 0, done.stderr
    assert "convert: 6 records, " in done.stderr.decode()
    rows = read_csv(tmp_path / "out.csv")
    expected = Assistant.load(bundle).reply_batch(texts, strategy="greedy")
    assert [row[2] for row in rows[1:]] == [reply.text for reply in expected]
    assert rows[-1][2:] == ["", "", "empty input"]


@pytest.mark.slow
def test_end_to_end_jsonl_stdin_to_stdout(bundle):
    lines = [json.dumps({"source": "CV07:E217 T=85", "k": 1}), "oops"]
    done = run_cli("--format", "jsonl", "--model", bundle, "--beam", "3", "--nbest", "2",
                   "--strict", stdin=("\n".join(lines) + "\n").encode())
    assert done.returncode == 1, done.stderr  # "oops" is flagged
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert out[0]["k"] == 1 and out[0]["reply"] and len(out[0]["alternatives"]) == 2
    assert out[1]["raw"] == "oops" and out[1]["flags"][0].startswith("invalid JSON")
