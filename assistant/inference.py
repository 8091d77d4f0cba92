"""The inference facade: `Assistant.load(bundle).reply(text, **options) -> Reply`.

Surfaces (REPL, batch conversion) talk only to this module; it owns tokenization, length
bucketing, the compiled decoding graphs and the conversion of results to plain Python.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant import constants
from assistant.config import ModelConfig, load_bundle_config
from assistant.tokenizer import Tokenizer, TokenizerError, normalize_source

SOURCE_BUCKETS = (8, 16, 32, 64, 128, 256)  # sources are padded to one of these lengths
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # batches are padded to one of these sizes
MAX_SOURCE_PIECES = SOURCE_BUCKETS[-1]  # longer inputs are refused with a clear error
MAX_STEPS_CAP = 512  # no reply is longer than this many pieces
# Used where a bundle's config.json has no "decoding" section (bundles trained elsewhere).
FALLBACK_DEFAULTS = {"strategy": "beam", "beam_width": 5, "length_penalty": 0.6,
                     "max_length_a": 200, "max_length_b": 2.0, "rerank": True}
# Options the runtime applies to decoded hypotheses, not passed to `DecodingOptions`:
# rerank (beam search with a faithfulness check): the reply is the best-scoring hypothesis
# of the whole beam that the check does not flag, or the best one when every one is flagged.
RUNTIME_OPTIONS = ("rerank",)


class BundleError(ValueError):
    """A model bundle is missing, incomplete or corrupt."""


class InputError(ValueError):
    """One input cannot be answered (empty, too long); the message says why."""


@dataclasses.dataclass(frozen=True)
class Alternative:
    """One n-best hypothesis."""

    text: str
    score: float


@dataclasses.dataclass(frozen=True)
class Reply:
    """The answer to one input.

    Attributes:
        text: the reply.
        score: the ranking score (log-probability, length-normalised under beam search).
        alternatives: the n-best list: `text` first, then the others in score order.
        attention: (len(pieces), len(source_pieces)) float32 attention of the best hypothesis.
        source_pieces: the input's SentencePiece pieces.
        pieces: the reply's pieces, ending with "</s>" when the model ended it.
        token_log_probs: log-probability of each of `pieces`.
        flags: faithfulness warnings (numbers or codes in the reply that are not in the
            input, input codes or units missing from the reply); empty when none.
        error: set instead of a reply when the input could not be answered.
    """

    text: str
    score: float
    alternatives: tuple[Alternative, ...] = ()
    attention: np.ndarray | None = None
    source_pieces: tuple[str, ...] = ()
    pieces: tuple[str, ...] = ()
    token_log_probs: tuple[float, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None


class Assistant:
    """A loaded model bundle that answers texts.

    Args:
        model: a built `Seq2Seq`.
        tokenizer: its `Tokenizer`.
        name: shown by surfaces (the bundle directory's name).
        checker: optional `(source, reply) -> list[str]` faithfulness check.
    """

    def __init__(self, model, tokenizer: Tokenizer, name: str = "model", checker=None,
                 defaults: dict[str, Any] | None = None) -> None:
        from assistant.decoding import DecodingOptions
        from assistant.decoding_graphs import DecodingGraphs

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.checker = checker
        self.defaults = {**FALLBACK_DEFAULTS, **(defaults or {})}
        if not isinstance(self.defaults.get("rerank", False), bool):
            raise ValueError(f"rerank must be true or false, got {self.defaults['rerank']!r}")
        DecodingOptions(**decoding_settings(self.defaults)).validate()
        self._graphs = DecodingGraphs(model)

    @classmethod
    def load(cls, bundle_dir: str | os.PathLike) -> Assistant:
        """Loads `config.json`, `tokenizer.model` and `model.weights.h5` from a bundle.

        Raises:
            BundleError: one line naming the missing or corrupt file.
        """
        from assistant.quiet_tf import import_tensorflow

        import_tensorflow()
        from assistant.model import Seq2Seq

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
        weights = bundle / constants.WEIGHTS_FILE
        if not weights.is_file():
            raise BundleError(f"{weights}: missing")
        model = Seq2Seq(config)
        model.build()
        try:
            model.load_weights(weights)
        except Exception as error:  # h5py and Keras raise many kinds for a bad file
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise BundleError(f"{weights}: cannot load weights ({first})") from None
        defaults = payload.get("decoding", {})
        try:
            return cls(model, tokenizer, name=bundle.name, checker=_load_checker(bundle),
                       defaults=defaults)
        except (TypeError, ValueError) as error:
            raise BundleError(f"{config_path}: bad decoding defaults ({error})") from None

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    def reply(self, text: str, **options: Any) -> Reply:
        """Answers one text; see `reply_batch` for the options.

        Raises:
            InputError: the text is empty or too long.
            ValueError: an option is invalid.
        """
        result = self.reply_batch([text], **options)[0]
        if result.error is not None:
            raise InputError(result.error)
        return result

    def reply_batch(self, texts: Sequence[str], batch_size: int = 64,
                    **options: Any) -> list[Reply]:
        """Answers many texts, in input order.

        Texts are sorted by length and decoded in batches of at most `batch_size`; an input
        that cannot be answered gets a `Reply` with `error` set instead of raising, so the
        output always has one entry per input.

        Args:
            texts: the inputs.
            batch_size: rows decoded together.
            **options: decoding options: strategy ("greedy", "beam", "sample"), beam_width,
                length_penalty, n_best, temperature, top_k, top_p, seed, min_length,
                max_length_a, max_length_b (see `assistant.decoding.DecodingOptions`),
                and rerank (see `RUNTIME_OPTIONS`); unset ones take the bundle's defaults
                (`self.defaults`).

        Raises:
            ValueError: an option is invalid (before anything is decoded).
        """
        from assistant.decoding import DecodingOptions

        settings = {**self.defaults, **options}
        rerank = settings.pop("rerank", False)
        if not isinstance(rerank, bool):
            raise ValueError(f"rerank must be true or false, got {rerank!r}")
        try:
            decoding = DecodingOptions(**settings)
        except TypeError:
            known = ", ".join([f.name for f in dataclasses.fields(DecodingOptions)]
                              + list(RUNTIME_OPTIONS))
            unknown = ", ".join(sorted(set(options) - set(known.split(", "))))
            raise ValueError(f"unknown decoding option(s) {unknown} (known: {known})") from None
        decoding.validate()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        rerank = rerank and self.checker is not None and decoding.strategy == "beam"
        search = dataclasses.replace(decoding, n_best=decoding.beam_width) if rerank else decoding
        results: list[Reply | None] = [None] * len(texts)
        encoded = []
        for index, text in enumerate(texts):
            ids, error = self._encode(text)
            if error is not None:
                results[index] = Reply(text="", score=float("nan"), error=error)
            else:
                encoded.append((index, ids, text))
        encoded.sort(key=lambda item: len(item[1]))
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            replies = self._decode_chunk(chunk, search, decoding.n_best, rerank)
            for (index, _, _), reply in zip(chunk, replies, strict=True):
                results[index] = reply
        return results  # type: ignore[return-value]

    def warm_up(self, **options: Any) -> None:
        """Compiles the graph of the shortest bucket for these options (e.g. at start-up)."""
        self.reply_batch(["warm up"], **options)

    def _encode(self, text: str) -> tuple[list[int], str | None]:
        if not isinstance(text, str):
            return [], f"input must be text, not {type(text).__name__}"
        if not text.strip():
            return [], "empty input"
        ids = self.tokenizer.encode(normalize_source(text, self.config.source_case))
        if len(ids) > MAX_SOURCE_PIECES:
            return [], (f"input too long: {len(ids)} pieces, the limit is "
                        f"{MAX_SOURCE_PIECES} (about {MAX_SOURCE_PIECES * 3} characters)")
        return ids, None

    def _decode_chunk(self, chunk, decoding, n_best: int, rerank: bool) -> list[Reply]:
        longest = max(len(ids) for _, ids, _ in chunk)
        source_len = next(b for b in SOURCE_BUCKETS if b >= longest)
        rows = next((b for b in BATCH_BUCKETS if b >= len(chunk)), len(chunk))
        source = np.full((rows, source_len), constants.PAD_ID, np.int32)
        for row, (_, ids, _) in enumerate(chunk):
            source[row, : len(ids)] = ids
        result = self._graphs.run(source, decoding, step_budget(decoding))
        replies = []
        for row, (_, ids, text) in enumerate(chunk):
            replies.append(self._to_reply(result, row, ids, text, n_best, rerank))
        return replies

    def _to_reply(self, result, row: int, source_ids: list[int], source_text: str,
                  n_best: int, rerank: bool) -> Reply:
        tokenizer = self.tokenizer
        alternatives = []
        for rank in range(result.tokens.shape[1]):
            length = int(result.lengths[row, rank])
            ids = result.tokens[row, rank, :length]
            alternatives.append(Alternative(tokenizer.decode(ids),
                                            float(result.scores[row, rank])))
        best, flags = 0, ()
        if self.checker:
            flags = tuple(self.checker(source_text, alternatives[0].text))
            for rank in range(1, len(alternatives) if rerank and flags else 1):
                candidate = tuple(self.checker(source_text, alternatives[rank].text))
                if not candidate:
                    best, flags = rank, candidate
                    break
        # The chosen hypothesis first, the others in score order, cut to the n-best asked for.
        order = [best] + [rank for rank in range(len(alternatives)) if rank != best]
        alternatives = [alternatives[rank] for rank in order[:n_best]]
        best_length = int(result.lengths[row, best])
        best_ids = result.tokens[row, best, :best_length]
        attention = None
        if result.attention is not None:
            attention = np.asarray(result.attention[row, best, :best_length, : len(source_ids)],
                                   np.float32)
        return Reply(
            text=alternatives[0].text,
            score=alternatives[0].score,
            alternatives=tuple(alternatives),
            attention=attention,
            source_pieces=tuple(tokenizer.ids_to_pieces(source_ids)),
            pieces=tuple(tokenizer.ids_to_pieces(best_ids)),
            token_log_probs=tuple(float(x)
                                  for x in result.token_log_probs[row, best, :best_length]),
            flags=flags,
        )


def decoding_settings(options: dict[str, Any]) -> dict[str, Any]:
    """`options` without the `RUNTIME_OPTIONS`: the keyword arguments of `DecodingOptions`."""
    return {name: value for name, value in options.items() if name not in RUNTIME_OPTIONS}


def step_budget(options) -> int:
    """The decoding buffer size for `options` (a `DecodingOptions`): the limit of the longest
    input, capped at `MAX_STEPS_CAP`.

    It is one size for every bucket, so a new input length never retraces; each row still
    stops at its own limit a + b x its length (see `decoding_graphs.bind_model`).
    """
    return min(MAX_STEPS_CAP, int(options.max_length_a + options.max_length_b * MAX_SOURCE_PIECES))


def _load_checker(bundle: Path):
    """The faithfulness check of a bundle trained on fault-catalog data, else None."""
    from assistant import faithfulness

    try:
        return faithfulness.load_checker(bundle / faithfulness.BUNDLE_FILE)
    except ValueError as error:
        raise BundleError(str(error)) from None
