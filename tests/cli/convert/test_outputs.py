"""Output targets: what -o names, checked before the model loads, opened without replacing it."""

import os

import pytest

from assistant.cli import args as cli
from assistant.cli.convert.outputs import Output, check_output, open_output


def test_stdout_and_descriptor_paths_are_their_descriptors(tmp_path):
    assert check_output(None) == check_output("-") == Output("<stdout>")
    for value, fd in [("/dev/stdout", 1), ("/dev/stderr", 2), ("/dev/fd/2", 2),
                      ("/proc/self/fd/1", 1)]:
        output = check_output(value)
        assert (output.fd, output.streamed, output.shown) == (fd, True, value)
    with pytest.raises(cli.UsageError, match=r"^/dev/fd/987: descriptor 987 is not open"):
        check_output("/dev/fd/987")


def test_what_is_replaced_atomically_and_what_is_streamed(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file.txt").write_text("x")
    os.symlink("file.txt", tmp_path / "link.txt")
    streamed = {name: check_output(str(tmp_path / name)).streamed
                for name in ["new.txt", "file.txt", "link.txt", "fifo"]}
    assert streamed == {"new.txt": False, "file.txt": False, "link.txt": False, "fifo": True}
    assert check_output("/dev/null").streamed  # classified only: nothing is written here


def test_a_descriptor_is_written_as_it_is(capfd):
    with open_output(check_output("/dev/fd/2")) as handle:
        handle.write("to stderr\n")
    assert capfd.readouterr().err == "to stderr\n"
    assert os.fstat(2)  # still open
