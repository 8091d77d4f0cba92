"""The progress line of `convert` on a terminal (by bytes read), silent otherwise."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO

from assistant.cli.convert.formats import Reader


class NoProgress:
    def update(self, records: int) -> None:
        pass

    def print(self, message: str) -> None:
        print(message, file=sys.stderr)


class RichProgress:
    def __init__(self, progress, task, reader: Reader) -> None:
        self._progress, self._task, self._reader = progress, task, reader

    def update(self, records: int) -> None:
        self._progress.update(self._task, completed=self._reader.bytes_read, records=records)

    def print(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False)


@contextlib.contextmanager
def progress_bar(stream: IO[bytes], reader: Reader) -> Iterator[NoProgress | RichProgress]:
    """A progress bar (by bytes read) on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield NoProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        size = os.fstat(stream.fileno()).st_size or None
    except (OSError, ValueError, io.UnsupportedOperation):
        size = None
    columns = [TextColumn("converting"), BarColumn(),
               TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("convert", total=size, records=0)
        yield RichProgress(progress, task, reader)
