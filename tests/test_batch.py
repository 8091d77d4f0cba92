import csv
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import args as cli
from assistant.cli.convert import command as batch
from assistant.cli.convert.formats import INVALID_UTF8, Record, open_reader

REPO = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class FakeAlternative:
    text: str
    score: float


@dataclasses.dataclass(frozen=True)
class FakeReply:
    text: str
    score: float
    flags: tuple[str, ...] = ()
    error: str | None = None
    alternatives: tuple[FakeAlternative, ...] = ()


def fake_reply(text: str, n_best: int = 1) -> FakeReply:
    """Upper case; "MULTI" spans two lines; "FLAG" gets a faithfulness flag; > 60 chars is
    too long for the "model"."""
    if len(text) > 60:
        return FakeReply("", float("nan"), error="input too long: 70 pieces, the limit is 50")
    reply = text.strip().upper() + ("\nSECOND LINE" if "MULTI" in text else "")
    flags = ("number 99 not in input",) if "FLAG" in text else ()
    alternatives = tuple(FakeAlternative(f"{reply} #{rank}", -0.25 * rank)
                         for rank in range(n_best))
    return FakeReply(reply, -0.123456, flags, alternatives=alternatives)


class FakeAssistant:
    """`reply_batch` like the real one: validates first, works in length order, returns input
    order; `interrupt_at` raises KeyboardInterrupt on that call (1-based)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.defaults = {"strategy": "beam", "beam_width": 5, "n_best": 1}
        self.calls: list[list[str]] = []
        self.interrupt_at = interrupt_at

    def reply_batch(self, texts, batch_size=64, **options):
        settings = {**self.defaults, **options}
        if settings["beam_width"] > 16:
            raise ValueError(f"beam_width must be at most 16, got {settings['beam_width']}")
        if not texts:
            return []
        self.calls.append(list(texts))
        if self.interrupt_at == len(self.calls):
            raise KeyboardInterrupt
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        replies = [None] * len(texts)
        for index in order:
            replies[index] = fake_reply(texts[index], settings.get("n_best", 1))
        return replies


@pytest.fixture
def fake(monkeypatch):
    assistant = FakeAssistant()
    monkeypatch.setattr(cli, "load_assistant", lambda model_dir: assistant)
    return assistant


def convert(*args: str) -> int:
    return cli.main(["convert", *map(str, args)])


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_txt_one_reply_per_line_in_order_with_flags_on_stderr(fake, tmp_path, capsys):
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


def test_order_is_kept_across_windows(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "WINDOW_BATCHES", 1)
    texts = ["x" * (1 + (i * 7) % 13) + str(i) for i in range(50)]
    source = write(tmp_path / "in.txt", "\n".join(texts) + "\n")
    assert convert(source, "-o", tmp_path / "out.txt", "--batch-size", 8) == 0
    assert (tmp_path / "out.txt").read_text().splitlines() == [t.upper() for t in texts]
    assert [len(call) for call in fake.calls] == [8] * 6 + [2]


def test_reading_is_streamed_window_by_window(fake):
    read = 0

    def records():
        nonlocal read
        for number in range(1, 10_001):
            read += 1
            yield Record(number, number, f"line {number}")

    class CheckingWriter:
        written = 0

        def write(self, record, result):
            self.written += 1
            assert record.number == self.written
            assert read <= self.written + 100 - 1  # never more than one window ahead

        def flush(self):
            pass

    writer = CheckingWriter()
    summary = batch.convert(records(), fake.reply_batch, writer, window=100)
    assert (summary.records, summary.flagged, writer.written) == (10_000, 0, 10_000)
    assert max(len(call) for call in fake.calls) == 100


def test_csv_quoting_newlines_bom_and_columns(fake, tmp_path):
    text = ('\ufeffid,source,note\n'
            '1,"CV07:E217 T=85, hot",plain\n'
            '2,"two\nlines","say ""hi"""\n'
            '3,,empty\n'
            '4,FLAG °C,x\n')
    source = write(tmp_path / "in.csv", text)
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,source,note,reply,score,flags\n")  # BOM kept
    rows = read_csv(tmp_path / "out.csv")
    assert rows[1] == ["1", "CV07:E217 T=85, hot", "plain", "CV07:E217 T=85, HOT", "-0.1235", ""]
    assert rows[2] == ["2", "two\nlines", 'say "hi"', "TWO\nLINES", "-0.1235", ""]
    assert rows[3] == ["3", "", "empty", "", "", "empty input"]
    assert rows[4][3:] == ["FLAG °C", "-0.1235", "number 99 not in input"]


def test_csv_bad_rows_are_flagged_and_kept(fake, tmp_path):
    text = ('source,b\n'
            'short\n'
            'long,x,y\n'
            '"bad"quote,z\n'
            '\n'
            'ok,1\n'
            '"unterminated,2\n')
    source = write(tmp_path / "in.csv", text)
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    rows = read_csv(tmp_path / "out.csv")
    assert rows[0] == ["source", "b", "reply", "score", "flags"]
    assert rows[1] == ["short", "", "SHORT", "-0.1235", "row has 1 fields, the header has 2"]
    assert rows[2][:3] == ["long", "x", "LONG"]
    assert rows[2][4] == "row has 3 fields, the header has 2 (extra fields dropped)"
    assert rows[3][0] == '"bad"quote,z'
    assert rows[3][2] == "" and rows[3][4].startswith("malformed CSV: ")
    assert rows[4] == ["", "", "", "", "empty input"]
    assert rows[5] == ["ok", "1", "OK", "-0.1235", ""]
    assert rows[6][4] == "malformed CSV: unexpected end of data"
    assert len(rows) == 7


def test_csv_column_choice(fake, tmp_path, capsys):
    source = write(tmp_path / "in.csv", "id,message\n1,hi\n")
    assert convert(source, "-o", tmp_path / "out.csv") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {source}: no 'source', 'text', 'input' column in the header; "
                   "choose one with --column (found: 'id', 'message')")
    assert not (tmp_path / "out.csv").exists()
    assert convert(source, "--column", "nope", "-o", tmp_path / "out.csv") == 2
    assert "no column 'nope' in the header" in capsys.readouterr().err
    assert convert(source, "--column", "message", "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv")[1] == ["1", "hi", "HI", "-0.1235", ""]
    one = write(tmp_path / "one.csv", "prompt\nhello\n")
    assert convert(one, "-o", tmp_path / "one_out.csv") == 0
    assert read_csv(tmp_path / "one_out.csv")[1] == ["hello", "HELLO", "-0.1235", ""]
    empty = write(tmp_path / "empty.csv", "")
    assert convert(empty, "-o", tmp_path / "x.csv") == 2
    assert "needs a header row" in capsys.readouterr().err


def test_reconverting_overwrites_the_output_columns(fake, tmp_path):
    source = write(tmp_path / "in.csv", "text,reply,score,flags\nabc,old,1,old flag\n")
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv") == [["text", "reply", "score", "flags"],
                                              ["abc", "ABC", "-0.1235", ""]]


def test_tsv_in_and_out(fake, tmp_path):
    source = write(tmp_path / "in.tsv", 'source\tk\nCV07:E217\t1\n"a\tb"\t2\n')
    assert convert(source, "-o", tmp_path / "out.tsv") == 0
    assert read_csv(tmp_path / "out.tsv", "\t") == [
        ["source", "k", "reply", "score", "flags"],
        ["CV07:E217", "1", "CV07:E217", "-0.1235", ""],
        ["a\tb", "2", "A\tB", "-0.1235", ""],
    ]


def test_jsonl_in_and_out_with_bad_lines(fake, tmp_path):
    lines = [
        json.dumps({"id": 1, "source": "cv07:e217", "meta": {"a": [1]}}),
        "{not json",
        "[1, 2]",
        json.dumps({"id": 4}),
        json.dumps({"id": 5, "source": 17}),
        "",
        json.dumps({"source": "  "}),
        json.dumps({"source": "FLAG °C"}, ensure_ascii=False),
    ]
    source = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    assert convert(source, "-o", tmp_path / "out.jsonl") == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert len(out) == len(lines)
    assert out[0] == {"id": 1, "source": "cv07:e217", "meta": {"a": [1]}, "reply": "CV07:E217",
                      "score": -0.1235, "flags": []}
    assert out[1]["raw"] == "{not json" and out[1]["reply"] == "" and out[1]["score"] is None
    assert out[1]["flags"][0].startswith("invalid JSON: ")
    assert out[2] == {"raw": "[1, 2]", "reply": "", "score": None,
                      "flags": ["not a JSON object but an array"]}
    assert out[3]["flags"] == ["missing field 'source'"] and out[3]["id"] == 4
    assert out[4]["flags"] == ["field 'source' is a number, not a string"]
    assert out[5] == {"raw": "", "reply": "", "score": None, "flags": ["empty line"]}
    assert out[6]["flags"] == ["empty input"]
    assert out[7]["flags"] == ["number 99 not in input"] and out[7]["reply"] == "FLAG °C"
    assert "°C" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


def test_jsonl_field_choice(fake, tmp_path, capsys):
    source = write(tmp_path / "in.jsonl", '{"prompt": "hi"}\n{"prompt": "yo", "x": 1}\n')
    assert convert(source, "-o", tmp_path / "out.jsonl") == 2
    assert "choose one with --field (found: 'prompt')" in capsys.readouterr().err
    assert convert(source, "--field", "prompt", "-o", tmp_path / "out.jsonl") == 0
    assert [o["reply"] for o in read_jsonl(tmp_path / "out.jsonl")] == ["HI", "YO"]
    texts = write(tmp_path / "t.jsonl", '{"text": "a"}\n{"input": "b"}\n')
    assert convert(texts, "-o", tmp_path / "t_out.jsonl") == 0
    assert [o["flags"] for o in read_jsonl(tmp_path / "t_out.jsonl")] == [
        [], ["missing field 'text'"]]


def test_cross_format_outputs(fake, tmp_path):
    txt = write(tmp_path / "in.txt", "a\nb,c\n")
    assert convert(txt, "-o", tmp_path / "from_txt.jsonl") == 0
    assert read_jsonl(tmp_path / "from_txt.jsonl")[1] == {
        "source": "b,c", "reply": "B,C", "score": -0.1235, "flags": []}
    assert convert(txt, "--column", "line", "-o", tmp_path / "from_txt.csv") == 0
    assert read_csv(tmp_path / "from_txt.csv")[0:2] == [["line", "reply", "score", "flags"],
                                                        ["a", "A", "-0.1235", ""]]
    table = write(tmp_path / "in.csv", "id,source\n7,x\n")
    assert convert(table, "-o", tmp_path / "from_csv.jsonl") == 0
    assert read_jsonl(tmp_path / "from_csv.jsonl") == [
        {"id": "7", "source": "x", "reply": "X", "score": -0.1235, "flags": []}]
    lines = write(tmp_path / "in.jsonl", '{"id": 1, "source": "q"}\nbroken\n')
    assert convert(lines, "-o", tmp_path / "from_jsonl.csv") == 0
    assert read_csv(tmp_path / "from_jsonl.csv") == [
        ["source", "reply", "score", "flags"], ["q", "Q", "-0.1235", ""],
        ["broken", "", "", "invalid JSON: Expecting value at column 1"]]
    assert convert(table, "-o", tmp_path / "replies.txt") == 0
    assert (tmp_path / "replies.txt").read_text() == "X\n"


def test_format_options_and_detection(fake, tmp_path, capsys):
    odd = write(tmp_path / "faults.log", "a\n")
    assert convert(odd, "-o", tmp_path / "out.dat") == 0  # unknown extensions: txt
    assert (tmp_path / "out.dat").read_text() == "A\n"
    data = write(tmp_path / "data.dat", "source\nq\n")
    assert convert(data, "--format", "csv", "-o", tmp_path / "o1") == 0  # --format: both
    assert read_csv(tmp_path / "o1")[1][:2] == ["q", "Q"]
    assert convert(data, "--format", "csv", "-o", tmp_path / "o2.jsonl") == 0
    assert read_jsonl(tmp_path / "o2.jsonl")[0]["reply"] == "Q"
    assert convert(data, "--format", "csv", "--output-format", "txt", "-o", tmp_path / "o3") == 0
    assert (tmp_path / "o3").read_text() == "Q\n"
    capsys.readouterr()
    assert convert(write(tmp_path / "x.json", "[]"), "-o", tmp_path / "o4") == 2
    assert "is not JSON Lines" in capsys.readouterr().err


def test_stdin_and_stdout(fake, monkeypatch, capsys):
    for argv in ([], ["-"], ["-", "-o", "-"]):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
        assert convert(*argv) == 0
        out, err = capsys.readouterr()
        assert out == "ONE\nTWO\n"
        assert err.startswith("convert: 2 records, 0 flagged")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"source": "x"}\n')))
    assert convert("--format", "jsonl") == 0
    assert json.loads(capsys.readouterr().out)["reply"] == "X"


def test_no_input_on_a_terminal_is_a_usage_error(fake, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert convert() == 2
    assert capsys.readouterr().err == "error: no input: give INPUT, or pipe records to stdin\n"


def test_invalid_utf8_is_answered_and_flagged(fake, tmp_path, capsys):
    source = write(tmp_path / "in.txt", b"ok\nbad \xff\xfe byte\n")
    assert convert(source, "-o", tmp_path / "out.txt") == 0
    assert (tmp_path / "out.txt").read_text() == "OK\nBAD \ufffd\ufffd BYTE\n"
    assert f"{source}:2: {INVALID_UTF8}" in capsys.readouterr().err
    table = write(tmp_path / "in.csv", b"source\n\"multi\nline \xc3\"\n")
    assert convert(table, "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv")[1][3] == INVALID_UTF8


def test_too_long_inputs_are_flagged(fake, tmp_path):
    huge = "x" * (batch.MAX_INPUT_CHARS + 1)
    source = write(tmp_path / "in.jsonl", "\n".join(
        json.dumps({"source": text}) for text in ("short", "y" * 70, huge)) + "\n")
    assert convert(source, "-o", tmp_path / "out.jsonl") == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [o["flags"] for o in out] == [
        [], ["input too long: 70 pieces, the limit is 50"],
        [f"input too long: {len(huge):,} characters, the limit is {batch.MAX_INPUT_CHARS:,}"]]
    assert all(huge not in call for call in fake.calls)  # never sent to the model


def test_strict_exit_codes(fake, tmp_path):
    clean = write(tmp_path / "clean.txt", "a\nb\n")
    flagged = write(tmp_path / "flagged.txt", "a\nFLAG\n")
    assert convert(clean, "--strict", "-o", tmp_path / "o1.txt") == 0
    assert convert(flagged, "-o", tmp_path / "o2.txt") == 0
    assert convert(flagged, "--strict", "-o", tmp_path / "o3.txt") == 1
    assert (tmp_path / "o3.txt").read_text() == "A\nFLAG\n"  # written all the same


def test_usage_errors_are_one_line(fake, tmp_path, capsys):
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


def test_nbest_alternatives_in_jsonl(fake, tmp_path):
    source = write(tmp_path / "in.txt", "a\n")
    assert convert(source, "--nbest", "2", "-o", tmp_path / "out.jsonl") == 0
    assert read_jsonl(tmp_path / "out.jsonl")[0]["alternatives"] == [
        {"text": "A #0", "score": 0.0}, {"text": "A #1", "score": -0.25}]


@pytest.mark.parametrize("previous", [None, "previous content\n"])
def test_interrupted_run_leaves_no_partial_file(monkeypatch, tmp_path, previous):
    assistant = FakeAssistant(interrupt_at=2)
    monkeypatch.setattr(cli, "load_assistant", lambda model_dir: assistant)
    monkeypatch.setattr(batch, "WINDOW_BATCHES", 1)
    source = write(tmp_path / "in.txt", "".join(f"line {i}\n" for i in range(10)))
    target = tmp_path / "out.txt"
    if previous is not None:
        target.write_text(previous)
    assert convert(source, "-o", target, "--batch-size", 4) == 130
    assert len(assistant.calls) == 2
    assert (target.read_text() if target.exists() else None) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.txt"] + ([target.name] if previous else []))


SLOW_FAKE = """
import sys, time
from assistant.cli import args as cli
from tests.test_batch import FakeAssistant

class Slow(FakeAssistant):
    def reply_batch(self, texts, batch_size=64, **options):
        if texts:
            time.sleep(0.5)  # SIGTERM interrupts the sleep
        return super().reply_batch(texts, batch_size, **options)

cli.load_assistant = lambda model_dir: Slow()
sys.exit(cli.main(sys.argv[1:]))
"""


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


# End to end on a tiny trained bundle, in a subprocess like a user would run it.




def run_cli(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "assistant", "convert", *map(str, args)],
                          input=stdin, capture_output=True, cwd=REPO, env=env, timeout=300)


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


def test_reader_reports_bytes_and_bom():
    reader = open_reader("txt", io.BytesIO("\ufeffa\nb\n".encode()))
    records = list(reader)
    assert [r.text for r in records] == ["a", "b"]
    assert reader.had_bom and reader.bytes_read == 7
