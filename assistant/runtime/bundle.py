"""Reading a model bundle directory: config, tokenizer, weights, decoding defaults, domain.

A bundle holds `config.json` (the model config, the decoding defaults and the domain's
name), `tokenizer.model`, `model.weights.h5` and the files its domain reads. Every problem
is one line naming the file (`BundleError`).
"""

from __future__ import annotations

import dataclasses
import os
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
    """

    directory: Path
    model: Any
    tokenizer: Tokenizer
    defaults: dict[str, Any]
    domain: Domain


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
    try:
        config, payload = load_bundle_config(config_path)
        tokenizer = Tokenizer.load(bundle / constants.TOKENIZER_FILE)
    except (ValueError, TokenizerError) as error:
        raise BundleError(str(error)) from None
    if tokenizer.vocab_size != config.vocab_size:
        raise BundleError(f"{bundle}: tokenizer has {tokenizer.vocab_size} pieces but the "
                          f"model expects {config.vocab_size}")
    model = _load_model(config, bundle / constants.WEIGHTS_FILE)
    try:
        domain = load_domain(domain_name(bundle), bundle)
    except ValueError as error:
        raise BundleError(f"{bundle}: {error}") from None
    defaults = payload.get("decoding", {})
    if not isinstance(defaults, dict):
        raise BundleError(f"{config_path}: 'decoding' must be an object")
    return Bundle(bundle, model, tokenizer, dict(defaults), domain)


def _load_model(config: ModelConfig, weights: Path):
    from assistant.core.model import Seq2Seq

    if not weights.is_file():
        raise BundleError(f"{weights}: missing")
    model = Seq2Seq(config)
    model.build()
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py and Keras raise many kinds for a bad file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise BundleError(f"{weights}: cannot load weights ({first})") from None
    return model
