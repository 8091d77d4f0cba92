"""A fake `Assistant` for the convert tests, and file helpers."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# `python -c SLOW_FAKE convert ...`: the command on a fake that takes 0.5 s per call.
SLOW_FAKE = """
import sys, time
from assistant.cli.main import main
from tests.cli.convert.fakes import FakeAssistant

class Slow(FakeAssistant):
    def reply_batch(self, texts, batch_size=64, contexts=None, **options):
        if texts:
            time.sleep(0.5)  # SIGTERM interrupts the sleep
        return super().reply_batch(texts, batch_size, **options)

sys.exit(main(sys.argv[1:], load_assistant=lambda model_dir: Slow()))
"""


@dataclasses.dataclass(frozen=True)
class FakeAlternative:
    text: str
    score: float


@dataclasses.dataclass(frozen=True)
class FakeReply:
    text: str
    score: float
    flags: tuple[str, ...] = ()
    error: str | None = None
    alternatives: tuple[FakeAlternative, ...] = ()


def fake_reply(text: str, n_best: int = 1) -> FakeReply:
    """Upper case; "MULTI" spans two lines; "FLAG" gets a faithfulness flag; > 60 chars is
    too long for the "model"."""
    if len(text) > 60:
        return FakeReply("", float("nan"), error="input too long: 70 pieces, the limit is 50")
    reply = text.strip().upper() + ("\nSECOND LINE" if "MULTI" in text else "")
    flags = ("number 99 not in input",) if "FLAG" in text else ()
    alternatives = tuple(FakeAlternative(f"{reply} #{rank}", -0.25 * rank)
                         for rank in range(n_best))
    return FakeReply(reply, -0.123456, flags, alternatives=alternatives)


class FakeAssistant:
    """`reply_batch` like the real one: validates first, works in length order, returns input
    order; `interrupt_at` raises KeyboardInterrupt on that call (1-based)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.defaults = {"strategy": "beam", "beam_width": 5, "n_best": 1}
        self.calls: list[list[str]] = []
        self.interrupt_at = interrupt_at
        self.loads = 0  # times the command loaded the "model" (the conftest counts them)
        self.domain = FakeDomain()

    def reply_batch(self, texts, batch_size=64, contexts=None, **options):
        settings = {**self.defaults, **options}
        if settings["beam_width"] > 16:
            raise ValueError(f"beam_width must be at most 16, got {settings['beam_width']}")
        if not texts:
            return []
        self.calls.append(list(texts))
        if self.interrupt_at == len(self.calls):
            raise KeyboardInterrupt
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        replies = [None] * len(texts)
        for index in order:
            reply = fake_reply(texts[index], settings.get("n_best", 1))
            if contexts is not None and contexts[index] is not None:
                reply = dataclasses.replace(reply, text=f"{reply.text} (after {contexts[index]})")
            replies[index] = reply
        return replies


class FakeDomain:
    """`remember(context, text)`: what a domain keeps of an earlier message (here: it,
    upper case)."""

    @staticmethod
    def remember(context: str, text: str) -> str:
        return text.strip().upper()


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def char_device(path: Path, name: str) -> Path:
    """A character device like /dev/NAME ("null" or "full") at `path` when we may create one
    (root), else /dev/NAME itself, which a user who is not root cannot replace. Root without
    mknod skips the test: a bug would replace the system's device."""
    minor = {"null": 3, "full": 7}[name]
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except OSError:
        if os.geteuid() == 0:
            pytest.skip("root cannot mknod here, and must not risk the real /dev/" + name)
        return Path("/dev") / name
    return path
