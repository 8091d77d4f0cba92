"""A RunInference model handler for a model bundle: `AssistantModelHandler`.

    import apache_beam as beam
    from apache_beam.ml.inference.base import RunInference

    replies = texts | RunInference(AssistantModelHandler("gs://bucket/bundles/warehouse"))
    # PredictionResult(example=text, inference=Reply), one per text

Beam does what surrounds the model: `RunInference` batches the texts (`BatchElements`,
between `min_batch_size` and `max_batch_size` texts, sized by what it measures), loads the
bundle once per worker process in `setup` and shares it between the process's threads
(`apache_beam.utils.shared`), and reports its metrics. The handler only loads and answers:
each batch goes to `Assistant.reply_batch`, which sorts it by length and decodes
`batch_size` rows at a time, with the bundle's defaults overridden by `options` and then by
RunInference's `inference_args`. An input that cannot be answered (empty, too long) gets a
`Reply` with `error` set, never an exception, so one bad text does not fail its batch.

The bundle is a directory any Beam file system reads (a local path, gs://, s3://, hdfs://
with their extras): a local one is loaded where it is, a remote one is first copied to a
temporary directory of the worker (`local_bundle`). The defaults of the batching
(`batch_size`, `max_batch_size`) and of the reply cache are `convert`'s.
"""

from __future__ import annotations

import atexit
import functools
import json
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from assistant.cli.convert.pipeline import DEFAULT_BATCH_SIZE, WINDOW_BATCHES
from assistant.core import constants
from assistant.runtime.cache import DEFAULT_CACHE_SIZE, ReplyCache
from assistant.runtime.options import ReplyOptions, default_options

if TYPE_CHECKING:
    from assistant.runtime.assistant import Assistant, Reply

METRICS_NAMESPACE = "keras_assistant"  # RunInference's metrics and the transforms' counters
LOCAL_SCHEME = None  # what `FileSystems.get_scheme` says of a local path


class AssistantModelHandler(ModelHandler[str, PredictionResult, "Assistant"]):
    """Loads a bundle as an `Assistant` and answers batches of texts with `reply_batch`.

    Args:
        model: the bundle directory: a local path, or a URI of a Beam file system.
        options: decoding and runtime options (`assistant.runtime.options`) over the
            bundle's defaults, e.g. {"strategy": "greedy"}; RunInference's
            `inference_args` override these per transform.
        batch_size: rows decoded together inside a batch (`reply_batch`'s batch_size).
        cache_size: replies kept by each loaded assistant's reply cache (0: none).
        slim_cache: keep slim entries (text, score, alternatives and flags; no attention) and
            value templates, as `convert` does (`ReplyCache(slim=True)`): with the default
            `Assistant.load` only.
        min_batch_rows: rows each decoded batch is padded to at least
            (`Assistant.min_batch_rows`; `convert` uses `CONVERT_MIN_BATCH_ROWS`).
        min_batch_size: the fewest texts Beam puts in one batch (but a bundle's last);
            default `batch_size`, so batches fill the compiled batch shapes that
            `reply_batch` decodes (a new shape compiles, about a second each on a CPU).
        max_batch_size: the most texts Beam puts in one batch; `reply_batch` sorts a batch
            by length, so a larger one pads less.
        loader: `loader(local_dir, cache_size) -> assistant`; default `Assistant.load`
            (tests pass a fake). It must be picklable: a module-level function.
        **kwargs: any other `ModelHandler` argument (max_batch_duration_secs,
            large_model, model_copies, env_vars, ...).

    Raises:
        ValueError: an option is unknown or invalid (checked against the defaults of the
            code; the bundle's are checked when it loads).
    """

    def __init__(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        cache_size: int = DEFAULT_CACHE_SIZE,
        slim_cache: bool = False,
        min_batch_rows: int = 1,
        min_batch_size: int | None = None,
        max_batch_size: int = WINDOW_BATCHES * DEFAULT_BATCH_SIZE,
        loader: Callable[[Path, int], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if min_batch_size is None:
            min_batch_size = min(batch_size, max_batch_size)
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self.model = str(model)
        self.options = dict(options or {})
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.slim_cache = slim_cache
        self.min_batch_rows = min_batch_rows
        self.loader = loader
        ReplyOptions.resolve(default_options(), self.options)

    def load_model(self) -> Assistant:
        """The bundle's `Assistant` (called once per worker process by RunInference).

        Raises:
            ValueError: the bundle cannot be loaded, or `options` do not fit its defaults.
        """
        directory = local_bundle(self.model)
        if self.loader is not None:
            assistant = self.loader(directory, self.cache_size)
        else:
            from assistant.runtime.assistant import Assistant

            assistant = Assistant.load(directory, cache_size=self.cache_size)
            if self.slim_cache and self.cache_size:
                assistant.cache = ReplyCache(self.cache_size, slim=True)
        if hasattr(assistant, "min_batch_rows"):  # a test's fake may have none
            assistant.min_batch_rows = self.min_batch_rows
        assistant.reply_batch([], **self.options)  # validates the options, decodes nothing
        return assistant

    def run_inference(
        self,
        batch: Sequence[str],
        model: Assistant,
        inference_args: Mapping[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        """One `PredictionResult(text, Reply)` per text, in batch order."""
        options = {**self.options, **(inference_args or {})}
        replies: list[Reply] = model.reply_batch(list(batch), batch_size=self.batch_size, **options)
        return [PredictionResult(text, reply) for text, reply in zip(batch, replies, strict=True)]

    def validate_inference_args(self, inference_args: Mapping[str, Any] | None) -> None:
        """Raises a one-line `ValueError` for an unknown or invalid option."""
        ReplyOptions.resolve(default_options(), self.options, inference_args or {})

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        """The UTF-8 size of the texts (RunInference's byte counter)."""
        return sum(len(text.encode("utf-8", "replace")) for text in batch)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE

    def __repr__(self) -> str:
        return (
            f"AssistantModelHandler({self.model!r}, options={self.options!r}, "
            f"batch_size={self.batch_size}, cache_size={self.cache_size}, "
            f"slim_cache={self.slim_cache}, min_batch_rows={self.min_batch_rows})"
        )


def bundle_defaults(model: str) -> dict[str, Any]:
    """The decoding defaults in a bundle's config.json, read where the bundle is (any Beam
    file system), without loading the model.

    Raises:
        ValueError: one line: config.json is missing or not a JSON object.
    """
    path = posixpath.join(model, constants.CONFIG_FILE)  # any scheme, even an unknown one
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            payload = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as error:  # Beam's BeamIOError is an OSError
        raise ValueError(f"{path}: {_unreadable(path, error)}") from None
    decoding = payload.get("decoding", {}) if isinstance(payload, dict) else None
    if not isinstance(decoding, dict):
        raise ValueError(f"{path}: not a bundle config (no 'decoding' object)")
    return decoding


def local_bundle(model: str) -> Path:
    """A local directory holding the bundle `model` names: itself when it is local, else a
    temporary copy of its files (made once per call; RunInference loads once per process),
    removed when the process exits.

    Raises:
        ValueError: the remote directory holds no file.
    """
    if FileSystems.get_scheme(model) is LOCAL_SCHEME:
        return Path(model)
    found = FileSystems.match([FileSystems.join(model, "*")])[0].metadata_list
    if not found:
        raise ValueError(f"{model}: no bundle files there")
    target = Path(tempfile.mkdtemp(prefix="keras-assistant-bundle-"))
    atexit.register(functools.partial(shutil.rmtree, target, ignore_errors=True))
    for metadata in found:
        name = posixpath.basename(metadata.path.rstrip("/"))
        with (
            FileSystems.open(
                metadata.path, compression_type=CompressionTypes.UNCOMPRESSED
            ) as source,
            (target / name).open("wb") as copy,
        ):
            shutil.copyfileobj(source, copy, length=1 << 20)
    return target


def _unreadable(path: str, error: Exception) -> str:
    """Why `path` could not be read: missing, or the file system's own first line."""
    try:
        missing = not FileSystems.exists(path)
    except (OSError, ValueError):  # no file system for its scheme, no credentials, ...
        missing = False
    if missing:
        return "missing (not a model bundle)"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
