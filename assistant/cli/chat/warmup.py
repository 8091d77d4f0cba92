"""The chat REPL's model calls: one at a time, with compilation in the background.

XLA compiles a decoding graph on its first use (seconds per source-length bucket). The REPL
shows its prompt as soon as the model is loaded and compiles the common buckets while the user
types (`BackgroundWarmUp`); `ModelGate` makes every model call run alone and lets a waiting
user call go before the remaining background steps.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

# Compiled in the background after the first bucket (`warm_up`): typical inputs of 9-16 and
# 17-32 pieces, so the first real reply rarely waits for XLA.
WARM_UP_TEXTS = ("CV07:E217 T=85", "CV07:E217 T=85; SN02:W301 N=12")


class ModelGate:
    """Runs one model call at a time; a waiting user call goes before background steps."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._busy = False
        self._holder = ""  # what the running call does, for `on_wait`
        self._users_waiting = 0

    @property
    def busy(self) -> bool:
        """True while a call runs (a compile, or a reply the user stopped waiting for)."""
        return self._busy

    @contextlib.contextmanager
    def user(self, on_wait: Callable[[str], None] | None = None,
             doing: str = "the previous reply") -> Iterator[None]:
        """Holds the gate for a user call.

        Args:
            on_wait: called first, with what the running call does ("compiling"), if the
                user call must wait.
            doing: what this call does, for the `on_wait` of later calls.
        """
        with self._condition:
            if self._busy and on_wait is not None:
                on_wait(self._holder)
            self._users_waiting += 1
            try:
                while self._busy:
                    self._condition.wait()
            finally:
                self._users_waiting -= 1
            self._busy, self._holder = True, doing
        try:
            yield
        finally:
            self._release()

    def run_background(self, step: Callable[[], Any], wanted: Callable[[], bool]) -> bool:
        """Runs `step` when no user call runs or waits; False if unwanted by then or failed."""
        with self._condition:
            while self._busy or self._users_waiting:
                self._condition.wait()
            if not wanted():
                return False
            self._busy, self._holder = True, "compiling"
        try:
            step()
            return True
        except Exception:  # a failing warm-up shows up again, as a message, on the first reply
            return False
        finally:
            self._release()

    def _release(self) -> None:
        with self._condition:
            self._busy = False
            self._condition.notify_all()


class BackgroundWarmUp:
    """Compiles the graphs of the current settings in a daemon thread, a bucket per step.

    A new `start` supersedes the previous one (its remaining steps are skipped).
    """

    def __init__(self, gate: ModelGate) -> None:
        self._gate = gate
        self._generation = 0
        self._threads: list[threading.Thread] = []

    def start(self, backend, options: dict[str, Any]) -> None:
        """Compiles for `options` on `backend` (a `repl.Backend`), superseding earlier starts."""
        self._generation += 1
        steps = [functools.partial(backend.reply, text, **options) for text in WARM_UP_TEXTS]
        if backend.warm_up is not None:
            steps.insert(0, functools.partial(backend.warm_up, **options))
        thread = threading.Thread(target=self._run, args=(self._generation, steps), daemon=True,
                                  name="warm-up")
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def stop(self, wait: float | None = None) -> None:
        """Skips the remaining steps (the running one finishes).

        Args:
            wait: seconds to wait for the running step to end (None: do not wait). The REPL
                does not wait: leaving the process while a thread is inside TensorFlow can
                crash the interpreter's shutdown, so `chat` then ends with `os._exit`.
        """
        self._generation += 1
        if wait is not None:
            for thread in self._threads:
                thread.join(wait)

    def _run(self, generation: int, steps: list[Callable[[], Any]]) -> None:
        for step in steps:
            if not self._gate.run_background(step, lambda: self._generation == generation):
                return
