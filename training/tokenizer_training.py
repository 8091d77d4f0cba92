"""Trains the SentencePiece model of a bundle on the training pairs."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterable

import sentencepiece as spm

from assistant.core import constants
from assistant.core.tokenizer import Tokenizer


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    """How the SentencePiece model is trained."""

    vocab_size: int = 2000  # pieces, including the 4 special ids and the 256 byte pieces
    model_type: str = "unigram"  # "unigram" or "bpe"
    character_coverage: float = 1.0  # rare characters fall back to bytes below 1.0
    max_sentence_length: int = 8192  # bytes; longer training lines are skipped by SentencePiece
    # Disable pieces of exactly two capital letters ("SR" at the start of a word or inside
    # one), so that two-letter prefixes such as equipment labels are spelled letter by
    # letter, in the input and in the reply alike: the model copies letters it has seen
    # thousands of times instead of a pair it may never have seen (an unseen "SR32" was
    # answered as "JF 32"). Meant for unigram: BPE builds longer pieces out of pairs, so
    # with BPE every capitalised word is spelled out as well.
    split_letter_pairs: bool = False

    def __post_init__(self) -> None:
        if self.model_type not in ("unigram", "bpe"):
            raise ValueError(
                f"tokenizer model_type must be 'unigram' or 'bpe', not {self.model_type!r}"
            )
        if self.vocab_size < constants.NUM_SPECIAL_IDS + 256 + 1:
            raise ValueError(
                f"tokenizer vocab_size must be at least {constants.NUM_SPECIAL_IDS + 257} "
                f"(4 special ids + 256 byte pieces + 1), not {self.vocab_size}"
            )


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig, seed: int = 0) -> Tokenizer:
    """Trains SentencePiece on `texts` and returns the wrapped model.

    Digits are split into single pieces (numbers are copied digit by digit) and unknown
    characters fall back to bytes (any input encodes without UNK). Normalisation is the
    identity so that decoding gives back exactly what was encoded. With
    `config.split_letter_pairs`, pieces of two capital letters are marked unused after
    training (SentencePiece then never produces them, in Python and in tensorflow-text).

    Args:
        texts: sources and targets, one sentence each.
        config: vocabulary size and algorithm.
        seed: SentencePiece's sampling seed (fixed for reproducible vocabularies).

    Raises:
        ValueError: when SentencePiece cannot build a vocabulary of that size from the texts.
    """
    sentences = [text.replace("\n", " ") for text in texts if text.strip()]
    if not sentences:
        raise ValueError("no text to train the tokenizer on")
    spm.set_random_generator_seed(seed)
    separator = constants.CONTEXT_SEPARATOR
    symbols = [separator] if any(separator in sentence for sentence in sentences) else []
    try:
        proto = _train_sentencepiece(sentences, config, symbols)
    except RuntimeError as error:
        raise _training_error(error) from None
    if config.split_letter_pairs:
        proto = disable_pieces(proto, _LETTER_PAIR)
    return Tokenizer(proto)


_LETTER_PAIR = re.compile("\u2581?[A-Z]{2}")


def disable_pieces(model_proto: bytes, pattern: re.Pattern) -> bytes:
    """Marks every normal piece that fully matches `pattern` as unused; returns the new model.

    An unused piece keeps its id (the vocabulary size does not change) but encoding never
    produces it: the text is spelled with shorter pieces instead.
    """
    model = _model_proto_class()()
    model.ParseFromString(model_proto)
    for piece in model.pieces:
        if piece.type == _NORMAL and pattern.fullmatch(piece.piece):
            piece.type = _UNUSED
    return model.SerializeToString()


_NORMAL, _UNUSED = 1, 5  # sentencepiece_model.proto's SentencePiece.Type values


def _model_proto_class():
    """The part of sentencepiece_model.proto that `disable_pieces` edits, built at run time.

    SentencePiece's generated `sentencepiece_model_pb2` refuses a protobuf runtime older
    than the one it was generated with (the [beam] extra installs protobuf 6): a message
    built from a descriptor here works with any runtime, and the fields it does not
    declare (trainer and normalizer specs, ...) are kept as unknown fields when it is
    serialized again, byte for byte.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    label, kinds = descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="keras_assistant_sentencepiece.proto",
                                              package="keras_assistant_sentencepiece")
    piece = file.message_type.add(name="SentencePiece")
    for number, name, kind in ((1, "piece", kinds.TYPE_STRING), (2, "score", kinds.TYPE_FLOAT)):
        piece.field.add(name=name, number=number, type=kind, label=label.LABEL_OPTIONAL)
    piece.field.add(name="type", number=3, type=kinds.TYPE_INT32, label=label.LABEL_OPTIONAL,
                    default_value=str(_NORMAL))  # absent on the wire when NORMAL
    model = file.message_type.add(name="ModelProto")
    model.field.add(name="pieces", number=1, type=kinds.TYPE_MESSAGE,
                    type_name=".keras_assistant_sentencepiece.SentencePiece",
                    label=label.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("keras_assistant_sentencepiece.ModelProto")
    return message_factory.GetMessageClass(descriptor)


def _train_sentencepiece(sentences: list[str], config: TokenizerConfig,
                         symbols: list[str]) -> bytes:
    """Runs the SentencePiece trainer on `sentences`; returns the serialized model.
    `symbols` become user-defined pieces (none: the trainer's call is as before)."""
    model = io.BytesIO()
    extra = {"user_defined_symbols": symbols} if symbols else {}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=config.vocab_size,
        model_type=config.model_type,
        character_coverage=config.character_coverage,
        max_sentence_length=config.max_sentence_length,
        pad_id=constants.PAD_ID,
        unk_id=constants.UNK_ID,
        bos_id=constants.BOS_ID,
        eos_id=constants.EOS_ID,
        pad_piece=constants.PAD_PIECE,
        unk_piece=constants.UNK_PIECE,
        bos_piece=constants.BOS_PIECE,
        eos_piece=constants.EOS_PIECE,
        split_digits=True,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        hard_vocab_limit=False,
        num_threads=2,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=False,
        minloglevel=2,
        **extra,
    )
    return model.getvalue()


def _training_error(error: RuntimeError) -> ValueError:
    """The user-facing error of a failed SentencePiece run: what to change when the
    vocabulary is too small for the data's characters."""
    needed = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", str(error))
    if needed:
        return ValueError(
            f"tokenizer vocab_size {needed.group(1)} is too small for this data: it needs "
            f"at least {needed.group(2)} (special ids, 256 byte pieces and every character "
            "kept by character_coverage); raise tokenizer.vocab_size or lower "
            "tokenizer.character_coverage"
        )
    return ValueError(f"SentencePiece training failed: {error}")
