"""The lines of `convert`'s input: the encoding told by the byte-order mark, decoded line by
line as the bytes arrive.

Input is UTF-8 unless it starts with a byte-order mark (BOM): a UTF-8 BOM is dropped; a
UTF-16 or UTF-32 BOM (little or big endian; Excel's "Unicode text" is UTF-16 LE) makes the
whole input decoded as that encoding. Lines end at "\\n" (so "\\r\\n" too) in the encoding's
code units, so a record never straddles two of them. A line whose bytes are not valid in the
encoding is decoded with U+FFFD replacements and marked invalid, and the next line is read as
usual. An input that starts like UTF-16 without a BOM (a NUL byte every other byte) is
refused (`EncodingError`): read as UTF-8 it would give nonsense records.

A read that fails (EIO, EACCES on a network share, ...) raises `InputError` with the line
it was reading, never a bare `OSError`.
"""

from __future__ import annotations

import codecs
import errno
from collections.abc import Iterator
from typing import IO

CHUNK_BYTES = 64 * 1024  # read at a time (what is available, at most this)
BOMS = (  # UTF-32 first: its LE mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class EncodingError(ValueError):
    """The input's encoding is not one we read; one line."""


class InputError(Exception):
    """Reading the input failed; one line without the path (the caller knows it).

    Attributes:
        error: the `OSError` of the failed read.
        line: the 1-based line that was being read.
    """

    def __init__(self, error: OSError, line: int) -> None:
        self.error, self.line = error, line
        reason = error.strerror or str(error)
        super().__init__(f"cannot read line {line:,} ({reason}); {read_hint(error)}")


class Lines:
    """The lines of a binary stream, decoded, with their line ends, as (text, valid).

    Reads the first bytes at once to choose the encoding.

    Attributes:
        encoding: the codec name ("utf-8", "utf-16-le", ...).
        had_bom: the input started with a byte-order mark.
        bytes_read: the bytes of the lines yielded so far (and of the BOM).
        number: the lines yielded so far.

    Raises:
        EncodingError: the input looks like UTF-16 without a byte-order mark.
        InputError: the first read failed.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.number = 0
        self._read = getattr(stream, "read1", stream.read)
        head = b""
        while len(head) < 4:
            more = self._read_chunk()
            if not more:
                break
            head += more
        self.encoding, bom = _sniff(head)
        self.had_bom = bool(bom)
        self.bytes_read = len(bom)
        self._head = head[len(bom):]

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        for data in self._raw_lines():
            self.bytes_read += len(data)
            self.number += 1
            try:
                yield data.decode(self.encoding), True
            except UnicodeDecodeError:
                yield data.decode(self.encoding, "replace"), False

    def _raw_lines(self) -> Iterator[bytes]:
        newline = "\n".encode(self.encoding)
        unit = len(newline)
        pending: list[bytes] = []  # the pieces of a line not ended yet
        for data in self._chunks(unit):
            start = 0
            while (end := _find_aligned(data, newline, start, unit)) >= 0:
                pending.append(data[start:end + unit])
                yield b"".join(pending)
                pending, start = [], end + unit
            if start < len(data):
                pending.append(data[start:])
        if pending:
            yield b"".join(pending)

    def _chunks(self, unit: int) -> Iterator[bytes]:
        """The input in pieces that start and end on a code unit boundary (but the last)."""
        data, self._head = self._head, b""
        while True:
            whole = len(data) - len(data) % unit
            if whole:
                yield data[:whole]
            more = self._read_chunk()
            if not more:
                if data[whole:]:
                    yield data[whole:]  # a truncated code unit: decoded as U+FFFD
                return
            data = data[whole:] + more

    def _read_chunk(self) -> bytes:
        try:
            return self._read(CHUNK_BYTES) or b""
        except OSError as error:
            raise InputError(error, self.number + 1) from error


def read_hint(error: OSError) -> str:
    """What to do about a failed open or read of the input, for a one-line message."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return "check its permissions (ls -l) or run as a user who may read it"
    if error.errno == errno.EIO:
        return "the disk or network share failed; check it, or copy the file elsewhere, " \
               "and run again"
    return "check the file and run again"


def _sniff(head: bytes) -> tuple[str, bytes]:
    """The encoding of an input that starts with `head`, and its BOM (b"" for none)."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, bom
    if len(head) >= 4:
        little = head[1] == head[3] == 0 and head[0] and head[2]
        big = head[0] == head[2] == 0 and head[1] and head[3]
        if little or big:
            order = "LE" if little else "BE"
            raise EncodingError(f"looks like UTF-16 without a byte-order mark; convert it to "
                                f"UTF-8 (iconv -f UTF-16{order} -t UTF-8) or save it with one")
    return "utf-8", b""


def _find_aligned(data: bytes, newline: bytes, start: int, unit: int) -> int:
    """The first `newline` in `data[start:]` that starts on a code unit boundary, or -1."""
    found = data.find(newline, start)
    while found >= 0 and found % unit:
        found = data.find(newline, found + 1)
    return found
