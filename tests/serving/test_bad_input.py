"""`python -m assistant export` against bad input: output directories, options, kills.

Usage problems are one line on stderr naming the path or value given, exit code 2, before
the model loads; the build folders a killed export left are removed by the next export,
and nothing else is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from assistant.cli.args import EXIT_OK, EXIT_USAGE
from assistant.cli.main import main
from assistant.serving import build_folders
from assistant.serving.build_folders import build_folder, remove_stale_build_folders

DAY = 24 * 3600.0


def _file(tmp_path, name="file"):
    (tmp_path / name).write_text("not a directory", encoding="utf-8")
    return str(tmp_path / name)


def _under_file(tmp_path):
    return str(tmp_path / _file(tmp_path) / "served")


def _broken_link(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    return str(tmp_path / "link")


def _taken(tmp_path):
    (tmp_path / "taken" / "3").mkdir(parents=True)
    return str(tmp_path / "taken")


# (case, --out given the test's tmp_path, more arguments, what the one line says)
USAGE_CASES = [
    ("empty --out", lambda tmp: "", [], "--out '' is empty: give the directory"),
    ("blank --out", lambda tmp: "  ", [], "--out '  ' is empty: give the directory"),
    ("--out a file", _file, [], "cannot write {out}: {out} is not a directory (give --out"),
    ("--out under a file", _under_file, [], "cannot write {out}: {tmp}/file is not a directory"),
    ("--out a broken link", _broken_link, [], "cannot write {out}: {out} is a broken symbolic "
     "link (to {tmp}/gone); fix it or choose another --out"),
    ("version taken", _taken, ["--version", "3"], "{out}/3 already exists (choose another "
     "--version)"),
    ("version 0", lambda tmp: str(tmp / "out"), ["--version", "0"],
     "--version must be at least 1, got 0"),
    ("max-beam 0", lambda tmp: str(tmp / "out"), ["--max-beam", "0"],
     "--max-beam must be in [1, 64], got 0"),
    ("max-beam 65", lambda tmp: str(tmp / "out"), ["--max-beam", "65"],
     "--max-beam must be in [1, 64], got 65"),
    ("sampling", lambda tmp: str(tmp / "out"), ["--sample"], "sampling options are not "
     "supported (--sample)"),
    ("top-k", lambda tmp: str(tmp / "out"), ["--top-k", "3"], "not supported (--top-k)"),
    ("n-best", lambda tmp: str(tmp / "out"), ["--nbest", "2"], "--nbest is not supported"),
]


def refuse_to_load(model_dir):
    raise AssertionError("the model was loaded before a usage error was reported")


@pytest.mark.parametrize(("case", "out", "more", "message"), USAGE_CASES,
                         ids=[c[0] for c in USAGE_CASES])
def test_usage_errors_are_one_line_before_the_model_loads(tmp_path, capsys, case, out, more,
                                                          message):
    given = out(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code = main(["export", "--out", given, *more], load_assistant=refuse_to_load)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("error: ") and message.format(out=given, tmp=tmp_path) in err, err
    assert err.count("\n") == 1, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing created
    assert not os.path.exists("served") and not os.path.exists("1")


def test_a_read_only_directory_is_named_before_the_model_loads(tmp_path, capsys, monkeypatch):
    # As root every directory is writable, so the check is shown its answer.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    code = main(["export", "--out", str(tmp_path / "new" / "served")],
                load_assistant=refuse_to_load)
    assert code == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: cannot write {tmp_path}/new/served: {tmp_path} is not writable (fix its "
        "permissions or choose another --out)\n")


def make(tmp_path, name, age=0.0, file=False):
    path = tmp_path / name
    if file:
        path.write_text("x")
    else:
        path.mkdir()
        (path / "saved_model").mkdir()
        (path / "saved_model" / "saved_model.pb").write_bytes(b"partial")
    stamp = time.time() - age
    for item in (*(() if file else path.rglob("*")), path):
        os.utime(item, (stamp, stamp), follow_symlinks=False)
    return path


# (name, age in seconds, removed?): only unlocked folders of ours, past their age.
STALE_CASES = [
    (".1.building-4242-abcd1234", 60.0, True),  # names a pid, unlocked: its writer is gone
    (".12.building-4242-abcd1234", DAY + 60, True),
    (".1.building-4242-abcd1234", 1.0, False),  # just made: maybe not locked yet
    (".3.building-abcd1234", DAY + 60, True),  # an older export's name: the age rule
    (".3.building-abcd1234", DAY - 60, False),
    (".building-abcd1234", DAY + 60, False),  # not an export's name
    ("1.building-abcd1234", DAY + 60, False),
    (".x.building-abcd1234", DAY + 60, False),
    (".1.building-", DAY + 60, False),
    (".1.building-4242-ab.cd", DAY + 60, False),
    ("1", DAY + 60, False),  # a version
    (".notes", DAY + 60, False),
]


@pytest.mark.parametrize(("name", "age", "removed"), STALE_CASES,
                         ids=[f"{c[0]} {c[1]:.0f}s" for c in STALE_CASES])
def test_only_our_stale_build_folders_are_removed(tmp_path, name, age, removed):
    folder = make(tmp_path, name, age)
    assert remove_stale_build_folders(tmp_path) == ([folder] if removed else [])
    assert folder.exists() is not removed


def test_files_and_links_of_our_name_are_left(tmp_path):
    make(tmp_path, ".1.building-4242-abcd1234", DAY * 2, file=True)
    target = make(tmp_path, "elsewhere", DAY * 2)
    (tmp_path / ".2.building-4242-abcd1234").symlink_to(target)
    (tmp_path / ".3.building-abcd1234").symlink_to(tmp_path / "gone")
    assert remove_stale_build_folders(tmp_path) == []
    assert (target / "saved_model" / "saved_model.pb").exists()
    assert len(list(tmp_path.iterdir())) == 4


def test_a_locked_folder_is_kept_however_old(tmp_path):
    with build_folder(tmp_path, 1) as folder:
        assert folder.name.startswith(f".1.building-{os.getpid()}-")
        assert remove_stale_build_folders(tmp_path, now=time.time() + 10 * DAY) == []
        assert folder.exists()
    assert list(tmp_path.iterdir()) == []  # removed at exit


def test_without_locks_only_the_age_rule_applies(tmp_path, monkeypatch):
    monkeypatch.setattr(build_folders, "fcntl", None)
    young = make(tmp_path, ".1.building-4242-abcd1234", 60.0)
    old = make(tmp_path, ".2.building-4242-abcd1234", DAY + 60)
    assert remove_stale_build_folders(tmp_path) == [old]
    assert young.exists()


# Runs the export command in a child whose SavedModel writer never returns, so the test can
# kill it -9 while its build folder exists.
HANGING_EXPORT = r"""
import sys, time
import tensorflow as tf
from assistant.cli.main import main
tf.saved_model.save = lambda *args, **kwargs: time.sleep(600)
sys.exit(main(["export", "--model", sys.argv[1], "--out", sys.argv[2], "--ids-only",
               "--no-xla"]))
"""


@pytest.mark.slow
def test_the_next_export_removes_what_a_kill_left(bundle, tmp_path, capsys):
    out = tmp_path / "served"
    child = subprocess.Popen([sys.executable, "-c", HANGING_EXPORT, str(bundle), str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        debris = _wait_for_build_folder(out, child)
        assert remove_stale_build_folders(out, now=time.time() + 10 * DAY) == []  # alive
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert debris.exists()  # kill -9: no cleanup ran
    old = time.time() - 60
    os.utime(debris, (old, old))
    make(out, ".notes")
    assert main(["export", "--model", str(bundle), "--out", str(out), "--ids-only",
                 "--no-xla"]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.err == (f"removed 1 build folder(s) left by a killed export: "
                            f"{debris.name}\n")
    assert captured.out.startswith(f"wrote {out / '1'} (")
    assert sorted(p.name for p in out.iterdir()) == [".notes", "1"]


def _wait_for_build_folder(out, child, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(out.glob(".1.building-*")) if out.is_dir() else []
        if found and (found[0] / "tokenizer.model").exists():
            return found[0]
        assert child.poll() is None, "the export ended before it was killed"
        time.sleep(0.05)
    raise AssertionError("no build folder appeared")
