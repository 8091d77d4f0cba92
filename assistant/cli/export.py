"""`python -m assistant export`: a model bundle as a TensorFlow Serving SavedModel.

Writes EXPORT_DIR/<version>/ with the signatures of `assistant.serving.export`; decoding
flags replace the bundle's defaults for `serving_default`. Usage problems (a bad
directory, an option an export cannot bake in) are one line before anything is loaded and
name the path the user gave. Build folders a killed export left in EXPORT_DIR are removed
(`assistant.serving.build_folders`) and named on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from assistant.cli.args import (
    EXIT_OK,
    Context,
    UsageError,
    add_decoding_arguments,
    add_model_argument,
    decoding_options,
)
from assistant.core.quiet_tf import native_logs_captured
from assistant.runtime.domain import Domain
from assistant.serving.export import (
    BUNDLE,
    MAX_BEAM_WIDTH,
    export_options,
    export_saved_model,
    export_splitter,
)

# Decoding options an export cannot bake in: it decodes with greedy or beam search, best only.
_UNSUPPORTED = {"temperature": "--temperature", "top_k": "--top-k", "top_p": "--top-p",
                "seed": "--seed"}


def register(subparsers, domain: type[Domain]) -> None:
    """Adds `export` to the `python -m assistant` subcommands."""
    parser = subparsers.add_parser(
        "export", help="export a TF SavedModel for TensorFlow Serving",
        description="Writes EXPORT_DIR/<version>/ (a SavedModel with the signatures "
                    "serving_default, generate and generate_ids).")
    add_model_argument(parser)
    parser.add_argument("--out", required=True, metavar="EXPORT_DIR",
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
    add_decoding_arguments(parser, domain.runtime_options)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: Context) -> int:
    """The `export` command; returns the exit code."""
    out_dir = _check_out_dir(args.out)
    if not 1 <= args.max_beam_width <= 64:
        raise UsageError(f"--max-beam must be in [1, 64], got {args.max_beam_width}")
    if args.version is not None and args.version < 1:
        raise UsageError(f"--version must be at least 1, got {args.version}")
    if args.version is not None and os.path.lexists(out_dir / str(args.version)):
        raise UsageError(f"{out_dir / str(args.version)} already exists (choose another "
                         f"--version)")
    overrides = decoding_options(args)
    unsupported = [flag for name, flag in _UNSUPPORTED.items() if name in overrides]
    if overrides.get("strategy") == "sample" or unsupported:
        raise UsageError("an export decodes with greedy or beam search; sampling options "
                         f"are not supported ({', '.join(unsupported) or '--sample'})")
    if overrides.get("n_best", 1) != 1:
        raise UsageError("an export returns the best reply only; --nbest is not supported")
    segment = getattr(args, "segment", None)
    if args.ids_only and segment:
        raise UsageError("--segment needs the text signatures; --ids-only has none")
    assistant = context.load_assistant(args.model)
    try:
        options = export_options(assistant.defaults, overrides)
        splitter = None if args.ids_only else export_splitter(assistant, segment)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        with native_logs_captured(replay=args.debug):
            result = export_saved_model(assistant, out_dir, options, version=args.version,
                                        ids_only=args.ids_only, jit_compile=args.jit_compile,
                                        max_beam_width=args.max_beam_width,
                                        splitter=splitter,
                                        draft_below=overrides.get("draft_below", BUNDLE))
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    except OSError as error:  # the directory changed, filled up or became read-only meanwhile
        raise UsageError(f"cannot write {out_dir}: {error.strerror or error} (nothing was "
                         f"written; free space or choose another --out)") from None
    if result.removed:
        print(f"removed {len(result.removed)} build folder(s) left by a killed export: "
              f"{', '.join(path.name for path in result.removed)}", file=sys.stderr)
    print(f"wrote {result.path} ({_megabytes(result.total_bytes)}: variables "
          f"{_megabytes(result.variables_bytes)}, assets {_megabytes(result.assets_bytes)}, "
          f"graph {_megabytes(result.graph_bytes)}); signatures: "
          f"{', '.join(result.signatures)}"
          + ("; multi-record lines answered record by record" if result.segmented else ""))
    return EXIT_OK


def _check_out_dir(text: str) -> Path:
    """EXPORT_DIR as a path; refuses an empty one, a file, a broken link, or one that
    cannot be created or written (`UsageError`, naming the path given)."""
    if not text.strip():
        raise UsageError(f"--out {text!r} is empty: give the directory the server reads "
                         "versions from, e.g. --out exports/warehouse")
    out_dir = Path(text)
    existing = out_dir
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():
        raise UsageError(f"cannot write {out_dir}: {existing} is a broken symbolic link "
                         f"(to {os.readlink(existing)}); fix it or choose another --out")
    if not existing.is_dir():
        raise UsageError(f"cannot write {out_dir}: {existing} is not a directory (give "
                         "--out a directory, existing or new)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {out_dir}: {existing} is not writable (fix its "
                         "permissions or choose another --out)")
    return out_dir


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.2f} MB"
