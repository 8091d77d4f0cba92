"""Input lines: the encoding from the byte-order mark, line ends on code unit boundaries,
read as the bytes arrive, read errors with their line."""

import errno
import io

import pytest

from assistant.cli.convert import lines as lines_module
from assistant.cli.convert.lines import EncodingError, InputError, Lines

TEXT = "CV07:E217 T=85\r\n\u0a05\u0100 °C\n\nlast"  # U+0A05 U+0100: b"\n\x00" in UTF-16 LE


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64 * 1024])
@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32",
                                   "utf-32-be"])
def test_lines_are_the_same_in_every_encoding_and_chunking(codec, chunk, monkeypatch):
    monkeypatch.setattr(lines_module, "CHUNK_BYTES", chunk)
    data = TEXT.encode(codec)
    if codec.endswith("-be"):
        data = "\ufeff".encode(codec) + data  # utf-16-be/utf-32-be write no BOM themselves
    lines = Lines(io.BytesIO(data))
    assert list(lines) == [("CV07:E217 T=85\r\n", True), ("\u0a05\u0100 °C\n", True),
                           ("\n", True), ("last", True)]
    assert lines.had_bom == (codec != "utf-8") and lines.bytes_read == len(data)


def test_invalid_code_units_are_replaced_on_their_line_only():
    data = "\ufeffa\n".encode("utf-16-le") + b"\x00\xd8\n\x00" + "b\n".encode("utf-16-le")
    lines = Lines(io.BytesIO(data + b"\x00"))  # and a truncated last code unit
    assert lines.encoding == "utf-16-le"
    assert list(lines) == [("a\n", True), ("\ufffd\n", False), ("b\n", True),
                           ("\ufffd", False)]


@pytest.mark.parametrize("codec, order", [("utf-16-le", "LE"), ("utf-16-be", "BE")])
def test_utf16_without_a_bom_is_refused(codec, order):
    with pytest.raises(EncodingError, match=f"without a byte-order mark.*UTF-16{order}"):
        Lines(io.BytesIO("ab\n".encode(codec)))
    assert list(Lines(io.BytesIO(b"\x00\x00\x00\n"))) == [("\x00\x00\x00\n", True)]


class Trickle(io.RawIOBase):
    """A pipe that hands out one piece per read and fails with EIO after them."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces, self.reads = list(pieces), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if not self.pieces:
            raise OSError(errno.EIO, "Input/output error")
        return self.pieces.pop(0)


def test_lines_come_as_the_bytes_arrive_and_a_read_error_names_its_line():
    stream = Trickle([b"one\n", b"two\nthr", b"ee\n"])
    lines = iter(Lines(stream))
    assert next(lines) == ("one\n", True) and stream.reads <= 2  # not the whole input
    assert next(lines) == ("two\n", True)
    assert next(lines) == ("three\n", True)
    with pytest.raises(InputError) as raised:
        next(lines)
    assert str(raised.value) == ("cannot read line 4 (Input/output error); the disk or "
                                 "network share failed; check it, or copy the file "
                                 "elsewhere, and run again")
