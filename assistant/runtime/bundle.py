"""Reading a model bundle directory: config, tokenizer, weights, decoding defaults, domain.

A bundle holds `config.json` (the model config, the decoding defaults and the domain's
name), `tokenizer.model`, `model.weights.h5` and the files its domain reads. Every problem
is one line naming the file (`BundleError`).

A bundle trained on sources with a context (`assistant.core.tokenizer.model_source`) reads
context: its tokenizer has `constants.CONTEXT_SEPARATOR` as a piece, and config.json may say
so too (`"context": true`; `false` turns it off). Only such a bundle is given the context
of a turn (`Assistant.reply(text, context=...)`).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.core import constants
from assistant.core.config import ModelConfig, load_bundle_config
from assistant.core.tokenizer import Tokenizer, TokenizerError
from assistant.runtime.domain import Domain, domain_name, load_domain


class BundleError(ValueError):
    """A model bundle is missing, incomplete or corrupt."""


@dataclasses.dataclass
class Bundle:
    """The parts of a loaded bundle.

    Attributes:
        directory: where it was read from.
        model: the built `Seq2Seq` with its weights.
        tokenizer: its `Tokenizer`.
        defaults: config.json's "decoding" section (may be partial or empty).
        domain: its `Domain`, loaded with the domain's files.
        reads_context: the model was trained with contexts before its turns.
    """

    directory: Path
    model: Any
    tokenizer: Tokenizer
    defaults: dict[str, Any]
    domain: Domain
    reads_context: bool = False


def load_bundle(bundle_dir: str | os.PathLike) -> Bundle:
    """Loads every part of a bundle.

    Raises:
        BundleError: one line naming the missing or corrupt file.
    """
    from assistant.core.quiet_tf import import_tensorflow

    import_tensorflow()
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no such model directory")
    config_path = bundle / constants.CONFIG_FILE
    if not config_path.is_file():
        raise BundleError(f"{config_path}: missing (not a model bundle)")
    config, payload = _load_config(config_path)
    tokenizer_path = bundle / constants.TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.load(tokenizer_path)
    except TokenizerError as error:
        raise BundleError(str(error)) from None
    if tokenizer.vocab_size != config.vocab_size:
        raise BundleError(f"{config_path} does not match {tokenizer_path}: the tokenizer has "
                          f"{tokenizer.vocab_size} pieces, config.json says vocab_size "
                          f"{config.vocab_size} (use the files trained together)")
    model = _load_model(config, config_path, bundle / constants.WEIGHTS_FILE)
    try:
        domain = load_domain(domain_name(bundle), bundle)
    except ValueError as error:
        raise BundleError(f"{bundle}: {error}") from None
    defaults = payload.get("decoding", {})
    if not isinstance(defaults, dict):
        raise BundleError(f"{config_path}: 'decoding' must be an object")
    reads_context = _reads_context(payload, tokenizer, config_path, tokenizer_path)
    return Bundle(bundle, model, tokenizer, dict(defaults), domain, reads_context)


def _reads_context(payload: dict[str, Any], tokenizer: Tokenizer, config_path: Path,
                   tokenizer_path: Path) -> bool:
    """config.json's "context" (true or false) if it has one, else whether the tokenizer
    was trained with the context separator.

    Raises:
        BundleError: "context" is not true or false, or is true for a tokenizer without
            the separator.
    """
    said = payload.get("context")
    if said is None:
        return tokenizer.has_context_separator
    if not isinstance(said, bool):
        raise BundleError(f"{config_path}: 'context' must be true or false, not {said!r}")
    if said and not tokenizer.has_context_separator:
        raise BundleError(f"{config_path} does not match {tokenizer_path}: config.json says "
                          f"the model reads context, the tokenizer has no "
                          f"{constants.CONTEXT_SEPARATOR} piece (use the files trained "
                          "together)")
    return said


def _load_config(config_path: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """config.json's model config and payload; every problem names config.json."""
    try:
        return load_bundle_config(config_path)
    except (ValueError, TypeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        if isinstance(error, TypeError):  # e.g. "encoder_units": "eight"
            message = f"'model' holds a value of the wrong type ({message})"
        if not message.startswith(str(config_path)):
            message = f"{config_path}: {message}"
        raise BundleError(message) from None


def _load_model(config: ModelConfig, config_path: Path, weights: Path):
    """The `Seq2Seq` that config.json describes, with the weights of `weights`.

    Raises:
        BundleError: the weights file is missing or unreadable, or holds weights of another
            model than config.json describes (one line naming both files).
    """
    from assistant.core.model import Seq2Seq

    if not weights.is_file():
        raise BundleError(f"{weights}: missing")
    model = Seq2Seq(config)
    model.build()
    stored = _stored_shapes(weights)  # None: not readable HDF5 (Keras says why below)
    if stored is not None:
        difference = _shape_difference(stored, [tuple(v.shape) for v in model.weights])
        if difference:
            raise BundleError(_mismatch(config_path, weights, difference))
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py and Keras raise many kinds for a bad file
        if stored is not None:  # the arrays the model has, which Keras still cannot assign
            raise BundleError(_mismatch(config_path, weights, "Keras cannot assign them "
                                        "to the layers config.json builds")) from None
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise BundleError(f"{weights}: cannot load weights ({first})") from None
    return model


def _stored_shapes(weights: Path) -> list[tuple[int, ...]] | None:
    """The shapes of the arrays in a Keras weights file; None if it is not readable HDF5."""
    import h5py

    shapes: list[tuple[int, ...]] = []

    def visit(_name, item) -> None:
        if isinstance(item, h5py.Dataset):
            shapes.append(tuple(item.shape))

    try:
        with h5py.File(weights, "r") as file:
            file.visititems(visit)
    except Exception:  # h5py raises OSError, and others for damaged files
        return None
    return shapes


def _shape_difference(stored: list[tuple[int, ...]],
                      built: list[tuple[int, ...]]) -> str | None:
    """What differs between the weights' arrays and the model's, in words; None if nothing."""
    if len(stored) != len(built):
        return f"the weights hold {len(stored)} arrays, config.json builds {len(built)}"
    missing = Counter(built) - Counter(stored)
    extra = Counter(stored) - Counter(built)
    if not missing:
        return None
    return (f"the weights hold an array of shape {_shape(min(extra))} where config.json "
            f"builds {_shape(min(missing))}")


def _mismatch(config_path: Path, weights: Path, detail: str) -> str:
    return (f"{config_path} does not match {weights}: {detail} (the weights were trained "
            "with another config; use the config.json saved with them)")


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
