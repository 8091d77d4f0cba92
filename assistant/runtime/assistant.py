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

from assistant import constants, segment
from assistant.config import ModelConfig, load_bundle_config
from assistant.tokenizer import Tokenizer, TokenizerError, normalize_source

SOURCE_BUCKETS = (8, 16, 32, 64, 128, 256)  # sources are padded to one of these lengths
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # batches are padded to one of these sizes
MAX_SOURCE_PIECES = SOURCE_BUCKETS[-1]  # longer inputs are refused with a clear error
MAX_STEPS_CAP = 512  # no reply is longer than this many pieces
# Used where a bundle's config.json has no "decoding" section (bundles trained elsewhere).
FALLBACK_DEFAULTS = {"strategy": "beam", "beam_width": 5, "length_penalty": 0.6,
                     "max_length_a": 200, "max_length_b": 2.0, "rerank": True, "segment": True,
                     "retry_beam": 16}
# Options the runtime applies around decoding, not passed to `DecodingOptions`:
# rerank (beam search with a faithfulness check): the reply is the best-scoring hypothesis
# of the whole beam that the check does not flag, or the best one when every one is flagged.
# segment (a bundle with a record order): a fault line of several records is answered one
# record at a time and the sentences are put in the catalog's order (`assistant.segment`).
# retry_beam (with rerank): an input whose every hypothesis is flagged is searched again
# with this beam width, and answered by that search when it finds an unflagged reply; 0 is
# off. It costs time only for the few flagged inputs.
# The switches are on unless the bundle's config.json or the caller turns them off.
RUNTIME_OPTIONS = ("rerank", "segment", "retry_beam")


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
        defaults: decoding options of the bundle (config.json's "decoding").
        record_order: optional `segment.RecordOrder`; without it no line is segmented.
    """

    def __init__(self, model, tokenizer: Tokenizer, name: str = "model", checker=None,
                 defaults: dict[str, Any] | None = None,
                 record_order: segment.RecordOrder | None = None) -> None:
        from assistant.decoding import DecodingOptions
        from assistant.decoding_graphs import DecodingGraphs

        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.checker = checker
        self.record_order = record_order
        self.defaults = {**FALLBACK_DEFAULTS, **(defaults or {})}
        check_runtime_options(self.defaults)
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
                       defaults=defaults, record_order=_load_record_order(bundle))
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
                rerank, segment and retry_beam (see `RUNTIME_OPTIONS`); unset ones take the
                bundle's defaults (`self.defaults`).

        Raises:
            ValueError: an option is invalid (before anything is decoded).
        """
        from assistant.decoding import DecodingOptions

        settings = {**self.defaults, **options}
        check_runtime_options(settings)
        rerank = settings.pop("rerank", False)
        split = settings.pop("segment", False)
        retry_beam = settings.pop("retry_beam", 0)
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
        # What is decoded: each input whole, or each record of a segmented line on its own.
        units: list[str] = []
        plan: list[tuple[list[str] | None, range]] = []  # per input: its records, its units
        for text in texts:
            records = segment.split_line(text) if split and self.record_order else None
            plan.append((records, range(len(units), len(units) + len(records or (text,)))))
            units.extend(records or (text,))
        answers: list[Reply | None] = [None] * len(units)
        encoded = []
        for index, text in enumerate(units):
            ids, error = self._encode(text)
            if error is not None:
                answers[index] = Reply(text="", score=float("nan"), error=error)
            else:
                encoded.append((index, ids, text))
        encoded.sort(key=lambda item: len(item[1]))
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            replies = self._decode_chunk(chunk, search, decoding.n_best, rerank)
            for (index, _, _), reply in zip(chunk, replies, strict=True):
                answers[index] = reply
        if rerank and retry_beam > decoding.beam_width:
            self._retry_flagged(encoded, answers, search, retry_beam, decoding.n_best, batch_size)
        return [
            answers[span[0]] if records is None
            else self._join_records(text, records, [answers[i] for i in span])
            for text, (records, span) in zip(texts, plan, strict=True)
        ]  # type: ignore[misc]

    def _retry_flagged(self, encoded, answers, search, width: int, n_best: int,
                       batch_size: int) -> None:
        """Searches the flagged units of `encoded` again with beam `width`; a new reply
        replaces the old one in `answers` when the check passes it."""
        flagged = [item for item in encoded if answers[item[0]].flags]
        wide = dataclasses.replace(search, beam_width=width, n_best=width)
        for start in range(0, len(flagged), batch_size):
            chunk = flagged[start : start + batch_size]
            for (index, _, _), reply in zip(
                chunk, self._decode_chunk(chunk, wide, n_best, True), strict=True
            ):
                if not reply.flags:
                    answers[index] = reply

    def _join_records(self, text: str, records: list[str], replies: list[Reply]) -> Reply:
        """One reply for a segmented line from the replies to its records.

        The sentences follow `record_order`; the score is the sum of the records' scores;
        the k-th alternative joins every record's k-th alternative; flags check the joined
        reply against the whole line. `source_pieces` are the records' pieces in input
        order, `pieces` the sentences' pieces with one end piece at the end, and the
        attention is block-diagonal (a sentence attends only to its own record).
        """
        for position, reply in enumerate(replies, start=1):
            if reply.error is not None:
                return Reply(text="", score=float("nan"), error=f"record {position}: {reply.error}")
        order = self.record_order.order(records)  # type: ignore[union-attr]
        count = min(len(reply.alternatives) for reply in replies)
        alternatives = tuple(
            Alternative(
                " ".join(t for t in (replies[i].alternatives[k].text for i in order) if t),
                sum(replies[i].alternatives[k].score for i in order),
            )
            for k in range(count)
        )
        pieces: list[str] = []
        log_probs: list[float] = []
        rows = []
        offsets = np.cumsum([0] + [len(reply.source_pieces) for reply in replies])
        for place, i in enumerate(order):
            reply = replies[i]
            keep = len(reply.pieces)
            if place < len(order) - 1 and reply.pieces[-1:] == (constants.EOS_PIECE,):
                keep -= 1  # one end piece, after the last sentence
            pieces.extend(reply.pieces[:keep])
            log_probs.extend(reply.token_log_probs[:keep])
            if reply.attention is not None:
                block = np.zeros((keep, offsets[-1]), np.float32)
                block[:, offsets[i] : offsets[i + 1]] = reply.attention[:keep]
                rows.append(block)
        attention = np.concatenate(rows) if len(rows) == len(replies) else None
        joined = alternatives[0].text
        return Reply(
            text=joined,
            score=alternatives[0].score,
            alternatives=alternatives,
            attention=attention,
            source_pieces=tuple(p for reply in replies for p in reply.source_pieces),
            pieces=tuple(pieces),
            token_log_probs=tuple(log_probs),
            flags=tuple(self.checker(text, joined)) if self.checker else (),
        )

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


def check_runtime_options(options: dict[str, Any]) -> None:
    """Validates the `RUNTIME_OPTIONS` present in `options`.

    Raises:
        ValueError: one line naming the first invalid option.
    """
    for name in ("rerank", "segment"):
        if not isinstance(options.get(name, False), bool):
            raise ValueError(f"{name} must be true or false, got {options[name]!r}")
    retry_beam = options.get("retry_beam", 0)
    if not isinstance(retry_beam, int) or isinstance(retry_beam, bool) or retry_beam < 0:
        raise ValueError(f"retry_beam must be an int >= 0 (0 is off), got {retry_beam!r}")


def _load_record_order(bundle: Path) -> segment.RecordOrder | None:
    """The record order a bundle's faithfulness file gives for segmentation, else None."""
    from assistant import faithfulness

    try:
        return segment.load_record_order(bundle / faithfulness.BUNDLE_FILE)
    except ValueError as error:
        raise BundleError(str(error)) from None


def _load_checker(bundle: Path):
    """The faithfulness check of a bundle trained on fault-catalog data, else None."""
    from assistant import faithfulness

    try:
        return faithfulness.load_checker(bundle / faithfulness.BUNDLE_FILE)
    except ValueError as error:
        raise BundleError(str(error)) from None
