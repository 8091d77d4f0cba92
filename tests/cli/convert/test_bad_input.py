"""The bad-input matrix of `convert` (issue 17), on the fake model.

Every input the readers accept gets one output record per input record, in input order,
answered or flagged, in every output format; every input or output they cannot take is
refused in one line naming it (before the model loads when it can be); an interruption
leaves no partial file, and a kill's debris is removed by the next run.
"""

import csv
import dataclasses
import errno
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from assistant.cli.convert.formats import INVALID_UTF8
from assistant.cli.convert.writers import one_line
from assistant.cli.main import main
from assistant.core import atomic_files
from tests.cli.convert.fakes import REPO, SLOW_FAKE, FakeAssistant, char_device, write

HUGE = "x" * 1_000_000
FIELD = "y" * 200_000  # over Python's default CSV field limit of 131,072


@dataclasses.dataclass(frozen=True)
class Case:
    """An input file and what its records must become, in order."""

    file: str
    data: bytes
    replies: list[str]
    flags: list[str]  # per record: a substring of its first flag, or "" for no flag
    fields: dict = dataclasses.field(default_factory=dict)  # record -> {key: value} (jsonl)


def jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


RECORDS = {
    "empty file": Case("in.txt", b"", [], []),
    "whitespace only": Case("in.txt", b"  \n\t\n\n", ["", "", ""], ["empty input"] * 3),
    "no final newline": Case("in.txt", b"a\nb", ["A", "B"], ["", ""]),
    "CRLF": Case("in.txt", b"a\r\nb\r\n", ["A", "B"], ["", ""]),
    "huge line": Case("in.txt", f"a\n{HUGE}\nb\n".encode(), ["A", "", "B"],
                      ["", f"input too long: {len(HUGE):,} characters", ""]),
    "over the model's limit": Case("in.txt", b"a\n" + b"z" * 70 + b"\n", ["A", ""],
                                   ["", "input too long: 70 pieces"]),
    "invalid UTF-8": Case("in.txt", b"ok\nbad \xff\xfe\n", ["OK", "BAD \ufffd\ufffd"],
                          ["", INVALID_UTF8]),
    "UTF-8 BOM": Case("in.txt", "\ufeffa\nb\n".encode(), ["A", "B"], ["", ""]),
    "UTF-16 LE BOM": Case("in.txt", "\ufeffCV07:E217 T=85\r\nb\n\u0a00c\n".encode("utf-16-le"),
                          ["CV07:E217 T=85", "B", "\u0a00C"], ["", "", ""]),
    "UTF-16 BE BOM csv": Case("in.csv", "\ufeffsource,id\nx,1\n\"two\nlines\",2\n".encode(
        "utf-16-be"), ["X", "TWO\nLINES"], ["", ""], {1: {"id": "2"}}),
    "UTF-32 BOM jsonl": Case("in.jsonl", '\ufeff{"source": "q"}\n{"source": "r"}\n'.encode(
        "utf-32-le"), ["Q", "R"], ["", ""]),
    "UTF-16 lone surrogate": Case("in.txt", "\ufeffa\n".encode("utf-16-le") + b"\x00\xd8\n\x00"
                                  + "b\n".encode("utf-16-le"), ["A", "\ufffd", "B"],
                                  ["", "invalid UTF-16", ""]),
    "UTF-16 odd length": Case("in.txt", "\ufeffa\nb".encode("utf-16-le") + b"\x00",
                              ["A", "B\ufffd"], ["", "invalid UTF-16"]),
    "ragged CSV": Case("in.csv", b"source,b\nshort\nlong,x,y\n\nok,1\n",
                       ["SHORT", "LONG", "", "OK"],
                       ["row has 1 fields", "row has 3 fields", "empty input", ""]),
    "malformed CSV": Case("in.csv", b'source,b\n"bad"quote,z\nok,1\n', ["", "OK"],
                          ["malformed CSV", ""]),
    "CSV field over 131,072 characters": Case(
        "in.csv", f'id,source,note\n1,"{FIELD}",kept\n2,ok,n\n'.encode(), ["", "OK"],
        [f"input too long: {len(FIELD):,} characters", ""], {0: {"id": "1", "note": "kept"}}),
    "non-object JSONL": Case("in.jsonl", jsonl('{"source": "ok"}', "[1]", "3", '"s"', "null",
                                               "", "{oops"),
                             ["OK", "", "", "", "", "", ""],
                             ["", "but an array", "but a number", "but a string", "but null",
                              "empty line", "invalid JSON"]),
    "NaN and Infinity in JSONL": Case(
        "in.jsonl", jsonl('{"source": "a", "v": NaN}', '{"source": "b", "v": [-Infinity]}',
                          '{"source": "c", "v": 1e999}'), ["A", "B", "C"],
        ["not JSON: NaN", "not JSON: -Infinity", "not JSON: 1e999"], {0: {"v": None}}),
    "JSONL integer of 5,000 digits": Case("in.jsonl", jsonl('{"source": ' + "1" * 5000 + "}",
                                                            '{"source": "ok"}'),
                                          ["", "OK"], ["invalid JSON: Exceeds the limit", ""]),
    "JSONL nested too deeply": Case("in.jsonl", jsonl('{"source": "ok"}', "[" * 100_000),
                                    ["OK", ""], ["", "invalid JSON: nested too deeply"]),
    "JSONL lone surrogate": Case("in.jsonl", jsonl('{"source": "CV07:E217 \\udcff"}'),
                                 ["CV07:E217 \ufffd"], ["lone surrogate"]),
}


@pytest.mark.parametrize("out_format", ["jsonl", "csv", "txt"])
@pytest.mark.parametrize("name", RECORDS)
def test_one_output_record_per_input_record_in_order(name, out_format, convert, tmp_path,
                                                     capsys):
    case = RECORDS[name]
    source = write(tmp_path / case.file, case.data)
    target = tmp_path / f"out.{out_format}"
    default_limit = csv.field_size_limit(131_072)  # Python's default, whatever ran before
    try:
        assert convert(source, "-o", target) == 0
    finally:
        csv.field_size_limit(default_limit)
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"convert: {len(case.replies)} records, "
                              f"{sum(map(bool, case.flags))} flagged, ")
    if out_format == "txt":  # flags go to stderr, one line per flagged record
        assert target.read_text(encoding="utf-8").split("\n") == [
            one_line(reply) for reply in case.replies] + [""]
        reported = [line for line in err[:-1] if line.startswith(f"{source}:")]
        assert len(reported) == sum(map(bool, case.flags))
        assert all(flag in line for flag, line in zip(
            [flag for flag in case.flags if flag], reported, strict=True))
        return
    replies, flags, objects = _read_output(target, out_format)
    assert replies == case.replies
    assert [flag in found if flag else found == "" for flag, found in zip(
        case.flags, flags, strict=True)] == [True] * len(case.flags), flags
    for index, expected in case.fields.items():
        if out_format == "jsonl" or case.file.endswith(".csv"):
            assert expected.items() <= objects[index].items()


REFUSED = {  # name: (argv after `convert`, exit code, message); {tmp} is the test's folder
    "UTF-16 without a BOM": (["{tmp}/in.txt"], 2,
                             "{tmp}/in.txt: looks like UTF-16 without a byte-order mark"),
    "no such input": (["{tmp}/missing.txt"], 2, "{tmp}/missing.txt: no such file"),
    "unreadable input (EACCES)": (["{tmp}/secret.txt"], 2, "{tmp}/secret.txt: cannot read "
                                  "(Permission denied); check its permissions"),
    "input I/O error (EIO)": (["/proc/self/mem"], 1, "/proc/self/mem: cannot read line 1 "
                              "(Input/output error); the disk or network share failed"),
    "-o empty": (["-o", ""], 2, "-o '': empty file name"),
    "-o missing directory": (["-o", "{tmp}/nope/out.txt"], 2,
                             "{tmp}/nope/out.txt: no such directory {tmp}/nope"),
    "-o through a file": (["-o", "{tmp}/in.txt/out.txt"], 2,
                          "{tmp}/in.txt/out.txt: cannot write there (Not a directory)"),
    "-o a directory": (["-o", "{tmp}"], 2, "{tmp}: is a directory"),
    "-o read-only directory": (["-o", "{tmp}/ro/out.txt"], 2,
                               "{tmp}/ro/out.txt: cannot create files in {tmp}/ro "
                               "(permission denied)"),
    "-o read-only file": (["-o", "{tmp}/ro.txt"], 2, "{tmp}/ro.txt: is read-only"),
    "-o symlink loop": (["-o", "{tmp}/loop"], 2,
                        "{tmp}/loop: cannot write there (Too many levels of symbolic links)"),
    "-o socket": (["-o", "{tmp}/s"], 2, "{tmp}/s: is a socket"),
    "-o link to the input": (["-o", "{tmp}/link.txt"], 2, "{tmp}/link.txt: the output would "
                             "replace the input"),
    "-o full device (ENOSPC)": (["-o", "{tmp}/full"], 1, "cannot write (No space left on "
                                "device); free some space"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_in_one_line_naming_the_path(name, fake, convert, tmp_path, monkeypatch,
                                             capsys):
    argv, code, message = REFUSED[name]
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    _prepare_refusal(name, tmp_path, monkeypatch)
    if argv[0] == "-o":
        if name.endswith("(ENOSPC)"):
            argv[1] = str(char_device(tmp_path / "full", "full"))
            message = message.replace("{tmp}/full", argv[1])
        argv.insert(0, str(tmp_path / "in.txt"))
    assert convert(*argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.format(tmp=tmp_path) in err, err
    assert fake.loads == (1 if code == 1 and argv[0] != "/proc/self/mem" else 0)
    assert not list(tmp_path.rglob(".*.tmp"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out")]


def test_o_writes_through_devices_fifos_and_symlinks(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.txt", "a\nb\n")
    null = char_device(tmp_path / "null", "null")
    write(tmp_path / "real.txt", "previous\n").chmod(0o640)
    links = {"link.txt": "real.txt", "dangling.txt": "new.txt", "null_link": str(null)}
    for link, points_to in links.items():
        os.symlink(points_to, tmp_path / link)
    os.mkfifo(tmp_path / "fifo")
    received = []
    reader = threading.Thread(target=lambda: received.append(
        (tmp_path / "fifo").read_text()), daemon=True)
    reader.start()
    outs = {}
    for target in [null, *links, "fifo", "/dev/fd/1"]:  # /dev/stdout: see test_outputs
        assert convert(source, "-o", tmp_path / target) == 0, target
        outs[target], err = capsys.readouterr()
        assert err.startswith("convert: 2 records, 0 flagged"), err
    reader.join(timeout=30)
    assert stat.S_ISCHR(os.stat(null).st_mode)  # still the device
    assert all(os.path.islink(tmp_path / link) for link in links)  # still links
    assert (tmp_path / "real.txt").read_text() == "A\nB\n"
    assert stat.S_IMODE((tmp_path / "real.txt").stat().st_mode) == 0o640
    assert (tmp_path / "new.txt").read_text() == "A\nB\n"
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode) and received == ["A\nB\n"]
    assert outs == {**dict.fromkeys([null, *links, "fifo"], ""), "/dev/fd/1": "A\nB\n"}
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("how", ["Ctrl-C", "SIGTERM"])
def test_interrupted_run_keeps_the_previous_file_and_a_rerun_completes(how, tmp_path, capsys):
    lines = [f"line {i}" for i in range(20)]
    source = write(tmp_path / "in.txt", "".join(f"{line}\n" for line in lines))
    target = write(tmp_path / "out.txt", "previous\n")
    argv = ["convert", str(source), "-o", str(target), "--batch-size", "4", "--window", "4"]
    if how == "Ctrl-C":
        interrupted = FakeAssistant(interrupt_at=2)
        assert main(argv, load_assistant=lambda _: interrupted) == 130
        assert capsys.readouterr().err == "interrupted\n"
    else:
        process = _slow_convert(source, target)
        _wait_for(lambda: list(tmp_path.glob(".out.txt.*.tmp")))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.txt"]
    assert main(argv, load_assistant=lambda _: FakeAssistant()) == 0
    assert target.read_text().splitlines() == [line.upper() for line in lines]


def test_kill_9_debris_is_removed_by_the_next_run_on_the_same_target(tmp_path, capsys):
    lines = [f"line {i}" for i in range(20)]
    source = write(tmp_path / "in.txt", "".join(f"{line}\n" for line in lines))
    target = tmp_path / "out.txt"
    process = _slow_convert(source, target)
    debris = _wait_for(lambda: list(tmp_path.glob(".out.txt.*.tmp")))
    process.kill()
    process.wait(timeout=30)
    other = write(tmp_path / ".other.txt.abcd1234.tmp", "not the same target\n")
    young = write(tmp_path / ".out.txt.young123.tmp", "maybe a live writer's\n")
    for path in [*debris, other]:
        old = time.time() - atomic_files.STALE_AFTER_SECONDS - 10
        os.utime(path, (old, old))
    assert main(["convert", str(source), "-o", str(target)],
                load_assistant=lambda _: FakeAssistant()) == 0
    assert target.read_text().splitlines() == [line.upper() for line in lines]
    assert not any(path.exists() for path in debris)
    assert other.exists() and young.exists()


def _slow_convert(source: pathlib.Path, target: pathlib.Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLOW_FAKE, "convert", str(source), "-o",
                             str(target), "--batch-size", "1"], cwd=REPO,
                            stderr=subprocess.DEVNULL)


def _wait_for(found, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result, "timed out"
    return result


def _prepare_refusal(name: str, tmp: pathlib.Path, monkeypatch) -> None:
    if name == "UTF-16 without a BOM":
        write(tmp / "in.txt", "a\nb\n".encode("utf-16-le"))
        return
    write(tmp / "in.txt", "a\nb\n")
    if name.startswith("unreadable"):
        secret = write(tmp / "secret.txt", "a\n")
        _deny(monkeypatch, secret, "open")
    elif name == "-o read-only directory":
        (tmp / "ro").mkdir()
        (tmp / "ro").chmod(0o555)
        _deny(monkeypatch, tmp / "ro", "access")
    elif name == "-o read-only file":
        write(tmp / "ro.txt", "keep\n").chmod(0o444)
        _deny(monkeypatch, tmp / "ro.txt", "access")
    elif name == "-o symlink loop":
        os.symlink("loop", tmp / "loop")
    elif name == "-o socket":
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(tmp / "s"))  # the socket file outlives the socket
    elif name == "-o link to the input":
        os.symlink("in.txt", tmp / "link.txt")


def _deny(monkeypatch, path: pathlib.Path, how: str) -> None:
    """What a user who is not root meets: `path` cannot be opened, or os.access says no."""
    if how == "open":
        path.chmod(0)
    if os.geteuid() != 0:
        return  # the chmod does it
    if how == "access":
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if pathlib.Path(
            p) == path else real(p, mode, **kw))
        return
    real_open = pathlib.Path.open

    def fake_open(self, *args, **kwargs):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", fake_open)


def _read_output(target: pathlib.Path, out_format: str) -> tuple[list, list, list[dict]]:
    """The replies, the flags (joined) and the records (as dicts) of a csv or jsonl output;
    a jsonl output must be strict JSON (no NaN, no Infinity)."""
    if out_format == "jsonl":
        text = target.read_text(encoding="utf-8")
        objects = [json.loads(line, parse_constant=_not_json) for line in text.splitlines()]
        return ([o["reply"] for o in objects], ["; ".join(o["flags"]) for o in objects],
                objects)
    limit = csv.field_size_limit(10**8)
    try:
        with target.open(encoding="utf-8-sig", newline="") as handle:
            header, *rows = list(csv.reader(handle))
    finally:
        csv.field_size_limit(limit)
    objects = [dict(zip(header, row, strict=True)) for row in rows]
    return [o["reply"] for o in objects], [o["flags"] for o in objects], objects


def _not_json(name: str):
    raise AssertionError(f"{name} in a JSONL output")
