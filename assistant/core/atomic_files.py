"""Small file helpers shared by every surface: atomic writes that never replace what a path
names with something else, and the cleanup of what a killed writer left.

`atomic_open(path)` writes a regular file atomically: into a temporary file
`.NAME.XXXXXXXX.tmp` beside it (the 8 characters are `tempfile.mkstemp`'s), renamed over it
only on success, so after an exception, Ctrl-C or SIGTERM the target is absent or still the
previous file, never a partial one. An existing file keeps its permission bits. What the path
names is never swapped for something else:

- a symlink is followed: the file it points to is replaced atomically (or created), and the
  link stays a link;
- a character device, FIFO or socket is opened and written to directly, as a stream (no
  temporary file, no rename, no fsync): `/dev/null` stays a device and a FIFO's reader gets
  the data as it is written. What was written before an interruption stays written.

Stale temporary files: a writer killed by SIGKILL (or a power cut) cannot remove its
temporary file. Every `atomic_open` first removes the ones that dead writers left beside the
same target (`remove_stale_temp_files`). A file is removed only if all of these hold:

1. its name is `.NAME.` + 8 characters of `[a-z0-9_]` + `.tmp`, NAME being this target's;
2. it is a regular file, not a link;
3. it was last modified more than `STALE_AFTER_SECONDS` ago; and
4. no process holds its lock: every writer holds an exclusive `flock` on its temporary file
   from creation until the rename, and the kernel drops the lock when the writer dies, even
   by SIGKILL. A file whose lock cannot be tested (a file system without locks) is kept.

So a slow writer that is still alive never loses its file, whatever its age. Cleanup is best
effort: a file that cannot be removed is left, and never fails the write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

STALE_AFTER_SECONDS = 60  # a temporary file younger than this is never removed


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Opens a temporary file beside `path`; renames it over `path` only on success.

    After an exception (or a kill) the target is either absent or still the previous file,
    never a partial one. A symlink is followed; a device, FIFO or socket is written to as a
    stream (see the module docstring).

    Raises:
        OSError: the file cannot be created or written (the temporary file is removed).
    """
    path = Path(path)
    existing = _stat(path)
    if existing is not None and not stat.S_ISREG(existing.st_mode) \
            and not stat.S_ISDIR(existing.st_mode):
        with open(path, mode, **kwargs) as handle:  # a device or FIFO: never replaced
            yield handle
        return
    if os.path.islink(path):
        path = Path(os.path.realpath(path))  # replace the file the link points to
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    permissions = existing.st_mode & 0o777 if existing else 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _lock(fd)  # held until the rename: tells remove_stale_temp_files we are alive
        os.fchmod(fd, permissions)  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp_name, path)  # still locked: no cleaner can take it meanwhile
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` as UTF-8 to `path` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Removes the temporary files that dead writers of `path` left beside it.

    Only files that satisfy every rule of the module docstring are removed.

    Returns:
        The files removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_AFTER_SECONDS \
                    and _remove_if_unlocked(entry.path):
                removed.append(Path(entry.path))
    return removed


def _stat(path: Path) -> os.stat_result | None:
    """`os.stat` (following links), or None if nothing (or a dangling link) is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _lock(fd: int) -> None:
    # On a file system without locks this fails; cleaners cannot lock it either: they keep it.
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_if_unlocked(name: str) -> bool:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return False  # its writer is alive (EWOULDBLOCK), or we cannot tell: keep it
        os.unlink(name)
        return True
    finally:
        os.close(fd)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
