"""`python -m assistant convert --runner`: the command line, its one-line errors, and the
DirectRunner pipeline against `convert` on a few hundred mixed lines, in real processes."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.beam import launch
from assistant.beam.transforms import FILE_KEY, LINE_KEY
from assistant.cli.args import default_model_dir
from assistant.cli.convert.formats import INVALID_UTF8
from assistant.cli.main import build_parser, main
from assistant.domains.warehouse import logs
from tests.cli.convert.fakes import REPO, read_jsonl, write

# Bad lines spread through the log: each is flagged, never dropped, by both commands.
BAD_LINES = [
    b"",  # empty
    b"   \t ",  # whitespace only
    b"bad \xff\xfe CV07:E217 T=85",  # invalid UTF-8: answered with U+FFFD, flagged
    b"x" * 5000,  # over MAX_INPUT_CHARS: flagged without reaching the model
    b"what does E217 mean? " * 60,  # under MAX_INPUT_CHARS, over 256 pieces: the model's
    # error (90 records in a row would be answered record by record)
    b"CV07:\x07E217 T=85\x1b",  # control characters inside a record
    b"\x00\x01\x02",  # control characters only: empty to the model
    b"\xe2\x80\x8b\xe2\x80\x8b",  # zero-width spaces only
    b"hello there\r",  # a CRLF line end
    b'{"source": "not json lines here"}',
]


def mixed_lines(count: int = 300) -> bytes:
    """`count` lines: the seeded warehouse log with `BAD_LINES` every 29 lines."""
    lines = [entry.text.encode() for entry in logs.generate_entries(count, seed=3)]
    for index, bad in enumerate(BAD_LINES):
        lines[7 + 29 * index] = bad
    return b"\n".join(lines) + b"\n"


def run_cli(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "convert", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )


@pytest.mark.slow
def test_direct_runner_equals_convert_on_mixed_lines(warehouse_bundle, tmp_path):
    source = write(tmp_path / "log.txt", mixed_lines())
    # Greedy compiles fastest; batches of 64 (--window) keep the compiled shapes few.
    plain = run_cli(
        source, "-o", tmp_path / "convert.jsonl", "--model", warehouse_bundle, "--greedy"
    )
    beam = run_cli(
        source,
        "-o",
        tmp_path / "beam.jsonl",
        "--model",
        warehouse_bundle,
        "--greedy",
        "--runner",
        "DirectRunner",
        "--window",
        "64",
        "--",
        "--direct_num_workers=1",
    )
    outputs = [process.communicate(timeout=300) for process in (plain, beam)]
    assert plain.returncode == 0 and beam.returncode == 0, outputs
    expected, got = read_jsonl(tmp_path / "convert.jsonl"), read_jsonl(tmp_path / "beam.jsonl")
    assert len(expected) == len(got) == 300
    assert [row.pop(LINE_KEY) for row in got] == list(range(1, 301))
    assert {row.pop(FILE_KEY) for row in got} == {str(source)}
    for want, have in zip(expected, got, strict=True):
        assert math.isclose(have.pop("score") or 0, want.pop("score") or 0, abs_tol=2e-4)
    assert got == expected  # same replies, same flags, same order
    flags = [row["flags"] for row in expected]
    assert [flags[7 + 29 * index] for index in (0, 1, 3, 6, 7)] == [
        ["empty input"],
        ["empty input"],
        ["input too long: 5,000 characters, the limit is 4,096"],
        ["empty input"],
        ["empty input"],
    ]  # the last two: the model's error replies
    assert flags[65][0] == INVALID_UTF8 and flags[123][0].startswith("input too long: ")
    flagged = [row for row in expected if row["flags"]]
    assert len(flagged) > len(BAD_LINES)  # the domain's check flags some replies too
    summary = outputs[1][1].decode().strip().splitlines()[-1]
    assert summary.startswith(f"convert: 300 records, {len(flagged)} flagged, "), summary


def test_beam_options_follow_the_dashes_after_runner():
    parser = build_parser()
    args = parser.parse_args(
        [
            "convert",
            "in.txt",
            "-o",
            "out.jsonl",
            "--runner",
            "DirectRunner",
            "--",
            "--direct_num_workers=2",
            "--",
            "x",
        ]
    )
    assert (args.input, args.output, args.runner) == ("in.txt", "out.jsonl", "DirectRunner")
    assert args.beam_options == ["--direct_num_workers=2", "--", "x"]
    args = parser.parse_args(["convert", "--greedy", "--", "-odd-name.txt"])  # no --runner
    assert (args.input, args.runner, args.beam_options) == ("-odd-name.txt", None, [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-", "-o", "o.jsonl"], "--runner reads files: give INPUT"),
        (["{in}"], "--runner writes files: give -o OUTPUT.jsonl"),
        (["{in}", "-o", "o.txt"], "--runner writes JSON Lines (each record with its file"),
        (["{dir}/in.csv", "-o", "o.jsonl"], "--runner reads txt and jsonl input, not csv"),
        (["{dir}/*.ndjson", "-o", "o.jsonl"], "{dir}/*.ndjson: no such file"),
        (["{dir}", "-o", "o.jsonl"], "{dir}: is a directory; give a file or a glob"),
        (["nofs://b/*.txt", "-o", "o.jsonl"], "nofs://b/*.txt: cannot list it (Unable to get"),
        (["{in}", "-o", "{in}", "--output-format", "jsonl"], "the output would replace the input"),
        (
            ["{in}", "-o", "o.jsonl", "--model", "{dir}"],
            "cannot load model: {dir}/config.json: missing (not a model bundle)",
        ),
        (["{in}", "-o", "o.jsonl", "--beam", "2", "--nbest", "3"], "n_best"),
    ],
)
def test_usage_errors_are_one_line_before_the_pipeline(
    bundle, tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "in.txt", "hello\n")
    write(tmp_path / "in.csv", "source\nhello\n")
    fill = {"in": tmp_path / "in.txt", "dir": tmp_path}
    argv = [arg.format(**fill) for arg in argv]
    model = [] if "--model" in argv else ["--model", str(bundle)]
    assert main(["convert", *argv, *model, "--runner", "DirectRunner"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message.format(**fill) in err
    assert not (tmp_path / "o.jsonl").exists()


def test_without_beam_runner_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import apache_beam fails
    source = write(tmp_path / "in.txt", "hello\n")
    assert (
        main(["convert", str(source), "-o", str(tmp_path / "o.jsonl"), "--runner", "DirectRunner"])
        == 2
    )
    assert capsys.readouterr().err == f"error: {launch.INSTALL_HINT}\n"
    assert main(["convert", str(source), "--num-shards", "2"]) == 2
    assert capsys.readouterr().err == "error: --num-shards needs --runner\n"


def test_help_does_not_import_beam():
    code = (
        "import sys\nfrom assistant.cli.main import main\n"
        "for argv in (['--help'], ['convert', '--help']):\n"
        "    try: main(argv)\n    except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'apache_beam'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--runner NAME" in done.stdout and "--num-shards N" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"


def test_model_uri_keeps_remote_schemes():
    assert (
        launch.model_uri(Path("gs://bucket/bundles/warehouse")) == "gs://bucket/bundles/warehouse"
    )
    assert launch.model_uri(Path("saved_models/warehouse")) == "saved_models/warehouse"
    assert launch.model_uri(None) == str(default_model_dir())
