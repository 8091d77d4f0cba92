"""SentencePiece wrapper: text <-> subword ids with the project's fixed special ids."""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path

import sentencepiece as spm

from assistant.core import constants


class TokenizerError(ValueError):
    """The tokenizer model is missing, corrupt, or has the wrong special ids."""


class Tokenizer:
    """Encodes text to SentencePiece ids and back.

    The model must reserve `constants.PAD_ID`, `UNK_ID`, `BOS_ID` and `EOS_ID`; `encode`
    never adds BOS/EOS (the model adds them where it needs them).

    Args:
        model_proto: the serialized SentencePiece model (the bytes of `tokenizer.model`).
    """

    def __init__(self, model_proto: bytes) -> None:
        self.model_proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self.model_proto)
        except (RuntimeError, OSError) as error:
            raise TokenizerError(f"not a SentencePiece model ({error})") from None
        expected = {
            constants.PAD_ID: self._sp.pad_id(),
            constants.UNK_ID: self._sp.unk_id(),
            constants.BOS_ID: self._sp.bos_id(),
            constants.EOS_ID: self._sp.eos_id(),
        }
        wrong = [f"{want} != {got}" for want, got in expected.items() if want != got]
        if wrong:
            raise TokenizerError(f"special token ids do not match constants.py: {', '.join(wrong)}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Loads `tokenizer.model` from a file.

        Raises:
            TokenizerError: when the file is missing or not a valid model.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TokenizerError(f"{path}: cannot read tokenizer ({error.strerror})") from None
        try:
            return cls(data)
        except TokenizerError as error:
            raise TokenizerError(f"{path}: {error}") from None

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Returns the ids of `text` (no BOS/EOS)."""
        return self._sp.encode(text, out_type=int)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Returns the ids of every text (no BOS/EOS)."""
        return self._sp.encode(list(texts), out_type=int)

    def encode_pieces(self, text: str) -> list[str]:
        """Returns the pieces of `text`, e.g. for labelling attention rows."""
        return self._sp.encode(text, out_type=str)

    def decode(self, ids: Sequence[int]) -> str:
        """Returns the text of `ids`, ignoring special ids (PAD/BOS/EOS) and stopping at EOS."""
        return self._sp.decode(_strip_special(ids))

    def decode_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        return [self.decode(ids) for ids in batch]

    def id_to_piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))

    def ids_to_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._sp.id_to_piece(int(i)) for i in ids]

    @property
    def has_context_separator(self) -> bool:
        """Whether `constants.CONTEXT_SEPARATOR` is one piece of this vocabulary: the
        tokenizer was trained on sources with a context (`model_source`)."""
        piece_id = self._sp.piece_to_id(constants.CONTEXT_SEPARATOR)
        return piece_id != constants.UNK_ID and not self._sp.is_unused(piece_id)


def normalize_source(text: str, case: str = "keep") -> str:
    """Prepares an input the way the model saw its training sources.

    Inputs are stripped; with `case="upper"` (a `ModelConfig.source_case`), ASCII letters are
    upper-cased, so "cv07:e217" and "CV07:E217" are one input to the model. Only ASCII is
    changed, exactly as `tf.strings.upper` does in an exported graph.
    """
    text = text.strip()
    return text.translate(_ASCII_UPPER) if case == "upper" else text


def model_source(text: str, context: str | None = None, case: str = "keep") -> str:
    """The source a model reads for `text` said after `context`.

    Without a context (None, or blank) it is `normalize_source(text)`; with one, both are
    normalized and joined around `constants.CONTEXT_SEPARATOR`: "CV07:E217 T=85 <CTX> how do
    I fix it?". A corpus writes its sources the same way (`join_context`), and an export
    joins them with the same rules in its graph.
    """
    turn = normalize_source(text, case)
    context = normalize_source(context or "", case)
    return f"{context} {constants.CONTEXT_SEPARATOR} {turn}" if context else turn


def join_context(context: str | None, text: str) -> str:
    """A corpus source of `text` after `context`, as typed (`model_source` with case kept)."""
    return model_source(text, context)


def split_context(source: str) -> tuple[str | None, str]:
    """(context, turn) of a source `join_context` wrote; (None, source) for a source
    without a context."""
    context, separator, turn = source.partition(f" {constants.CONTEXT_SEPARATOR} ")
    return (context.strip(), turn.strip()) if separator else (None, source)


_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def _strip_special(ids: Sequence[int]) -> list[int]:
    kept = []
    for token_id in ids:
        token_id = int(token_id)
        if token_id == constants.EOS_ID:
            break
        if token_id not in (constants.PAD_ID, constants.BOS_ID):
            kept.append(token_id)
    return kept
