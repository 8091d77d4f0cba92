"""The background compile of the chat."""

from __future__ import annotations

import threading

from assistant.cli.chat.backend import Backend


def test_stop_waits_for_the_running_warm_up_step():
    from assistant.cli.chat.warmup import BackgroundWarmUp, ModelGate

    started, finished = threading.Event(), threading.Event()

    def slow_warm_up(**options):
        started.set()
        threading.Event().wait(0.3)
        finished.set()

    backend = Backend(name="fake", reply=lambda text, **options: None, defaults={},
                      warm_up=slow_warm_up)
    warmer = BackgroundWarmUp(ModelGate())
    warmer.start(backend, {})
    assert started.wait(5)
    warmer.stop(wait=5)
    assert finished.is_set()  # leaving now would not cut a compile short
