"""Fakes of the Beam tests: module-level loaders for `AssistantModelHandler(loader=...)`
(Beam pickles the handler, so a loader must be importable by name), answering with the
convert tests' fake model, and a remote file system kept in a local directory."""

from __future__ import annotations

import os
import posixpath
import threading
from typing import ClassVar

from apache_beam.io.filesystem import FileMetadata, MatchResult
from apache_beam.io.localfilesystem import LocalFileSystem

from tests.cli.convert.fakes import FakeAssistant

SCHEME = "fakefs"

LOADS: list[tuple[str, int, int]] = []  # (directory, cache_size, thread id) of every load
_lock = threading.Lock()


def load_fake(directory, cache_size: int) -> FakeAssistant:
    with _lock:
        LOADS.append((str(directory), cache_size, threading.get_ident()))
    return FakeAssistant()


class BrokenAssistant(FakeAssistant):
    """Raises on any batch holding "BOOM" (a bug, not a bad input)."""

    def reply_batch(self, texts, batch_size=64, **options):
        if any("BOOM" in text for text in texts):
            raise RuntimeError("decoder exploded")
        return super().reply_batch(texts, batch_size, **options)


def load_broken(directory, cache_size: int) -> BrokenAssistant:
    return BrokenAssistant()


class RemoteFileSystem(LocalFileSystem):
    """A Beam file system for "fakefs://PATH" URIs, kept in the local directory `ROOT[0]`:
    what the code does with gs:// or s3:// paths, without a network (Beam finds it by its
    scheme once this module is imported)."""

    ROOT: ClassVar[list[str]] = ["/nonexistent"]

    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def join(self, basepath, *paths):
        return posixpath.join(basepath, *paths)

    def split(self, path):
        return posixpath.split(path)

    def match(self, patterns, limits=None):
        results = super().match([_local(pattern) for pattern in patterns], limits)
        return [
            MatchResult(
                result.pattern,
                [
                    FileMetadata(_remote(found.path), found.size_in_bytes)
                    for found in result.metadata_list
                ],
            )
            for result in results
        ]

    def open(self, path, *args, **kwargs):
        return super().open(_local(path), *args, **kwargs)

    def create(self, path, *args, **kwargs):
        return super().create(_local(path), *args, **kwargs)

    def exists(self, path):
        return super().exists(_local(path))

    def rename(self, sources, destinations):
        super().rename([_local(s) for s in sources], [_local(d) for d in destinations])


def _local(uri: str) -> str:
    return os.path.join(RemoteFileSystem.ROOT[0], uri.removeprefix(f"{SCHEME}://"))


def _remote(path: str) -> str:
    return f"{SCHEME}://" + os.path.relpath(path, RemoteFileSystem.ROOT[0])
