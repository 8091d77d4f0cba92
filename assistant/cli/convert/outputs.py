"""Where `convert` writes: checked before the model loads, and never replaced by something else.

What `-o` names decides how it is written:

- a regular file, new or existing: atomically (`assistant.core.atomic_files`), into a
  temporary `.NAME.XXXXXXXX.tmp` beside it renamed over it when done; after Ctrl-C, SIGTERM
  or an error the target is absent or holds its previous content;
- a symlink: the file it points to, as above; the link stays a link;
- a character device (`/dev/null`) or a FIFO: written to as a stream, window by window (no
  temporary file, no rename); after an interruption it has received what was written;
- `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`: that descriptor, as it is (like `-o -`), so a
  shell's `>> log` still appends.

Refused with one line naming the path as given, before the model loads: an empty name, a
directory, a block device or socket, a missing directory, a directory where no file can be
created (permissions, read-only file system), an existing file that is read-only, a symlink
loop, and the input file itself. A write that fails later (disk full, I/O error) is one line
naming the path too (`OutputError`, exit code 1); a regular file then keeps its previous
content.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from assistant.cli import args as cli
from assistant.core.atomic_files import atomic_open

STDIO = "-"
DESCRIPTORS = {"/dev/stdout": 1, "/dev/stderr": 2}
DESCRIPTOR_PATH = re.compile(r"/(?:dev|proc/self)/fd/(\d+)")


class OutputError(Exception):
    """Writing the output failed; one line naming the path."""


@dataclasses.dataclass(frozen=True)
class Output:
    """Where the records go.

    Attributes:
        shown: the path as the user gave it, for messages ("<stdout>" for stdout).
        path: the file to write, or None for stdout.
        fd: the open descriptor `path` names (/dev/stdout, /dev/fd/N), else None.
        streamed: written as a stream (stdout, a descriptor, a device, a FIFO), not
            replaced atomically.
    """

    shown: str
    path: Path | None = None
    fd: int | None = None
    streamed: bool = True


def check_output(value: str | None, source: Path | None = None) -> Output:
    """The output `-o VALUE` names, checked so that writing it can only fail for a reason
    that comes later (a full disk).

    Args:
        value: the `-o` argument; None or "-" for stdout.
        source: the input file (None for stdin); the output may not replace it.

    Raises:
        UsageError: the path cannot or must not be written (one line naming it).
    """
    if value in (None, STDIO):
        return Output("<stdout>")
    if not value:
        raise cli.UsageError("-o '': empty file name; give a file name, or - for stdout")
    fd = _descriptor(value)
    if fd is not None:
        return Output(value, Path(value), fd)
    path = Path(value)
    try:
        info = os.stat(path)
    except FileNotFoundError:  # a new file (or a dangling link: the file it points to)
        real = Path(os.path.realpath(path)) if os.path.islink(path) else path
        _check_directory(value, real.parent, str(real.parent) if real != path else None)
        return Output(value, path, streamed=False)
    except OSError as error:  # a symlink loop, a path through a file, ...
        raise cli.UsageError(f"{value}: cannot write there ({error.strerror}); "
                             "choose another -o") from None
    _check_existing(value, path, info, source)
    return Output(value, path, streamed=not stat.S_ISREG(info.st_mode))


@contextlib.contextmanager
def open_output(output: Output) -> Iterator[IO[str]]:
    """The output as UTF-8 text with newline="" (see the module docstring for how).

    Raises:
        OutputError: opening or writing failed (one line naming the path).
    """
    try:
        if output.path is None or output.fd == 1:
            with _stdout() as handle:
                yield handle
        elif output.fd is not None:
            with os.fdopen(os.dup(output.fd), "w", encoding="utf-8", newline="") as handle:
                yield handle
        else:
            with atomic_open(output.path, "w", encoding="utf-8", newline="") as handle:
                yield handle
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not an error of ours
    except OSError as error:
        raise OutputError(f"{output.shown}: cannot write ({error.strerror or error}); "
                          f"{_write_hint(error, output)}") from error


def _descriptor(value: str) -> int | None:
    """The descriptor a /dev/stdout-like path names, or None; raises if it is not open."""
    if value in DESCRIPTORS:
        fd = DESCRIPTORS[value]
    elif match := DESCRIPTOR_PATH.fullmatch(value):
        fd = int(match.group(1))
    else:
        return None
    try:
        os.fstat(fd)
    except OSError:
        raise cli.UsageError(f"{value}: descriptor {fd} is not open; give a file name "
                             "with -o") from None
    return fd


def _check_existing(value: str, path: Path, info: os.stat_result, source: Path | None) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise cli.UsageError(f"{value}: is a directory; give a file name with -o")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if not os.access(path, os.W_OK):
            raise cli.UsageError(f"{value}: cannot write to this "
                                 f"{'FIFO' if stat.S_ISFIFO(mode) else 'device'} "
                                 "(permission denied); choose another -o")
        return  # written to as a stream
    if not stat.S_ISREG(mode):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(
            mode) else "not a regular file"
        raise cli.UsageError(f"{value}: is {kind}, which convert does not write; give a "
                             "file name with -o")
    if source is not None and _same_file(source, info):
        raise cli.UsageError(f"{value}: the output would replace the input it is reading; "
                             "choose another -o")
    if not os.access(path, os.W_OK):
        raise cli.UsageError(f"{value}: is read-only; choose another -o, or make it "
                             "writable (chmod u+w)")
    real = Path(os.path.realpath(path))
    _check_directory(value, real.parent, str(real.parent) if os.path.islink(path) else None)


def _check_directory(value: str, directory: Path, shown: str | None) -> None:
    """Raises unless a file can be created in `directory` (where the output's temporary file
    goes); `shown` names it when the user did not (the directory of a link's target)."""
    where = shown or str(directory)
    if not directory.exists():
        raise cli.UsageError(f"{value}: no such directory {where}; create it first or "
                             "choose another -o")
    if not directory.is_dir():
        raise cli.UsageError(f"{value}: {where} is not a directory; choose another -o")
    if not os.access(directory, os.W_OK | os.X_OK):
        if _read_only_file_system(directory):
            raise cli.UsageError(f"{value}: cannot create files in {where} (read-only file "
                                 "system); choose another -o")
        raise cli.UsageError(f"{value}: cannot create files in {where} (permission "
                             "denied); choose another -o or change its permissions")


def _same_file(source: Path, info: os.stat_result) -> bool:
    try:
        other = os.stat(source)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino)


def _read_only_file_system(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _write_hint(error: OSError, output: Output) -> str:
    kept = "" if output.streamed else f" ({output.shown} is left as it was)"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space or choose another -o{kept}"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"choose another -o or change its permissions{kept}"
    return f"check the disk or choose another -o{kept}"


@contextlib.contextmanager
def _stdout() -> Iterator[IO[str]]:
    """Stdout as UTF-8 text whatever the locale, left open afterwards."""
    sys.stdout.flush()
    handle = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        yield handle
        handle.flush()
    finally:
        handle.detach()  # leave sys.stdout's buffer open
