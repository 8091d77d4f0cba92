"""The replies of an exported SavedModel's `serving_default`, for `python -m training evaluate`.

`python -m assistant export --out EXPORT_DIR` writes numbered versions (`EXPORT_DIR/1/`, ...);
`--export` takes EXPORT_DIR (its newest version, as TensorFlow Serving picks) or a version
directory. The SavedModel is loaded in this process with TensorFlow and tensorflow-text (which
registers the SentencePiece ops) and called in batches, so memory stays bounded on a whole
split; replies come back in input order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXPORT_SETTING = "export serving_default"  # the setting's name in the evaluation report
SAVED_MODEL_FILE = "saved_model.pb"
SIGNATURE = "serving_default"


@dataclasses.dataclass(frozen=True)
class Serving:
    """A loaded export's `serving_default`: text (string, [None]) -> reply, score; and its
    `generate` when that takes a `context` (the export of a bundle that reads context)."""

    path: Path  # the version directory loaded
    signature: Any  # the concrete function of `serving_default`
    in_context: Any = None  # `generate` with a `context` input, or None

    def replies(self, texts: Sequence[str], batch_size: int = 64,
                contexts: Sequence[str | None] | None = None, beam_width: int = 5,
                length_penalty: float = 1.0) -> list[str]:
        """The replies to `texts`, in input order ("" where the export gives none).

        Args:
            texts: the inputs (the turns, without their context).
            batch_size: texts per call of the signature.
            contexts: each text's context (None or "" for none). When the export reads
                context, a batch with one is answered by `generate` with its `context`
                input, beam search of `beam_width` and `length_penalty` (the bundle's
                defaults, which `serving_default` bakes in); else the contexts are not sent,
                as the runtime does not send them to a model that does not read them.
        """
        import tensorflow as tf

        replies: list[str] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            context = [c or "" for c in (contexts or [])[start : start + batch_size]]
            if self.in_context is not None and any(context):
                result = self.in_context(
                    text=tf.constant(batch, tf.string), context=tf.constant(context, tf.string),
                    beam_width=tf.constant(beam_width, tf.int32),
                    length_penalty=tf.constant(length_penalty, tf.float32),
                    max_length=tf.constant(0, tf.int32))
            else:
                result = self.signature(text=tf.constant(batch, tf.string))
            replies.extend(r.decode("utf-8") for r in result["reply"].numpy())  # (batch,)
        return replies


def export_replies(export_dir: str | Path, texts: Sequence[str],
                   batch_size: int = 64) -> list[str]:
    """The `serving_default` replies of the export in `export_dir` to `texts`, in order.

    Raises:
        ValueError: one line, when `export_dir` holds no loadable SavedModel.
    """
    return load_serving(export_dir).replies(texts, batch_size)


def load_serving(export_dir: str | Path) -> Serving:
    """Loads the `serving_default` signature of the export in `export_dir`.

    Raises:
        ValueError: one line, when there is no SavedModel, it cannot be loaded, or it has
            no `serving_default` (an `--ids-only` export).
    """
    from assistant.core.quiet_tf import import_tensorflow, native_logs_captured

    path = export_version_dir(export_dir)
    tf = import_tensorflow()
    try:
        import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
    except ImportError:
        raise ValueError("scoring an export needs tensorflow-text (pip install "
                         "tensorflow-text)") from None
    try:
        with native_logs_captured():
            module = tf.saved_model.load(str(path))
    except Exception as error:  # a foreign file fails in many ways
        raise ValueError(f"cannot load the SavedModel in {path}: {_first_line(error)}") from None
    if SIGNATURE not in module.signatures:
        raise ValueError(f"{path} has no {SIGNATURE} signature (signatures: "
                         f"{', '.join(module.signatures) or 'none'}; an --ids-only export "
                         "cannot be scored)")
    generate = module.signatures.get("generate")
    reads = generate is not None and "context" in generate.structured_input_signature[1]
    return Serving(path, module.signatures[SIGNATURE], generate if reads else None)


def export_version_dir(export_dir: str | Path) -> Path:
    """The SavedModel directory `export_dir` names: itself when it holds `saved_model.pb`,
    else its highest numbered version that does.

    Raises:
        ValueError: one line naming `export_dir`.
    """
    path = Path(export_dir)
    if (path / SAVED_MODEL_FILE).is_file():
        return path
    if not path.exists():
        raise ValueError(f"{path}: no such export directory (write one with `python -m "
                         f"assistant export --model BUNDLE --out {path}`)")
    if not path.is_dir():
        raise ValueError(f"{path}: not an export directory (give --export the --out of "
                         "`python -m assistant export` or one of its version directories)")
    try:
        versions = [p for p in path.iterdir()
                    if p.name.isdigit() and (p / SAVED_MODEL_FILE).is_file()]
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror or error})") from None
    if not versions:
        raise ValueError(f"{path}: no SavedModel in it ({SAVED_MODEL_FILE} neither there "
                         "nor in a numbered version directory)")
    return max(versions, key=lambda p: int(p.name))


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
