import pytest

from assistant.core import constants
from assistant.core.tokenizer import (
    Tokenizer,
    TokenizerError,
    join_context,
    model_source,
    normalize_source,
    split_context,
)
from training.tokenizer_training import TokenizerConfig, train_tokenizer


@pytest.mark.parametrize(
    "text",
    [
        "CV07:E217 T=85",
        "1234567890 0.25 -3",
        "héllo wörld ÄÖÜ ñ ç",
        "emoji 😀🚚📦 done",
        "control \x07 \x1b[31m chars",
        "漢字 and Ελληνικά",
        "  leading and  double  spaces ",
    ],
)
def test_round_trip_is_exact(tiny_tokenizer, text):
    ids = tiny_tokenizer.encode(text)
    assert tiny_tokenizer.decode(ids) == text
    assert constants.UNK_ID not in ids  # byte_fallback covers every character


def test_special_ids_are_fixed(tiny_tokenizer):
    pieces = [tiny_tokenizer.id_to_piece(i) for i in range(constants.NUM_SPECIAL_IDS)]
    assert pieces == [
        constants.PAD_PIECE,
        constants.UNK_PIECE,
        constants.BOS_PIECE,
        constants.EOS_PIECE,
    ]


def test_digits_are_split_one_per_piece(tiny_tokenizer):
    pieces = tiny_tokenizer.encode_pieces("T=8502")
    digits = [p.lstrip("▁") for p in pieces if p.lstrip("▁").isdigit()]
    assert digits == ["8", "5", "0", "2"]


def test_batch_encode_matches_single(tiny_tokenizer):
    texts = ["hello", "CV07:E217 T=85", "😀"]
    assert tiny_tokenizer.encode_batch(texts) == [tiny_tokenizer.encode(t) for t in texts]
    assert tiny_tokenizer.decode_batch(tiny_tokenizer.encode_batch(texts)) == texts


def test_decode_stops_at_eos_and_skips_padding(tiny_tokenizer):
    ids = tiny_tokenizer.encode("hello")
    noisy = [constants.BOS_ID, *ids, constants.EOS_ID, *tiny_tokenizer.encode("E217")]
    assert tiny_tokenizer.decode([*noisy, constants.PAD_ID]) == "hello"


def test_vocab_size(tiny_tokenizer):
    assert 304 < tiny_tokenizer.vocab_size <= 400


def test_bpe_option_trains():
    tokenizer = train_tokenizer(
        ["abc abd abe"] * 10, TokenizerConfig(vocab_size=270, model_type="bpe")
    )
    assert tokenizer.decode(tokenizer.encode("abd 42 ü")) == "abd 42 ü"


def test_training_is_deterministic(tiny_tokenizer):
    from tests.conftest import SAMPLE_TEXTS

    again = train_tokenizer(SAMPLE_TEXTS * 20, TokenizerConfig(vocab_size=400), seed=0)
    assert again.model_proto == tiny_tokenizer.model_proto


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="model_type"):
        TokenizerConfig(model_type="word")
    with pytest.raises(ValueError, match="at least 261"):
        TokenizerConfig(vocab_size=100)


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(TokenizerError, match="cannot read tokenizer"):
        Tokenizer.load(tmp_path / "missing.model")
    corrupt = tmp_path / "corrupt.model"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(TokenizerError, match=r"corrupt\.model: not a SentencePiece model"):
        Tokenizer.load(corrupt)


def test_too_small_vocabulary_says_what_to_change():
    with pytest.raises(ValueError, match=r"raise tokenizer\.vocab_size"):
        train_tokenizer(
            ["".join(chr(0x4E00 + i) for i in range(100))], TokenizerConfig(vocab_size=300)
        )


@pytest.mark.parametrize(
    ("text", "case", "expected"),
    [
        ("  cv07:e217 t=85 ", "keep", "cv07:e217 t=85"),
        ("  cv07:e217 t=85 ", "upper", "CV07:E217 T=85"),
        ("what does e217 mean?", "upper", "WHAT DOES E217 MEAN?"),
        ("héllo ß ñ 😀", "upper", "HéLLO ß ñ 😀"),  # ASCII only, as tf.strings.upper
    ],
)
def test_normalize_source(text, case, expected):
    assert normalize_source(text, case) == expected


LETTER_PAIR_TEXTS = ["SR32:E217 T=85", "Equipment SR 32 is not in the catalog", "SR SR SRSR"] * 30


def test_split_letter_pairs_spells_two_capitals_letter_by_letter():
    plain = train_tokenizer(LETTER_PAIR_TEXTS, TokenizerConfig(vocab_size=300))
    split = train_tokenizer(
        LETTER_PAIR_TEXTS, TokenizerConfig(vocab_size=300, split_letter_pairs=True)
    )

    assert "▁SR" in plain.encode_pieces("SR32")  # without the option the pair is one piece
    assert _letters(split.encode_pieces("SR32:E217"))[:3] == ["S", "R", "3"]
    assert _letters(split.encode_pieces("Equipment SR 32"))[-4:] == ["S", "R", "3", "2"]
    for text in ["QZ07:W301", "Equipment QZ 7", "lower case stays as it was", "ÄÖ SR"]:
        assert split.decode(split.encode(text)) == text
        pieces = split.encode_pieces(text.upper())
        assert not [p for p in pieces if len(p.lstrip("▁")) == 2 and p.lstrip("▁").isupper()]
    assert split.vocab_size == plain.vocab_size  # disabled pieces keep their ids


def _letters(pieces):
    return [piece.lstrip("▁") for piece in pieces if piece != "▁"]


def test_tensorflow_text_tokenizes_like_sentencepiece():
    import tensorflow_text

    split = train_tokenizer(
        LETTER_PAIR_TEXTS, TokenizerConfig(vocab_size=300, split_letter_pairs=True)
    )
    texts = ["SR32:E217 T=85", "Equipment SR 32", "héllo 😀"]
    graph = tensorflow_text.SentencepieceTokenizer(model=split.model_proto)

    assert graph.tokenize(texts).to_list() == [split.encode(text) for text in texts]


def test_a_context_is_joined_before_its_turn_and_split_back():
    assert model_source(" how do I fix it? ", " cv07:e217 ", "upper") == (
        "CV07:E217 <CTX> HOW DO I FIX IT?")
    assert model_source("how?", "  ") == model_source("how?") == "how?"
    source = join_context("CV07:E217 T=85", " how do I fix it?")
    assert source == "CV07:E217 T=85 <CTX> how do I fix it?"
    assert split_context(source) == ("CV07:E217 T=85", "how do I fix it?")
    assert split_context("CV07:E217 T=85") == (None, "CV07:E217 T=85")


def test_training_on_sources_with_contexts_makes_the_separator_one_piece(tiny_tokenizer):
    from tests.conftest import SAMPLE_TEXTS

    assert not tiny_tokenizer.has_context_separator
    texts = [*SAMPLE_TEXTS, join_context("CV07:E217 T=85", "how do I fix it?")] * 20
    tokenizer = train_tokenizer(texts, TokenizerConfig(vocab_size=400), seed=0)
    assert tokenizer.has_context_separator
    pieces = tokenizer.encode_pieces(model_source("what now?", "E217", "upper"))
    assert pieces.count(constants.CONTEXT_SEPARATOR) == 1
    assert tokenizer.decode(tokenizer.encode("E217 <CTX> what now?")) == "E217 <CTX> what now?"
