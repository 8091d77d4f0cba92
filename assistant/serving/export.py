"""`python -m assistant export`: a model bundle as a TensorFlow Serving SavedModel.

The export is a numbered version directory (`EXPORT_DIR/1/`, the next free number, or
`--version N`) built in a temporary directory beside it and renamed at the end, so a server
watching EXPORT_DIR never sees a partial version. Its signatures (see
`assistant.export_module`):

- `serving_default`: text (string, [None]) -> reply (string, [None]), score (float32, [None]),
  with the bundle's default decoding (or the one given on the command line);
- `generate`: the same plus per-request scalars beam_width (int32, 1-8, or 1-N with
  `--max-beam N`), length_penalty (float32) and max_length (int32, 0 = the default limit);
- `generate_ids`: ids (int32, [None, None], PAD_ID-padded) -> ids, lengths, score, with core
  TensorFlow ops only. `--ids-only` writes an export with this signature alone, which a
  server without tensorflow-text's ops can load.

When the bundle's `faithfulness.json` has a record order, `serving_default` and `generate`
answer a line of several fault records one record at a time, as the runtime does (see
`assistant.segment`), unless the bundle's decoding defaults say `"segment": false` or
`--no-segment` is given. `generate_ids` always decodes a line whole.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from assistant import cli, faithfulness, segment
from assistant.cli import (
    EXIT_OK,
    UsageError,
    add_decoding_arguments,
    add_model_argument,
    decoding_options,
)
from assistant.quiet_tf import native_logs_captured

TOKENIZER_ASSET = "tokenizer.model"
MAX_BEAM_WIDTH = 8  # `generate` accepts beam widths 1..this by default (one graph each)
# Decoding options an export cannot bake in: it decodes with greedy or beam search, best only.
_UNSUPPORTED = {"temperature": "--temperature", "top_k": "--top-k", "top_p": "--top-p",
                "seed": "--seed"}


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where an export was written and how big it is (bytes)."""

    path: Path
    version: int
    signatures: tuple[str, ...]
    variables_bytes: int  # variables/ (the weights, each stored once)
    assets_bytes: int  # assets/ (tokenizer.model)
    graph_bytes: int  # saved_model.pb and the rest
    total_bytes: int
    segmented: bool = False  # the text signatures answer multi-record lines record by record


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a TF SavedModel for TensorFlow Serving",
        description="Writes EXPORT_DIR/<version>/ (a SavedModel with the signatures "
                    "serving_default, generate and generate_ids).")
    add_model_argument(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="EXPORT_DIR",
                        help="the model's directory on the server (versions go inside)")
    parser.add_argument("--version", type=int, metavar="N",
                        help="version number (default: one more than the highest present)")
    parser.add_argument("--max-beam", type=int, default=MAX_BEAM_WIDTH, metavar="N",
                        dest="max_beam_width",
                        help=f"generate accepts beam widths 1..N (default {MAX_BEAM_WIDTH}; "
                             "each width is a graph of its own)")
    parser.add_argument("--ids-only", action="store_true",
                        help="only generate_ids, loadable without tensorflow-text")
    parser.add_argument("--no-xla", dest="jit_compile", action="store_false",
                        help="do not XLA-compile the decoding: no compile at the first "
                             "request of a shape, but slower replies that can differ from "
                             "the runtime's (which uses XLA) where two words nearly tie")
    add_decoding_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    _check_out_dir(out_dir)
    if not 1 <= args.max_beam_width <= 64:
        raise UsageError(f"--max-beam must be in [1, 64], got {args.max_beam_width}")
    if args.version is not None and args.version < 1:
        raise UsageError(f"--version must be at least 1, got {args.version}")
    if args.version is not None and (out_dir / str(args.version)).exists():
        raise UsageError(f"{out_dir / str(args.version)} already exists (choose another "
                         f"--version)")
    overrides = decoding_options(args)
    unsupported = [flag for name, flag in _UNSUPPORTED.items() if name in overrides]
    if overrides.get("strategy") == "sample" or unsupported:
        raise UsageError("an export decodes with greedy or beam search; sampling options "
                         f"are not supported ({', '.join(unsupported) or '--sample'})")
    if overrides.get("n_best", 1) != 1:
        raise UsageError("an export returns the best reply only; --nbest is not supported")
    if args.ids_only and args.segment:
        raise UsageError("--segment needs the text signatures; --ids-only has none")
    assistant = cli.load_assistant(args.model)  # looked up late: tests replace it
    try:
        options = export_options(assistant.defaults, overrides)
        record_order = None if args.ids_only else export_record_order(
            args.model or cli.default_model_dir(), assistant.defaults, args.segment)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        with native_logs_captured(replay=args.debug):
            result = export_saved_model(assistant, out_dir, options, version=args.version,
                                        ids_only=args.ids_only, jit_compile=args.jit_compile,
                                        max_beam_width=args.max_beam_width,
                                        record_order=record_order)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    except PermissionError as error:
        raise UsageError(f"cannot write {error.filename or out_dir}: {error.strerror}") from None
    print(f"wrote {result.path} ({_megabytes(result.total_bytes)}: variables "
          f"{_megabytes(result.variables_bytes)}, assets {_megabytes(result.assets_bytes)}, "
          f"graph {_megabytes(result.graph_bytes)}); signatures: "
          f"{', '.join(result.signatures)}"
          + ("; multi-record lines answered record by record" if result.segmented else ""))
    return EXIT_OK


def export_options(defaults: dict[str, Any], overrides: dict[str, Any] | None = None):
    """The `DecodingOptions` an export bakes in: a bundle's defaults with overrides applied.

    Raises:
        ValueError: one line, for invalid options or a strategy an export does not support.
    """
    from assistant.decoding import DecodingOptions
    from assistant.export_module import EXPORT_STRATEGIES
    from assistant.inference import decoding_settings

    # An export returns the top beam hypothesis: the runtime's faithfulness rerank is Python.
    values = {**decoding_settings({**defaults, **(overrides or {})}), "n_best": 1}
    if values.get("strategy") not in EXPORT_STRATEGIES:
        raise ValueError(f"an export decodes with greedy or beam search, not "
                         f"{values.get('strategy')!r}")
    options = DecodingOptions(**values)
    options.validate()
    return options


def export_record_order(bundle_dir: str | os.PathLike, defaults: dict[str, Any],
                        segment_lines: bool | None = None) -> segment.RecordOrder | None:
    """The record order an export of a bundle segments lines with, or None to decode whole.

    Args:
        bundle_dir: the bundle; its record order is in `faithfulness.json`.
        defaults: the bundle's decoding defaults (`Assistant.defaults`); "segment" missing
            means on.
        segment_lines: True or False to override the defaults (`--segment/--no-segment`);
            True for a bundle without a record order is an error.

    Raises:
        ValueError: one line: the record order is not valid, a runtime option of
            `defaults` is not (`inference.check_runtime_options`), or `segment_lines` is
            True for a bundle without a record order.
    """
    from assistant.inference import check_runtime_options

    record_order = segment.load_record_order(Path(bundle_dir) / faithfulness.BUNDLE_FILE)
    if segment_lines is None:
        check_runtime_options(defaults)
        # a bundle without a record order is never segmented
        return record_order if defaults.get("segment", True) else None
    if segment_lines and record_order is None:
        raise ValueError(f"cannot segment records: {bundle_dir} has no record order "
                         f"(\"{segment.RECORD_ORDER_KEY}\" in {faithfulness.BUNDLE_FILE})")
    return record_order if segment_lines else None


def export_saved_model(assistant, out_dir: str | os.PathLike, options=None,
                       version: int | None = None, ids_only: bool = False,
                       jit_compile: bool = True, max_beam_width: int = MAX_BEAM_WIDTH,
                       record_order: segment.RecordOrder | None = None) -> ExportResult:
    """Writes `out_dir/<version>/`, a SavedModel of a loaded `Assistant`.

    Args:
        assistant: an `assistant.inference.Assistant`.
        out_dir: the model's base directory (created if missing).
        options: the default `DecodingOptions` (default: `export_options(assistant.defaults)`).
        version: the version number (default: one more than the highest present).
        ids_only: write only `generate_ids` (no tensorflow-text ops in the export).
        jit_compile: XLA-compile the decoding functions (at their first call per bucket).
        max_beam_width: `generate` accepts beam widths 1..max_beam_width.
        record_order: segment multi-record lines in the text signatures with this order
            (see `export_record_order`); ignored with `ids_only`.

    Returns:
        An `ExportResult`.

    Raises:
        FileExistsError: the version directory exists.
        PermissionError: `out_dir` is not writable.
    """
    from assistant.quiet_tf import import_tensorflow

    tf = import_tensorflow()
    from assistant.export_module import IdsServingModule, TextServingModule

    options = options or export_options(assistant.defaults)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(out_dir) if version is None else int(version)
    target = out_dir / str(version)
    if target.exists():
        raise FileExistsError(f"{target} already exists (choose another --version)")
    building = Path(tempfile.mkdtemp(prefix=f".{version}.building-", dir=out_dir))
    try:
        tokenizer_file = building / TOKENIZER_ASSET
        tokenizer_file.write_bytes(assistant.tokenizer.model_proto)
        if ids_only:
            module = IdsServingModule(assistant.model, options, jit_compile=jit_compile)
        else:
            module = TextServingModule(
                assistant.model, options, assistant.tokenizer.model_proto, str(tokenizer_file),
                max_beam_width, source_case=getattr(assistant.config, "source_case", "keep"),
                jit_compile=jit_compile, record_order=record_order)
        signatures = module.signatures()
        saved = building / "saved_model"
        tf.saved_model.save(module, str(saved), signatures=signatures)
        os.rename(saved, target)  # atomic: the version appears complete or not at all
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return _measure(target, version, tuple(signatures),
                    segmented=record_order is not None and not ids_only)


def next_version(out_dir: Path) -> int:
    """One more than the highest numbered subdirectory of `out_dir` (1 if none)."""
    numbers = [int(p.name) for p in out_dir.iterdir() if p.name.isdigit() and p.is_dir()]
    return max(numbers, default=0) + 1


def _check_out_dir(out_dir: Path) -> None:
    """Refuses an output directory that is a file or cannot be created or written."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot write {out_dir}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {out_dir}: permission denied")


def _measure(path: Path, version: int, signatures: tuple[str, ...],
             segmented: bool) -> ExportResult:
    def size(root: Path) -> int:
        if not root.exists():
            return 0
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())

    total = size(path)
    variables = size(path / "variables")
    assets = size(path / "assets")
    return ExportResult(path, version, signatures, variables, assets,
                        total - variables - assets, total, segmented)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.2f} MB"
