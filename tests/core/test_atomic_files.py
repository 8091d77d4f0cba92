"""Atomic writes: whole files or the previous one, never a replaced link, device or FIFO, and
the debris of killed writers removed (only theirs)."""

import fcntl
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.core import atomic_files
from assistant.core.atomic_files import atomic_open, atomic_write_text, remove_stale_temp_files

REPO = Path(__file__).resolve().parents[2]
# `python -c WRITER PATH MODE`: writes PATH with atomic_open, then dies by SIGKILL ("kill")
# or waits until killed ("live").
WRITER = """
import os, signal, sys, time
from assistant.core.atomic_files import atomic_open
with atomic_open(sys.argv[1]) as handle:
    handle.write("partial")
    handle.flush()
    print("writing", flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(600)
"""


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_failure_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "previous\n")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("partial")
        raise RuntimeError("crash")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "real.txt"
    real.write_text("previous\n")
    real.chmod(0o640)
    os.symlink("data/real.txt", tmp_path / "link.txt")
    os.symlink("data/new.txt", tmp_path / "dangling.txt")
    atomic_write_text(tmp_path / "link.txt", "new\n")
    atomic_write_text(tmp_path / "dangling.txt", "created\n")
    assert os.path.islink(tmp_path / "link.txt") and os.path.islink(tmp_path / "dangling.txt")
    assert real.read_text() == "new\n" and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert (tmp_path / "data" / "new.txt").read_text() == "created\n"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["new.txt", "real.txt"]


def test_a_fifo_or_device_is_written_through(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    atomic_write_text(fifo, "streamed\n")
    reader.join(timeout=30)
    assert received == ["streamed\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError:
        return  # not root: a device we may write cannot be made here (a FIFO is the same path)
    atomic_write_text(tmp_path / "null", "gone\n")
    assert stat.S_ISCHR(os.stat(tmp_path / "null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "null"]


def test_only_stale_unlocked_temp_files_of_the_same_target_are_removed(tmp_path):
    target = tmp_path / "out.txt"
    names = {
        "stale": ".out.txt.ab_cd123.tmp",
        "young": ".out.txt.young123.tmp",
        "locked": ".out.txt.locked12.tmp",
        "other target": ".other.txt.abcd1234.tmp",
        "not mkstemp's": ".out.txt.abc.tmp",
        "no dot": "out.txt.abcd1234.tmp",
    }
    paths = {key: tmp_path / name for key, name in names.items()}
    for key, path in paths.items():
        path.write_text(key)
        if key != "young":
            _age(path)
    os.symlink("out.txt", tmp_path / ".out.txt.symlink1.tmp")
    (tmp_path / ".out.txt.adirect.tmp").mkdir()
    _age(tmp_path / ".out.txt.symlink1.tmp")
    _age(tmp_path / ".out.txt.adirect.tmp")
    holder = os.open(paths["locked"], os.O_RDONLY)  # a live writer holds its lock
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        atomic_write_text(target, "done\n")
    finally:
        os.close(holder)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {*names.values(), "out.txt", ".out.txt.symlink1.tmp",
                    ".out.txt.adirect.tmp"} - {names["stale"]}
    assert remove_stale_temp_files(target) == [paths["locked"]]  # now its writer is gone


def test_a_killed_writers_file_is_removed_and_a_live_writers_kept(tmp_path):
    dead = _writer(tmp_path / "dead.txt", "kill")
    dead.wait(timeout=30)
    live = _writer(tmp_path / "live.txt", "live")
    try:
        (dead_file,) = tmp_path.glob(".dead.txt.*.tmp")
        (live_file,) = tmp_path.glob(".live.txt.*.tmp")
        _age(dead_file)
        _age(live_file)
        assert remove_stale_temp_files(tmp_path / "dead.txt") == [dead_file]
        assert remove_stale_temp_files(tmp_path / "live.txt") == []
        assert live_file.read_text() == "partial"
    finally:
        live.kill()
        live.wait(timeout=30)


def _writer(path: Path, mode: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    return process


def _age(path: Path) -> None:
    old = time.time() - atomic_files.STALE_AFTER_SECONDS - 10
    os.utime(path, (old, old), follow_symlinks=False)


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current
