"""A loaded `Assistant` written as a TensorFlow Serving SavedModel.

The export is a numbered version directory (`EXPORT_DIR/1/`, the next free number, or a
given version) built in a temporary directory beside it and renamed at the end, so a server
watching EXPORT_DIR never sees a partial version; the build folders a killed export left are
removed by the next export into the same EXPORT_DIR (`assistant.serving.build_folders`
says which). Its signatures (`assistant.serving.module`):

- `serving_default`: text (string, [None]) -> reply (string, [None]), score (float32, [None]),
  with the bundle's default decoding (or the one given);
- `generate`: the same plus per-request scalars beam_width (int32, 1-8, or 1-N with
  `max_beam_width`), length_penalty (float32) and max_length (int32, 0 = the default limit);
  for a bundle that reads context (`Assistant.reads_context`), or when asked, also
  `context` (string, [None], "" for none): each text's conversation context, read as the
  runtime reads `reply(text, context=...)` with `rerank=False`;
- `generate_ids`: ids (int32, [None, None], PAD_ID-padded) -> ids, lengths, score, with core
  TensorFlow ops only. `ids_only` writes an export with this signature alone, which a
  server without tensorflow-text's ops can load.

When the bundle's domain has an in-graph splitter (`Domain.graph_splitter`; the warehouse
splits a line of several fault records), `serving_default` and `generate` answer each unit
on its own, as the runtime does, unless the bundle's defaults say `"segment": false` or the
caller turns it off. `generate_ids` always decodes a line whole.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from assistant.serving.build_folders import build_folder, remove_stale_build_folders

TOKENIZER_ASSET = "tokenizer.model"
MAX_BEAM_WIDTH = 8  # `generate` accepts beam widths 1..this by default (one graph each)
BUNDLE = "bundle"  # `export_saved_model(draft_below=BUNDLE)`: the bundle's default


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
    removed: tuple[Path, ...] = ()  # build folders of killed exports this one removed


def export_options(defaults: dict[str, Any], overrides: dict[str, Any] | None = None):
    """The `DecodingOptions` an export bakes in: a bundle's defaults with overrides applied.

    Raises:
        ValueError: one line, for invalid options or a strategy an export does not support.
    """
    from assistant.decoding import DecodingOptions
    from assistant.runtime.options import decoding_settings
    from assistant.serving.module import EXPORT_STRATEGIES

    # An export returns the top beam hypothesis: the runtime's rerank by the domain's check
    # is Python.
    values = {**decoding_settings({**defaults, **(overrides or {})}), "n_best": 1}
    if values.get("strategy") not in EXPORT_STRATEGIES:
        raise ValueError(f"an export decodes with greedy or beam search, not "
                         f"{values.get('strategy')!r}")
    options = DecodingOptions(**values)
    options.validate()
    return options


def export_splitter(assistant, segment_lines: bool | None = None):
    """The in-graph splitter an export of `assistant` answers lines with, or None (whole).

    Args:
        assistant: a loaded `Assistant`; its domain gives the splitter, its defaults say
            whether to segment ("segment").
        segment_lines: True or False to override the defaults (`--segment/--no-segment`);
            True for a bundle whose domain splits nothing is an error.

    Raises:
        ValueError: one line, when `segment_lines` is True and the domain cannot split.
    """
    can_split = "segment" in assistant.domain.runtime_options
    if segment_lines and not can_split:
        raise ValueError(f"cannot segment lines: the {assistant.domain.name!r} domain of "
                         f"{assistant.name} splits nothing")
    wanted = assistant.defaults["segment"] if segment_lines is None else segment_lines
    return assistant.domain.graph_splitter() if wanted and can_split else None


def export_saved_model(assistant, out_dir: str | os.PathLike, options=None,
                       version: int | None = None, ids_only: bool = False,
                       jit_compile: bool = True, max_beam_width: int = MAX_BEAM_WIDTH,
                       splitter=None, context_input: bool | None = None,
                       draft_below: float | str | None = BUNDLE) -> ExportResult:
    """Writes `out_dir/<version>/`, a SavedModel of a loaded `Assistant`.

    Args:
        assistant: an `assistant.runtime.assistant.Assistant`.
        out_dir: the model's base directory (created if missing).
        options: the default `DecodingOptions` (default: `export_options(assistant.defaults)`).
        version: the version number (default: one more than the highest present).
        ids_only: write only `generate_ids` (no tensorflow-text ops in the export).
        jit_compile: XLA-compile the decoding functions (at their first call per bucket).
        max_beam_width: `generate` accepts beam widths 1..max_beam_width.
        splitter: the domain's in-graph splitter (see `export_splitter`): the text
            signatures answer each unit of a line on its own; ignored with `ids_only`.
        context_input: `generate` takes a `context` input (None: when the bundle reads
            context; for one that does not, the input is accepted and unused, as the
            runtime gives such a model no context); ignored with `ids_only`.
        draft_below: as the runtime's (`BUNDLE`: the bundle's default; None: off), for a
            domain whose annotator drafts (`train.neighbours`); else ignored.

    Returns:
        An `ExportResult`.

    Raises:
        ValueError: one line: `draft_below` is not a finite number or None.
        FileExistsError: the version directory exists.
        OSError: `out_dir` cannot be created or written (nothing is left behind).
    """
    from assistant.core.quiet_tf import import_tensorflow

    tf = import_tensorflow()
    options = options or export_options(assistant.defaults)
    if draft_below == BUNDLE:
        draft_below = assistant.defaults.get("draft_below")
    _check_draft_below(draft_below)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    removed = tuple(remove_stale_build_folders(out_dir))
    version = next_version(out_dir) if version is None else int(version)
    target = out_dir / str(version)
    if os.path.lexists(target):
        raise FileExistsError(f"{target} already exists (choose another --version)")
    with build_folder(out_dir, version) as building:
        tokenizer_file = building / TOKENIZER_ASSET
        tokenizer_file.write_bytes(assistant.tokenizer.model_proto)
        module = _serving_module(assistant, options, tokenizer_file, ids_only, jit_compile,
                                 max_beam_width, splitter, context_input, draft_below)
        signatures = module.signatures()
        saved = building / "saved_model"
        try:
            tf.saved_model.save(module, str(saved), signatures=signatures)
        except tf.errors.OpError as error:  # TensorFlow's own file errors are no OSError
            raise OSError(_first_line(error.message)) from None
        os.rename(saved, target)  # atomic: the version appears complete or not at all
    result = _measure(target, version, tuple(signatures),
                      segmented=splitter is not None and not ids_only)
    return dataclasses.replace(result, removed=removed)


def _serving_module(assistant, options, tokenizer_file: Path, ids_only: bool,
                    jit_compile: bool, max_beam_width: int, splitter, context_input: bool | None,
                    draft_below: float | None = None):
    """The `tf.Module` an export saves (see `export_saved_model` for the arguments)."""
    from assistant.serving.module import IdsServingModule, TextServingModule

    if ids_only:
        return IdsServingModule(assistant.model, options, jit_compile=jit_compile)
    reads_context = bool(getattr(assistant, "reads_context", False))
    return TextServingModule(
        assistant.model, options, assistant.tokenizer.model_proto, str(tokenizer_file),
        max_beam_width, source_case=getattr(assistant.config, "source_case", "keep"),
        jit_compile=jit_compile, splitter=splitter,
        context_input=reads_context if context_input is None else context_input,
        reads_context=reads_context, annotator=export_annotator(assistant),
        draft_below=draft_below)


def _check_draft_below(draft_below) -> None:
    """Raises the runtime's one-line `ValueError` for a threshold it would refuse."""
    from assistant.runtime.options import RuntimeOptions

    RuntimeOptions(draft_below=draft_below).validate()


def export_annotator(assistant):
    """The domain's in-graph `model_text` (`Domain.graph_annotator`), or None: a model
    trained on annotated sources reads them so in the export too."""
    domain = getattr(assistant, "domain", None)
    return None if domain is None else domain.graph_annotator()


def next_version(out_dir: Path) -> int:
    """One more than the highest numbered subdirectory of `out_dir` (1 if none)."""
    numbers = [int(p.name) for p in out_dir.iterdir() if p.name.isdigit() and p.is_dir()]
    return max(numbers, default=0) + 1


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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"
