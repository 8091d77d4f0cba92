"""The bundle files a run writes besides weights and checkpoints: tokenizer.model, the
domain's files and config.json (model configuration, training settings, decoding defaults)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.core import constants
from assistant.core.atomic_files import atomic_write_bytes
from assistant.core.config import ModelConfig, save_bundle_config
from assistant.core.tokenizer import Tokenizer, join_context, normalize_source, split_context
from assistant.runtime.domain import (
    DOMAIN_MANIFEST,
    LEGACY_DOMAIN_FILE,
    NULL_DOMAIN,
    Domain,
    domain_class,
    load_domain,
)
from assistant.runtime.options import ReplyOptions, default_options
from training import data as data_lib
from training.config import RunConfig
from training.tokenizer_training import train_tokenizer

NEIGHBOURS = "neighbours"  # the domain `train.neighbours` builds from the train split


def bundle_tokenizer(
    out_dir: Path, config: RunConfig, train_pairs: list[data_lib.Pair], resume: bool
) -> Tokenizer:
    """Loads the bundle's tokenizer when resuming; otherwise trains it on the training
    sources and targets and writes it into the bundle."""
    tokenizer_path = out_dir / constants.TOKENIZER_FILE
    if resume:
        return Tokenizer.load(tokenizer_path)
    case = config.model.source_case
    texts = [normalize_source(p.source, case) for p in train_pairs]
    texts += [p.target for p in train_pairs]
    tokenizer = train_tokenizer(texts, config.tokenizer, seed=config.train.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(tokenizer_path, tokenizer.model_proto)
    return tokenizer


def write_bundle_files(
    data, out_dir: Path, config: RunConfig, splits, tokenizer: Tokenizer, console: Console,
    built: Domain | None = None,
) -> tuple[dict[str, data_lib.EncodedPairs], ModelConfig]:
    """Copies the domain's files (or writes those of a domain `built` from the train pairs),
    encodes the train and valid pairs, writes config.json and warns about cut pairs.

    Returns:
        (encoded "train" and "valid" pairs, the model configuration with the vocabulary size).
    """
    train_config = config.train
    if built is None:
        domain = copy_domain_files(data, out_dir)
    else:
        built.save_files(out_dir)
        domain = built.name
    encoded = {
        name: data_lib.encode_pairs(
            pairs,
            tokenizer,
            train_config.max_source_length,
            train_config.max_target_length,
            config.model.source_case,
        )
        for name, pairs in splits.items()
        if name in ("train", "valid")
    }
    model_config = dataclasses.replace(config.model, vocab_size=tokenizer.vocab_size)
    save_bundle_config(
        out_dir / constants.CONFIG_FILE,
        model_config,
        training=config.to_dict(),
        decoding=decoding_defaults(encoded["train"]),
        domain=domain,
    )
    for name, enc in encoded.items():
        if enc.truncated:
            console.print(
                f"[yellow]warning:[/] {enc.truncated} {name} pairs cut to the "
                "maximum source/target length"
            )
    return encoded, model_config


def decoding_defaults(train: data_lib.EncodedPairs) -> dict[str, Any]:
    """Decoding settings that suit the trained data, saved in config.json for inference:
    `assistant.runtime.options`' defaults with the values chosen here.

    The reply-length limit a + b x source length must admit the longest training target:
    a covers it with a margin (short prompts can have long answers) and b lets long
    inputs have longer replies still.
    """
    longest = max(len(t) for t in train.targets) + 1  # with EOS
    # alpha 1.0: on the warehouse valid split 0.6 dropped trailing records of multi-record
    # lines and 1.5 and more over-generated (figures: warehouse_notes.md's history).
    chosen = {"length_penalty": 1.0, "max_length_a": int(longest * 1.25) + 8, "max_length_b": 1.0}
    return ReplyOptions.resolve(default_options(), chosen).to_dict()


def model_sources(data: str | os.PathLike, splits: dict[str, list[data_lib.Pair]],
                  config: RunConfig | None = None) -> tuple[dict[str, list[data_lib.Pair]],
                                                            Domain | None]:
    """The splits as the model reads them (`model_pairs` with the domain of the data
    directory, e.g. the warehouse's catalog hints), so the model trains on what the runtime
    and the export give it; with `config.train.neighbours`, with the domain built from
    the train pairs (`neighbours_domain`).

    Returns:
        (the splits, the domain built from the train pairs or None).

    Raises:
        DataError: the data directory's domain files are not valid, or it has a domain and
            neighbours are on.
    """
    built = (neighbours_domain(data, splits["train"], config.model.source_case)
             if config is not None and config.train.neighbours else None)
    try:
        domain = built or load_domain(_manifest(Path(data))[0],
                                      data if Path(data).is_dir() else None)
    except ValueError as error:
        raise data_lib.DataError(str(error)) from None
    return {name: model_pairs(pairs, domain) for name, pairs in splits.items()}, built


def neighbours_domain(data: str | os.PathLike, train: list[data_lib.Pair],
                      source_case: str = "keep") -> Domain:
    """The domain of a run with `train.neighbours`: the train pairs (each source's turn and
    its target) that the model reads its sources with (`assistant.domains.neighbours`).

    Raises:
        DataError: the data directory has a domain of its own.
    """
    name = _manifest(Path(data))[0]
    if name != NULL_DOMAIN:
        raise data_lib.DataError(f"{data}: train.neighbours is for pairs without a domain; "
                                 f"this data is the {name} domain's")
    return domain_class(NEIGHBOURS).from_pairs(
        [(split_context(p.source)[1], p.target) for p in train], source_case)


def model_pairs(pairs: list[data_lib.Pair], domain: Domain) -> list[data_lib.Pair]:
    """`pairs` with each source's turn as `domain` has the model read it
    (`Domain.model_text`) after its context as the model reads it (`Domain.model_context`)."""
    if (type(domain).model_text is Domain.model_text
            and type(domain).model_context is Domain.model_context):
        return pairs

    turns = [split_context(pair.source) for pair in pairs]
    read_turns = domain.model_texts([turn for _, turn in turns])

    def read(pair: data_lib.Pair, context: str | None, turn: str, typed: str) -> data_lib.Pair:
        context = domain.model_context(context, typed) if context is not None else None
        source = join_context(context, turn)
        return pair if source == pair.source else dataclasses.replace(pair, source=source)

    return [read(pair, context, turn, typed)
            for pair, (context, typed), turn in zip(pairs, turns, read_turns, strict=True)]


def has_domain(data: str | os.PathLike) -> bool:
    """Whether a data directory is a domain's (a file, or a directory without a manifest,
    is not).

    Raises:
        DataError: its manifest is not valid.
    """
    return _manifest(Path(data))[0] != NULL_DOMAIN


def _manifest(directory: Path) -> tuple[str, list[str]]:
    """(domain name, files) of a data directory (`NULL_DOMAIN` and no files: none)."""
    if not directory.is_dir():
        return NULL_DOMAIN, []
    manifest = directory / DOMAIN_MANIFEST
    if manifest.is_file():
        try:
            entry = json.loads(manifest.read_text(encoding="utf-8"))
            return str(entry["name"]), [str(f) for f in entry.get("files", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise data_lib.DataError(f"{manifest}: not a valid domain manifest ({error})") from None
    if (directory / LEGACY_DOMAIN_FILE).is_file():
        return "warehouse", [LEGACY_DOMAIN_FILE]
    return NULL_DOMAIN, []


def copy_domain_files(data: str | os.PathLike, out_dir: Path) -> str:
    """Carries a data directory's domain into the bundle and returns the domain's name.

    A data directory written for a domain (e.g. by `build-corpus`) holds
    `DOMAIN_MANIFEST`, {"name": ..., "files": [...]}: the files are copied into the bundle
    and config.json names the domain. A directory from before manifests with a
    `faithfulness.json` is the warehouse's; anything else has no domain (`NULL_DOMAIN`).

    Raises:
        DataError: the manifest is not valid or names a missing file.
    """
    directory = Path(data)
    name, files = _manifest(directory)
    for file in files:
        source = directory / file
        if not source.is_file():
            raise data_lib.DataError(f"{directory / DOMAIN_MANIFEST}: names {file}, which "
                                     "is missing")
        atomic_write_bytes(out_dir / Path(file).name, source.read_bytes())
    return name
