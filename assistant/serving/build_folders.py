"""The folders an export builds a version in, and the removal of those a killed export left.

An export builds `EXPORT_DIR/<N>/` in `EXPORT_DIR/.<N>.building-<pid>-<random>/` and renames
the finished SavedModel to `<N>`, so a server never sees a partial version. While it builds,
the export holds an exclusive `flock` on its folder; the kernel drops the lock when the
process ends, however it ends (kill -9 included), and the folder is removed on any exit
that runs Python's cleanup.

The next export into the same EXPORT_DIR removes the folders a killed export left, and
nothing else. An entry is removed only when all of these hold:

- it is a directory (not a symbolic link) directly in EXPORT_DIR, named
  `.<digits>.building-<suffix>`: the name only an export gives;
- its writer is gone: either the folder names a pid (`.<N>.building-<pid>-<random>`, what
  this version writes), nobody holds its lock and it is at least `LOCK_GRACE_SECONDS` old
  (the instant between creating and locking it); or, when the lock cannot tell (a name
  without a pid, written by an older version, or a filesystem without `flock`, such as some
  network filesystems), nothing in it has changed for `UNLOCKED_STALE_SECONDS`.

A folder that cannot be removed is left as it is; cleaning never fails an export.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: the age rule alone
    fcntl = None

LOCK_GRACE_SECONDS = 5.0  # an unlocked, pid-named folder younger than this may be just made
UNLOCKED_STALE_SECONDS = 24 * 3600.0  # no export runs this long without writing anything

_NAME = re.compile(r"\.\d+\.building-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+")


@contextlib.contextmanager
def build_folder(out_dir: Path, version: int) -> Iterator[Path]:
    """A new build folder for `version` in `out_dir`, locked while in use, removed at exit.

    Yields:
        The folder's path (`out_dir/.<version>.building-<pid>-<random>`).
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{version}.building-{os.getpid()}-", dir=out_dir))
    descriptor = None
    try:
        descriptor = _lock(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if descriptor is not None:
            os.close(descriptor)


def remove_stale_build_folders(out_dir: Path, now: float | None = None) -> list[Path]:
    """Removes the build folders of exports that were killed (see the module's rule).

    Args:
        out_dir: the EXPORT_DIR to clean.
        now: the current time (seconds since the epoch; default: `time.time()`).

    Returns:
        The folders removed, in name order.
    """
    now = time.time() if now is None else now
    try:
        entries = sorted(Path(out_dir).iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            gone = _writer_gone(entry, match.group("pid") is not None, now)
        except OSError:  # removed meanwhile, or unreadable: leave it
            continue
        if gone:
            shutil.rmtree(entry, ignore_errors=True)
            if not os.path.lexists(entry):
                removed.append(entry)
    return removed


def _writer_gone(folder: Path, names_pid: bool, now: float) -> bool:
    """True when the export that built in `folder` has ended (see the module's rule)."""
    if names_pid:
        locked = _held_by_another(folder)
        if locked is not None:
            return not locked and now - folder.stat().st_mtime >= LOCK_GRACE_SECONDS
    return now - _newest_change(folder) >= UNLOCKED_STALE_SECONDS


def _lock(folder: Path) -> int | None:
    """Takes an exclusive lock on `folder`; returns its descriptor (None: no locking here)."""
    if fcntl is None:
        return None
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)  # a filesystem without flock: the age rule applies
        return None
    return descriptor


def _held_by_another(folder: Path) -> bool | None:
    """Whether some process holds `folder`'s lock; None when locks cannot tell."""
    if fcntl is None:
        return None
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(descriptor)  # closing releases a lock this took
    return False


def _newest_change(folder: Path) -> float:
    """The latest modification time of `folder` and everything in it."""
    newest = folder.lstat().st_mtime
    for root, directories, files in os.walk(folder):
        for name in (*directories, *files):
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest
