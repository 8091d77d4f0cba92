"""The serving graph of a model bundle: a `tf.Module` with explicit signatures.

`TextServingModule` answers strings with SentencePiece inside the graph (tensorflow-text ops);
`IdsServingModule` maps token ids to token ids with core TensorFlow ops only. Both bind the
Keras model's `encode` / `decode_step` to the strategies of `assistant.decoding` exactly as
`assistant.decoding_graphs` does for the Python runtime, and batch the way
`Assistant.reply_batch` does: rows are sorted by length, decoded 64 at a time, sources padded
to `SOURCE_BUCKETS` and batches to `BATCH_BUCKETS`, so an exported graph computes what the
runtime computes and XLA compiles once per bucket.

Rows that cannot be answered (empty after stripping, more than `MAX_SOURCE_PIECES` pieces,
ids out of range or not right-padded) get an empty reply and the score `NO_REPLY_SCORE`
(-inf) instead of failing the whole request; invalid per-request options (beam width,
length penalty, max length) fail the request with an `InvalidArgument` error.

Given a bundle's record order, the text signatures answer a line of several fault records
record by record, by the rules of `assistant.segment`, with tf.strings and ragged ops.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from assistant import constants, decoding, graph_text, segment
from assistant.decoding_graphs import bind_model
from assistant.inference import BATCH_BUCKETS, MAX_SOURCE_PIECES, SOURCE_BUCKETS, step_budget

NO_REPLY_SCORE = float("-inf")  # the score of a row that could not be answered
CHUNK_ROWS = BATCH_BUCKETS[-1]  # rows decoded together, as `Assistant.reply_batch` does
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
        self._decoders = _Decoders(model, options, jit_compile)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
    def generate_ids(self, ids):
        """Decodes token ids with the export's default settings.

        Each row is decoded whole: ids carry no record boundaries, so this signature never
        segments a line of several records (see `TextServingModule`'s record_order).

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
        record_order: when given, `serving_default` and `generate` answer a line of several
            records one record at a time and join the replies in this order (see
            `assistant.segment`); the ranks are saved in the export as a lookup table.
    """

    def __init__(self, model, options: decoding.DecodingOptions, tokenizer_proto: bytes,
                 tokenizer_file: str, max_beam_width: int, source_case: str = "keep",
                 jit_compile: bool = True, record_order: segment.RecordOrder | None = None,
                 name: str = "assistant") -> None:
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
        self.record_ranks = None if record_order is None else graph_text.rank_table(record_order)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        """Answers texts with the export's default settings.

        Args:
            text: string (batch,) inputs.

        Returns:
            dict: "reply" string (batch,), "score" float32 (batch,); "" and -inf for an
            input that is empty or longer than MAX_SOURCE_PIECES pieces. With a record
            order, a line of several records gets its records' replies joined by rank and
            the sum of their scores (-inf when one of them cannot be answered).
        """
        return self._reply(text, self._decoders.default)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="text"),
        tf.TensorSpec([], tf.int32, name="beam_width"),
        tf.TensorSpec([], tf.float32, name="length_penalty"),
        tf.TensorSpec([], tf.int32, name="max_length"),
    ])
    def generate(self, text, beam_width, length_penalty, max_length):
        """Answers texts by beam search with per-request settings.

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

        return self._reply(text, decode_chunk)

    def signatures(self) -> dict[str, Any]:
        return {"serving_default": self.serve, "generate": self.generate,
                **super().signatures()}

    def _reply(self, text, decode_chunk):
        """The signatures' {"reply", "score"}: `_answer`, record by record for the lines the
        record order segments.

        Every unit (a whole line, or one record of a segmented line) is decoded in one flat
        batch, in line order with a line's records in place, as `Assistant.reply_batch`
        does. A segmented line's replies are sorted by (rank, record index), empty ones
        dropped, and joined with one space; its score is the sum of its records' scores. A
        line with a record that cannot be answered gets "" and -inf, as a line would.
        """
        if self.record_ranks is None:
            reply, score, _ = self._answer(text, decode_chunk)
            return {"reply": reply, "score": score}
        units = graph_text.segment_units(text)  # (batch, None)
        rows = units.value_rowids()  # (units,) the line of each unit
        lines = units.nrows()
        reply, score, valid = self._answer(units.flat_values, decode_chunk)
        keys = tf.strings.upper(tf.strings.regex_replace(
            units.flat_values, graph_text.key_pattern(), segment.KEY_REPLACEMENT))
        ranks = tf.cast(self.record_ranks.lookup(keys), tf.int32)  # (units,)
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

    def _answer(self, text, decode_chunk):
        """Tokenizes, decodes by chunks and detokenizes: reply string (batch,), score
        float32 (batch,) and valid bool (batch,) (False: "" and -inf); see `serve`."""
        # Python's str.strip()
        text = tf.strings.regex_replace(text, graph_text.strip_pattern(), "")
        if self._upper:
            text = tf.strings.upper(text)  # ASCII only, as `tokenizer.normalize_source`
        pieces = self.tokenizer.tokenize(text)  # (batch, None)
        lengths = tf.cast(pieces.row_lengths(), tf.int32)
        valid = (tf.strings.length(text) > 0) & (lengths > 0) & (lengths <= MAX_SOURCE_PIECES)
        ids = pieces.to_tensor(default_value=constants.PAD_ID)  # (batch, longest)
        tokens, scores = self._decoders.decode_rows(ids, lengths, valid, decode_chunk)
        return tf.where(valid, self._detokenize(tokens), ""), scores, valid

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


class _Decoders:
    """The XLA-compiled decoding functions of one model, one per (strategy, beam width).

    A plain object, so the module does not track the Keras model (its variables are tracked
    once, as `model_variables`).
    """

    def __init__(self, model, options: decoding.DecodingOptions, jit_compile: bool) -> None:
        self.model = model
        self.options = options
        self.jit_compile = jit_compile
        self.max_steps = step_budget(options)  # the runtime's: one size for every bucket
        self._functions: dict[tuple[str, int], Any] = {}

    def default(self, source):
        """Decodes one chunk with the export's default options (see `call`)."""
        options = self.options
        width = options.beam_width if options.strategy == "beam" else 1
        return self.call(self.function(options.strategy, width), source,
                         tf.constant(options.length_penalty, tf.float32),
                         tf.constant(0, tf.int32))

    def call(self, function, source, length_penalty, max_length):
        """Runs a decoding function on a (rows, src_len) chunk; returns (tokens, scores)."""
        options = self.options
        return function(source, length_penalty, tf.constant(options.min_length, tf.int32),
                        tf.constant(options.max_length_a, tf.float32),
                        tf.constant(options.max_length_b, tf.float32), max_length)

    def function(self, strategy: str, beam_width: int):
        """The (cached) `tf.function` decoding with this strategy and beam width."""
        key = (strategy, beam_width)
        if key not in self._functions:
            self._functions[key] = self._build(strategy, beam_width)
        return self._functions[key]

    def decode_rows(self, ids, lengths, valid, decode_chunk):
        """Decodes the valid rows of a batch the way `Assistant.reply_batch` does.

        Valid rows are sorted by length (stable) and decoded CHUNK_ROWS at a time; each chunk
        is padded to the smallest source bucket holding its longest row and to a batch
        bucket, exactly as the runtime pads it, so the two compute the same numbers.

        Args:
            ids: int32 (batch, width) right-padded source ids.
            lengths: int32 (batch,) pieces per row.
            valid: bool (batch,) rows to decode.
            decode_chunk: `(source (rows, src_len)) -> (tokens (rows, T), scores (rows,))`.

        Returns:
            tokens int32 (batch, max_steps), PAD_ID on invalid rows, and scores float32
            (batch,), NO_REPLY_SCORE on invalid rows.
        """
        batch = tf.shape(ids)[0]
        order = tf.boolean_mask(tf.range(batch), valid)
        order = tf.gather(order, tf.argsort(tf.gather(lengths, order), stable=True))
        count = tf.size(order)
        source_buckets = tf.constant(SOURCE_BUCKETS, tf.int32)
        batch_buckets = tf.constant(BATCH_BUCKETS, tf.int32)
        max_steps = self.max_steps

        def body(start, tokens_array, scores_array):
            rows = order[start : start + CHUNK_ROWS]
            chunk = tf.gather(ids, rows)  # (n, width)
            longest = tf.reduce_max(tf.gather(lengths, rows))
            src_len = source_buckets[tf.reduce_sum(tf.cast(source_buckets < longest, tf.int32))]
            n = tf.size(rows)
            padded_rows = batch_buckets[tf.reduce_sum(tf.cast(batch_buckets < n, tf.int32))]
            chunk = chunk[:, :src_len]
            chunk = tf.pad(chunk, [[0, padded_rows - n], [0, src_len - tf.shape(chunk)[1]]])
            tokens, scores = decode_chunk(chunk)
            index = start // CHUNK_ROWS
            return (start + CHUNK_ROWS, tokens_array.write(index, tokens[:n]),
                    scores_array.write(index, scores[:n]))

        tokens_array = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                                      element_shape=tf.TensorShape([None, max_steps]))
        scores_array = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False,
                                      element_shape=tf.TensorShape([None]))
        _, tokens_array, scores_array = tf.while_loop(
            lambda start, *_: start < count, body, (tf.constant(0), tokens_array, scores_array))
        sorted_tokens = tf.reshape(tokens_array.concat(), [-1, max_steps])  # (count, T)
        sorted_scores = tf.reshape(scores_array.concat(), [-1])
        where = order[:, None]
        tokens = tf.scatter_nd(where, sorted_tokens, tf.stack([batch, max_steps]))
        scores = tf.tensor_scatter_nd_update(
            tf.fill([batch], tf.constant(NO_REPLY_SCORE, tf.float32)), where, sorted_scores)
        return tokens, scores

    def _build(self, strategy: str, beam_width: int):
        model, max_steps = self.model, self.max_steps

        def run(source, length_penalty, min_length, max_length_a, max_length_b, max_length):
            # The runtime's binding (`DecodingGraphs`), so the replies are the runtime's.
            step, state, shared, start_ids, max_lengths = bind_model(
                model, source, max_length_a, max_length_b, max_steps, attention=False)
            max_lengths = tf.where(max_length > 0, tf.minimum(max_lengths, max_length),
                                   max_lengths)
            if strategy == "greedy":
                result = decoding.greedy_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    max_lengths=max_lengths, min_length=min_length)
            else:
                result = decoding.beam_search(
                    step, state, shared, start_ids, constants.EOS_ID, max_steps,
                    beam_width=beam_width, length_penalty=length_penalty, n_best=1,
                    max_lengths=max_lengths, min_length=min_length)
            return result.tokens[:, 0], result.scores[:, 0]  # (rows, T), (rows,)

        scalar = tf.TensorSpec((), tf.float32)
        integer = tf.TensorSpec((), tf.int32)
        return tf.function(
            run, jit_compile=self.jit_compile,
            input_signature=[tf.TensorSpec((None, None), tf.int32), scalar, integer, scalar,
                             scalar, integer])


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
