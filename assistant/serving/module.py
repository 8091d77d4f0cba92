"""The serving graph of a model bundle: a `tf.Module` with explicit signatures.

`TextServingModule` answers strings with SentencePiece inside the graph (tensorflow-text ops);
`IdsServingModule` maps token ids to token ids with core TensorFlow ops only. Both bind the
Keras model's `encode` / `decode_step` to the strategies of `assistant.decoding` exactly as
`assistant.decoding.graphs` does for the Python runtime, and batch the way
`Assistant.reply_batch` does: rows are sorted by length, decoded 64 at a time, sources padded
to `SOURCE_BUCKETS` and batches to `BATCH_BUCKETS`, so an exported graph computes what the
runtime computes and XLA compiles once per bucket.

Rows that cannot be answered (empty after stripping, more than `MAX_SOURCE_PIECES` pieces,
ids out of range or not right-padded) get an empty reply and the score `NO_REPLY_SCORE`
(-inf) instead of failing the whole request; invalid per-request options (beam width,
length penalty, max length) fail the request with an `InvalidArgument` error.

Given a domain's `GraphSplitter`, the text signatures answer each unit of a line on its own
and join the answers in the splitter's order, as the runtime does.

With `context_input`, `generate` takes one more input, `context` (string [batch], "" for
none): the conversation's context of each text, joined before it as
`assistant.core.tokenizer.model_source` joins them when the model reads context (and ignored
when it does not, as the runtime ignores it), and not given to the units of a split line.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from assistant import decoding
from assistant.core import constants
from assistant.decoding.buckets import MAX_SOURCE_PIECES
from assistant.serving.decoders import NO_REPLY_SCORE, Decoders
from assistant.serving.re2 import strip_pattern

_CONTEXT_JOINER = f" {constants.CONTEXT_SEPARATOR} "  # as `tokenizer.model_source` joins
_GENERATE_OPTIONS = [
    tf.TensorSpec([], tf.int32, name="beam_width"),
    tf.TensorSpec([], tf.float32, name="length_penalty"),
    tf.TensorSpec([], tf.int32, name="max_length"),
]

EXPORT_STRATEGIES = ("greedy", "beam")  # default strategies an export can bake in


class IdsServingModule(tf.Module):
    """A SavedModel root with the `generate_ids` signature (core TensorFlow ops only).

    Args:
        model: a built `Seq2Seq`; only its variables are tracked (each stored once).
        options: the export's default decoding (`strategy` greedy or beam; n_best is 1).
        jit_compile: compile the decoding functions with XLA at their first call.
    """

    def __init__(self, model, options: decoding.DecodingOptions, jit_compile: bool = True,
                 name: str = "assistant") -> None:
        super().__init__(name=name)
        options.validate()
        if options.strategy not in EXPORT_STRATEGIES:
            raise ValueError(f"an export decodes with greedy or beam search, not "
                             f"{options.strategy!r}")
        # The tf.Variables under the Keras variables: tracking the Keras wrappers as well
        # would write every value twice.
        self.model_variables = [_tf_variable(v) for v in model.weights]
        self._vocab_size = model.config.vocab_size
        self._decoders = Decoders(model, options, jit_compile)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
    def generate_ids(self, ids):
        """Decodes token ids with the export's default settings.

        Each row is decoded whole: ids carry no record boundaries, so this signature never
        splits a line into units (see `TextServingModule`'s splitter).

        Args:
            ids: int32 (batch, src_len) SentencePiece ids without BOS/EOS, right-padded with
                PAD_ID (0).

        Returns:
            dict: "ids" int32 (batch, longest reply) the reply's pieces without special ids,
            PAD_ID-padded; "lengths" int32 (batch,); "score" float32 (batch,). A row that is
            all padding, longer than MAX_SOURCE_PIECES, not right-padded or holding an id
            outside [0, vocab) gets length 0 and score -inf.
        """
        lengths = tf.reduce_sum(tf.cast(ids != constants.PAD_ID, tf.int32), axis=1)
        positions = tf.range(1, tf.shape(ids)[1] + 1)
        last = tf.reduce_max(tf.where(ids != constants.PAD_ID, positions, 0), axis=1)
        in_range = tf.reduce_all((ids >= 0) & (ids < self._vocab_size), axis=1)
        valid = (lengths > 0) & (lengths <= MAX_SOURCE_PIECES) & (last == lengths) & in_range
        tokens, scores = self._decoders.decode_rows(ids, lengths, valid, self._decoders.default)
        pieces = _reply_pieces(tokens)
        return {
            "ids": pieces.to_tensor(default_value=constants.PAD_ID),
            "lengths": tf.cast(pieces.row_lengths(), tf.int32),
            "score": scores,
        }

    def signatures(self) -> dict[str, Any]:
        """The signatures to save, by name."""
        return {"generate_ids": self.generate_ids}


class TextServingModule(IdsServingModule):
    """Adds `serving_default` and `generate`: text in, text out (tensorflow-text inside).

    Args:
        model, options, jit_compile: as in `IdsServingModule`.
        tokenizer_proto: the bytes of the bundle's `tokenizer.model`.
        tokenizer_file: a path to those bytes, saved as the asset `tokenizer.model` for
            clients of `generate_ids`.
        max_beam_width: `generate` accepts beam widths 1..max_beam_width; each is a graph
            of its own (export size, load time and one XLA compile per width used).
        source_case: the model's `ModelConfig.source_case` ("keep" or "upper").
        splitter: the domain's `GraphSplitter` (`assistant.runtime.domain`); when given,
            `serving_default` and `generate` answer each unit it splits a line into on its
            own and join the replies in its rank order, as the runtime does.
        context_input: `generate` takes a `context` input beside `text`.
        reads_context: the model was trained with contexts (`Assistant.reads_context`):
            `generate` reads the context before the text; else it ignores it.
        annotator: the domain's `GraphAnnotator` (`Domain.graph_annotator`); when given,
            the model reads each unit and context as it writes them, as the runtime
            reads `Domain.model_text` and `Domain.model_context`.
        draft_below: with an annotator that drafts (`annotate_and_draft(text)` -> (model
            text, draft string, found bool), `Domain.drafts`' twin), a reply scored below
            it is the draft, as `RuntimeOptions.draft_below`; None: off.
    """

    def __init__(self, model, options: decoding.DecodingOptions, tokenizer_proto: bytes,
                 tokenizer_file: str, max_beam_width: int, source_case: str = "keep",
                 jit_compile: bool = True, splitter=None, context_input: bool = False,
                 reads_context: bool = False, annotator=None,
                 draft_below: float | None = None, name: str = "assistant") -> None:
        import sentencepiece as spm
        import tensorflow_text

        if max_beam_width < 1:
            raise ValueError(f"max_beam_width must be >= 1, got {max_beam_width}")
        super().__init__(model, options, jit_compile=jit_compile, name=name)
        self._max_beam_width = max_beam_width
        self.tokenizer = tensorflow_text.SentencepieceTokenizer(model=tokenizer_proto)
        self.tokenizer_file = tf.saved_model.Asset(tokenizer_file)
        self._upper = source_case == "upper"
        processor = spm.SentencePieceProcessor()
        processor.LoadFromSerializedProto(tokenizer_proto)
        sentinel, strips = _detokenizer_tables(processor)
        self._sentinel_id, self._sentinel_bytes = sentinel
        self.strips_first_space = tf.constant(strips, tf.bool)  # (vocab,)
        self.splitter = splitter  # a tf.Module: its tables are saved with the export
        self.annotator = annotator  # likewise
        # a reply scored below it is the annotator's draft (`RuntimeOptions.draft_below`)
        self._draft_below = (draft_below if hasattr(annotator, "annotate_and_draft")
                             else None)
        self._reads_context = reads_context
        # One `generate` is traced and saved: with the context input or without it.
        inputs = [tf.TensorSpec([None], tf.string, name="text")]
        if context_input:
            inputs.append(tf.TensorSpec([None], tf.string, name="context"))
        self.generate = tf.function(
            self.generate_in_context if context_input else self.generate_text,
            input_signature=[*inputs, *_GENERATE_OPTIONS])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        """Answers texts with the export's default settings.

        Args:
            text: string (batch,) inputs.

        Returns:
            dict: "reply" string (batch,), "score" float32 (batch,); "" and -inf for an
            input that is empty or longer than MAX_SOURCE_PIECES pieces. With a splitter,
            a line of several units gets its units' replies joined by rank and
            the sum of their scores (-inf when one of them cannot be answered).
        """
        return self._reply(text, self._decoders.default)

    def generate_text(self, text, beam_width, length_penalty, max_length):
        """Answers texts by beam search with per-request settings: `generate` of an export
        without `context_input`.

        Args:
            text: string (batch,) inputs.
            beam_width: int32 scalar in [1, max_beam_width] (1 gives greedy search's text
                with beam search's length-normalised score).
            length_penalty: float32 scalar >= 0, the GNMT alpha.
            max_length: int32 scalar >= 0; 0 keeps the default limit of a + b x source
                pieces per reply (the end token included), a positive value caps it.

        Returns:
            dict: "reply" string (batch,), "score" float32 (batch,), as `serving_default`.

        Raises:
            tf.errors.InvalidArgumentError: an option is out of range (the whole request).
        """
        return self._generate(text, None, beam_width, length_penalty, max_length)

    def generate_in_context(self, text, context, beam_width, length_penalty, max_length):
        """`generate_text` with each text's context: `generate` of an export with
        `context_input`.

        Args:
            text: string (batch,) inputs.
            context: string (batch,) what the conversation was about before each text, in
                the form the bundle's domain keeps it ("" for none).
            beam_width, length_penalty, max_length: as in `generate`.

        Returns:
            dict: "reply" string (batch,), "score" float32 (batch,), as `generate`.
        """
        return self._generate(text, context, beam_width, length_penalty, max_length)

    def _generate(self, text, context, beam_width, length_penalty, max_length):
        widest = self._max_beam_width
        checks = [
            tf.debugging.assert_greater_equal(beam_width, 1, message="beam_width must be >= 1"),
            tf.debugging.assert_less_equal(beam_width, widest,
                                           message=f"beam_width must be <= {widest}"),
            tf.debugging.assert_greater_equal(length_penalty, 0.0,
                                              message="length_penalty must be >= 0"),
            tf.debugging.assert_less(length_penalty, float("inf"),
                                     message="length_penalty must be finite"),
            tf.debugging.assert_greater_equal(max_length, 0, message="max_length must be >= 0"),
        ]
        with tf.control_dependencies(checks):
            branch = tf.clip_by_value(beam_width, 1, widest) - 1
        decoders = self._decoders

        def decode_chunk(source):
            branches = [
                (lambda width=width: decoders.call(decoders.function("beam", width), source,
                                                   length_penalty, max_length))
                for width in range(1, widest + 1)
            ]
            return tf.switch_case(branch, branches)

        return self._reply(text, decode_chunk, context)

    def signatures(self) -> dict[str, Any]:
        return {"serving_default": self.serve, "generate": self.generate,
                **super().signatures()}

    def _reply(self, text, decode_chunk, context=None):
        """The signatures' {"reply", "score"}: `_answer`, unit by unit for the lines the
        splitter splits.

        Every unit (a whole line, or one unit of a split line) is decoded in one flat
        batch, in line order with a line's units in place, as `Assistant.reply_batch`
        does. A split line's replies are sorted by (rank, unit index), empty ones
        dropped, and joined with one space; its score is the sum of its units' scores. A
        line with a unit that cannot be answered gets "" and -inf, as a line would.
        """
        if self.splitter is None:
            reply, score, _ = self._answer(text, decode_chunk, context)
            return {"reply": reply, "score": score}
        units = self.splitter.split(text)  # (batch, None)
        rows = units.value_rowids()  # (units,) the line of each unit
        lines = units.nrows()
        if context is not None:  # a split line's units are decoded without it
            whole = tf.gather(units.row_lengths() == 1, rows)  # (units,)
            context = tf.where(whole, tf.gather(context, rows), "")
        reply, score, valid = self._answer(units.flat_values, decode_chunk, context)
        ranks = self.splitter.ranks(units.flat_values)  # (units,)
        order = tf.argsort(ranks, stable=True)
        order = tf.gather(order, tf.argsort(tf.gather(rows, order), stable=True))
        reply = tf.gather(reply, order)  # by (line, rank, index)
        kept = tf.strings.length(reply) > 0
        joined = tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(reply, kept), tf.boolean_mask(tf.gather(rows, order), kept),
            nrows=lines)  # (batch, None)
        failed = tf.math.unsorted_segment_sum(tf.cast(~valid, tf.int32), rows, lines) > 0
        return {
            "reply": tf.where(failed, "", tf.strings.reduce_join(joined, axis=1, separator=" ")),
            "score": tf.where(failed, tf.constant(NO_REPLY_SCORE, tf.float32),
                              tf.math.unsorted_segment_sum(score, rows, lines)),
        }

    def _answer(self, text, decode_chunk, context=None):
        """Tokenizes (each text after its context, for a model that reads context), decodes
        by chunks and detokenizes: reply string (batch,), score float32 (batch,) and valid
        bool (batch,) (False: "" and -inf); see `serve`."""
        typed = text
        if self._draft_below is not None:  # the neighbours' targets from the same search
            text, draft, drafted = self.annotator.annotate_and_draft(text)
        elif self.annotator is not None:
            text = self.annotator.annotate(text)
        text = self._normalized(text)
        source = text
        shorter = []  # what a source too long is read as instead, in turn (as `encode_turn`)
        if context is not None and self._reads_context:
            source = self._in_context(text, self._normalized(context))
            annotate = getattr(self.annotator, "annotate_context", None)
            read = context if annotate is None else annotate(context, typed)
            if read is not context:  # the domain annotates contexts (known when tracing)
                shorter.append(source)  # a context too long with its hints: as is
                source = self._in_context(text, self._normalized(read))
        if self.annotator is not None:  # then the text too, as typed
            plain = self._normalized(typed)
            if context is not None and self._reads_context:
                plain = self._in_context(plain, self._normalized(context))
            shorter.append(plain)
        pieces = self.tokenizer.tokenize(source)  # (batch, None)
        for fallback in shorter:
            pieces = self._too_long_read_as(pieces, fallback)
        lengths = tf.cast(pieces.row_lengths(), tf.int32)
        valid = (tf.strings.length(text) > 0) & (lengths > 0) & (lengths <= MAX_SOURCE_PIECES)
        ids = pieces.to_tensor(default_value=constants.PAD_ID)  # (batch, longest)
        tokens, scores = self._decoders.decode_rows(ids, lengths, valid, decode_chunk)
        reply = tf.where(valid, self._detokenize(tokens), "")
        if self._draft_below is not None:  # as `assistant.runtime.drafts.drafted`
            low = scores < tf.constant(self._draft_below, tf.float32)
            reply = tf.where(valid & drafted & low, draft, reply)
        return reply, scores, valid

    def _too_long_read_as(self, pieces, fallback):
        """ragged int32 (batch, None): `pieces` with each row longer than MAX_SOURCE_PIECES
        replaced by the pieces of that row of `fallback` (string (batch,)); only those rows
        are tokenized again."""
        rows = tf.cast(pieces.nrows(), tf.int32)
        long = tf.cast(tf.where(pieces.row_lengths() > MAX_SOURCE_PIECES)[:, 0],
                       tf.int32)  # (long,)
        read = self.tokenizer.tokenize(tf.gather(fallback, long))  # (long, None)
        index = tf.tensor_scatter_nd_update(tf.range(rows), long[:, None],
                                            rows + tf.range(tf.size(long)))  # (batch,)
        return tf.gather(tf.concat([pieces, read], axis=0), index)

    @staticmethod
    def _in_context(text, context):
        """string (batch,): each text after its context ("": the text alone)."""
        return tf.where(tf.strings.length(context) > 0,
                        tf.strings.join([context, text], separator=_CONTEXT_JOINER), text)

    def _normalized(self, text):
        """string (batch,): `tokenizer.normalize_source` in the graph."""
        text = tf.strings.regex_replace(text, strip_pattern(), "")  # Python's str.strip()
        if self._upper:
            text = tf.strings.upper(text)  # ASCII only, as `tokenizer.normalize_source`
        return text

    def _detokenize(self, tokens):
        """string (batch,) from int32 (batch, T) tokens, as `Tokenizer.decode` does.

        tensorflow-text's detokenizer drops every leading space where SentencePiece's Python
        decoder drops only the first piece's: a sentinel piece in front turns that off, and
        the first piece's leading "▁" is dropped here.
        """
        pieces = _reply_pieces(tokens)  # (batch, None)
        first = pieces[:, :1].to_tensor(default_value=constants.PAD_ID, shape=[None, 1])[:, 0]
        sentinel = tf.fill([pieces.nrows(), 1], tf.constant(self._sentinel_id, tf.int32))
        text = self.tokenizer.detokenize(tf.concat([sentinel, pieces], axis=1))
        text = tf.strings.substr(text, len(self._sentinel_bytes), -1)
        drop = tf.gather(self.strips_first_space, first)
        return tf.where(drop, tf.strings.regex_replace(text, "^ ", ""), text)


def _reply_pieces(tokens):
    """ragged int32 (batch, None): the pieces before the first EOS, without PAD and BOS."""
    is_end = tf.equal(tokens, constants.EOS_ID)
    before_end = tf.equal(tf.cumsum(tf.cast(is_end, tf.int32), axis=1, exclusive=True), 0)
    keep = (before_end & ~is_end & tf.not_equal(tokens, constants.PAD_ID)
            & tf.not_equal(tokens, constants.BOS_ID))
    return tf.ragged.boolean_mask(tokens, keep)


def _tf_variable(variable) -> tf.Variable:
    value = getattr(variable, "value", variable)
    if not isinstance(value, tf.Variable):
        raise TypeError(f"expected a TensorFlow-backed variable, got {type(value).__name__}")
    return value


def _detokenizer_tables(processor) -> tuple[tuple[int, bytes], list[bool]]:
    """The sentinel piece of `_detokenize` and, per id, whether decoding drops its first "▁".

    Raises:
        ValueError: the vocabulary has no plain ASCII piece without "▁" to use as sentinel.
    """
    def plain(i: int) -> bool:
        return not (processor.is_control(i) or processor.is_unknown(i)
                    or processor.is_byte(i) or processor.is_unused(i))

    size = processor.get_piece_size()
    strips = [plain(i) and processor.id_to_piece(i).startswith("▁") for i in range(size)]
    for i in range(size):
        piece = processor.id_to_piece(i)
        if plain(i) and piece.isascii() and piece.isprintable() and "▁" not in piece:
            return (i, piece.encode("ascii")), strips
    raise ValueError("the tokenizer has no plain ASCII piece to anchor detokenization")
