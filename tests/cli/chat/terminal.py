"""The chat command on a pseudo-terminal, with a fake model: a driver, and the child it runs.

`python -m tests.cli.chat.terminal [compile]` runs `assistant.cli.chat.command.run` as
`python -m assistant chat` would, on a fake model: "slow" is a reply that takes ten minutes,
and with `compile` the background compile takes ten minutes. Both print a marker on stderr
when they start, so a test knows when to press a key.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
LONG = 600.0  # seconds a slow fake call takes: "for ever" for a test
REPLY_STARTED, COMPILING = "<reply started>", "<compiling>"


class PseudoTerminal:
    """`python -m MODULE ARGUMENTS` on a pseudo-terminal that is its controlling terminal.

    Args:
        module: the module to run.
        arguments: its command-line arguments.
        env: extra environment variables.
    """

    def __init__(self, module: str, arguments: list[str], env: dict[str, str]) -> None:
        self.master, child = os.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        # The child makes the terminal its controlling one, so Ctrl-C in cooked mode is SIGINT.
        code = ("import fcntl, runpy, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *arguments], stdin=child, stdout=child,
            stderr=child, cwd=ROOT, start_new_session=True,
            env={**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", **env})
        os.close(child)
        self.screen = ""  # everything the child wrote, decoded

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, text: str, timeout: float = 20.0) -> bool:
        """Reads until `text` is on the screen (True) or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                return text in self.screen
        return True

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the child still runs after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)  # the child's own session, started above
            self.process.wait(10)
        os.close(self.master)

    def _read(self, timeout: float) -> bool:
        if not select.select([self.master], [], [], timeout)[0]:
            return False
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.screen += data.decode("utf-8", errors="replace")
        return bool(data)


def main() -> int:
    """Runs the chat command on a fake model (see the module docstring)."""
    from assistant.cli.chat import command
    from assistant.runtime.domain import NullDomain
    from tests.cli.chat.fakes import DEFAULTS, fake_reply

    def reply(text: str, **options):
        if text == "slow":
            print(REPLY_STARTED, file=sys.stderr, flush=True)
            time.sleep(LONG)
        return fake_reply(text, **options)

    def warm_up(**options) -> None:
        if "compile" in sys.argv[1:]:
            print(COMPILING, file=sys.stderr, flush=True)
            time.sleep(LONG)

    fake = SimpleNamespace(name="fake", reply=reply, defaults=DEFAULTS, warm_up=warm_up,
                           domain=SimpleNamespace(hint="Type anything"))
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(), NullDomain)
    args = parser.parse_args(["chat"])
    return command.run(args, SimpleNamespace(load_assistant=lambda directory: fake))


if __name__ == "__main__":
    sys.exit(main())
