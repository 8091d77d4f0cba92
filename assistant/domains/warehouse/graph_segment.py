"""Record segmentation and catalog hints inside the exported graph, in TensorFlow ops.

`RecordSplitter` is the warehouse's `GraphSplitter` (`assistant.runtime.domain`): the export
(`assistant.serving`) uses it to answer a line of several records one record at a time,
exactly as the runtime does with `segment.split_line` and `RecordOrder.order`.
`HintAnnotator` is its `GraphAnnotator`: each unit with its catalog hint, and each
follow-up's context with its records' hints, exactly as `hints.CatalogHints.annotate` and
`annotate_context` write them.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from assistant.domains.warehouse import faultcodes, questions, segment
from assistant.domains.warehouse import hints as hints_lib
from assistant.serving.re2 import python_re, spaces, strip_pattern


def rank_table(record_order: segment.RecordOrder) -> tf.lookup.StaticHashTable:
    """string "PREFIX:CODE" -> int64 rank, `record_order.default_rank` for other keys."""
    keys = list(record_order.ranks)
    values = [int(record_order.ranks[key]) for key in keys]
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.constant(values, tf.int64))
    return tf.lookup.StaticHashTable(initializer,
                                     default_value=tf.constant(record_order.default_rank, tf.int64))


def segment_units(text):
    """ragged string (batch, None): the records of a line `segment.split_line` segments,
    unstripped, else the line itself (one unit)."""
    parts = tf.strings.split(mark_boundaries(text), sep=";")  # (batch, None), >= 1 part a line
    counts = parts.row_lengths()
    last = tf.gather(parts.flat_values, parts.row_limits() - 1)
    blank = (counts > 1) & tf.strings.regex_full_match(last, f"[{spaces()}]*")
    counts -= tf.cast(blank, counts.dtype)  # one trailing blank part dropped
    parts = tf.ragged.boolean_mask(parts, tf.ragged.range(parts.row_lengths()) < counts[:, None])
    records = tf.strings.regex_full_match(parts.flat_values, python_re(segment.RECORD_PATTERN))
    segmented = ((counts >= 2) & (counts <= segment.MAX_SEGMENTS)
                 & tf.reduce_all(parts.with_flat_values(records), axis=1))  # (batch,)
    in_segmented = parts.with_flat_values(tf.gather(segmented, parts.value_rowids()))
    return tf.concat([tf.ragged.boolean_mask(parts, in_segmented),
                      tf.ragged.boolean_mask(text[:, None], ~segmented[:, None])], axis=1)


def mark_boundaries(text):
    """string (batch,): `segment.mark_boundaries` in the graph (the same two passes)."""
    pattern = python_re(segment.BOUNDARY_PATTERN)
    for _ in range(2):
        text = tf.strings.regex_replace(text, pattern, segment.BOUNDARY_REPLACEMENT)
    return text


@functools.cache
def key_pattern() -> str:
    """`segment.KEY_PATTERN` for RE2, with Python's DOTALL (as `segment.record_key`)."""
    return "(?s)" + python_re(segment.KEY_PATTERN)


@functools.cache
def parts_pattern() -> str:
    """`hints.RECORD_PARTS` for RE2, with Python's DOTALL."""
    return "(?s)" + python_re(hints_lib.RECORD_PARTS)


class RecordSplitter(tf.Module):
    """`segment`'s split and order in the graph, with the record order as a lookup table.

    Args:
        record_order: the bundle's `RecordOrder`; saved in the export as a hash table.
    """

    def __init__(self, record_order: segment.RecordOrder, name: str = "record_splitter") -> None:
        super().__init__(name=name)
        self.record_ranks = rank_table(record_order)

    def split(self, text):
        """ragged string (batch, None) of string (batch,) lines: see `segment_units`."""
        return segment_units(text)

    def ranks(self, units):
        """int32 (units,): the rank of each unit's "PREFIX:CODE" in the record order."""
        keys = tf.strings.upper(tf.strings.regex_replace(units, key_pattern(),
                                                         segment.KEY_REPLACEMENT))
        return tf.cast(self.record_ranks.lookup(keys), tf.int32)


class HintAnnotator(tf.Module):
    """`hints.CatalogHints.annotate` in the graph, the catalog facts as lookup tables.

    Args:
        hints: the bundle's `CatalogHints`; saved in the export as hash tables.
    """

    def __init__(self, hints: hints_lib.CatalogHints, name: str = "hint_annotator") -> None:
        super().__init__(name=name)
        self.prefixes = sorted(hints.names)
        self.record_hints = _string_table({
            f"{prefix}:{code}": hints.record_hint(f"{prefix}:{code}")
            for prefix in self.prefixes for code in hints.equipment})
        self.raisers = _string_table({code: hints.raisers(code) for code in hints.equipment})
        self.named = _string_table({code: hints.named(code) for code in hints.equipment})
        self.code_lists = _string_table({prefix: hints.code_list(prefix)
                                         for prefix in self.prefixes})
        self.first_names = _string_table({prefix: hints.names[prefix][0]
                                          for prefix in self.prefixes})
        self.contexts = hints.contexts
        self._unit_patterns = [python_re(hints_lib.unit_pattern(p, hints.names[p]))
                               for p in self.prefixes]
        self._type_patterns = [python_re(hints_lib.type_pattern(hints.names[p]))
                               for p in self.prefixes]
        self._meaning_codes = [code for code, _ in hints.meaning_patterns]
        self._meaning_patterns = [python_re(pattern) for _, pattern in hints.meaning_patterns]
        self.question_hints = hints.question_hints
        self._question_patterns = [python_re(pattern) for _, pattern in questions.TYPE_PATTERNS]
        self._type_words = [hints_lib.TYPE_WORDS[kind] for kind, _ in questions.TYPE_PATTERNS]
        self.keys = sorted({key for keys in hints.params.values() for key in keys})
        slots = max((len(keys) for keys in hints.params.values()), default=0)
        self.param_slots = [_int_table({code: self.keys.index(keys[slot])
                                        for code, keys in hints.params.items()
                                        if len(keys) > slot}) for slot in range(slots)]

    def annotate(self, text):
        """string (units,): each unit stripped and followed by its hint after `hints.MARK`
        when it has one; the others as they are."""
        record = tf.strings.regex_full_match(text, python_re(segment.RECORD_PATTERN))
        hint = tf.where(record, self._status(text), self._question_hint(text))
        return self._marked(text, hint)

    def annotate_context(self, context, text):
        """string (batch,): each context with its records' hints after `hints.MARK`
        (`CatalogHints.annotate_context` of the context and the `text` said after it); the
        others, and all without context hints, as they are."""
        if not self.contexts:
            return context
        own_hint = tf.not_equal(self.annotate(text), text)  # the turn is about what it names
        stripped = tf.strings.regex_replace(context, strip_pattern(), "")
        marked = tf.strings.regex_full_match(stripped, f"(?s).*?{hints_lib.FOCUS}.*")
        line = tf.strings.regex_replace(stripped, f"(?s)^(.*?){hints_lib.FOCUS}.*$", r"\1")
        focus = tf.where(marked, tf.strings.regex_replace(
            stripped, f"(?s)^.*?{hints_lib.FOCUS}(.*)$", r"\1"), "")
        records = tf.strings.split(line, sep=faultcodes.RECORD_SEPARATOR)
        is_record = tf.strings.regex_full_match(records.flat_values,
                                                python_re(segment.RECORD_PATTERN))
        all_records = tf.reduce_all(records.with_flat_values(is_record), axis=1)
        focus_form = tf.strings.regex_full_match(focus, hints_lib.FOCUS_PATTERN)
        line_focus = (~all_records & ~marked
                      & tf.strings.regex_full_match(line, hints_lib.FOCUS_PATTERN))
        with_line = all_records & (~marked | focus_form)
        focus = tf.where(line_focus, line, focus)
        records = tf.ragged.boolean_mask(records, records.with_flat_values(
            tf.gather(with_line, records.value_rowids())))
        items, outside = self._context_items(records, focus)
        items = tf.where(outside, tf.strings.join(
            [items, self._focus_item(focus)],
            separator=hints_lib.ITEM_SEPARATOR), items)
        items = tf.strings.regex_replace(items, f"^{hints_lib.ITEM_SEPARATOR}", "")
        keep = (with_line | line_focus) & (tf.strings.length(items) > 0) & ~own_hint
        annotated = tf.strings.join([stripped, items], separator=f" {hints_lib.MARK} ")
        return tf.where(keep, annotated, context)

    def _context_items(self, records, focus):
        """(string (batch,) the records' items joined, bool (batch,) the focus is one more
        item) of each context's records (ragged) and focus ("" for none)."""
        rows = records.value_rowids()
        prefix, unit, code = _record_parts(records.flat_values)
        picked = _picks(tf.gather(focus, rows), prefix, unit, code)
        any_picked = tf.reduce_any(records.with_flat_values(picked), axis=1)
        outside = ~any_picked & (tf.strings.regex_full_match(focus, hints_lib.CODE_FOCUS)
                                 | tf.strings.regex_full_match(focus, "(?s).*:.*"))
        subject = tf.where(tf.gather(any_picked, rows), picked, ~tf.gather(outside, rows))
        count = (tf.reduce_sum(records.with_flat_values(tf.cast(subject, tf.int32)), axis=1)
                 + tf.cast(outside, tf.int32))
        alone = tf.gather(count == 1, rows)
        index = tf.ragged.range(records.row_lengths()).flat_values
        length = tf.gather(records.row_lengths(), rows)
        ordinal = tf.gather(tf.constant([*hints_lib.ORDINAL_WORDS, ""]),
                            tf.minimum(index, len(hints_lib.ORDINAL_WORDS)))
        position = _words(ordinal, tf.where(index == length - 1, hints_lib.LAST_WORD, ""))
        position = tf.where(length >= 2, position, "")
        item = self._item(prefix, unit, code, position, subject, alone)
        return tf.strings.reduce_join(records.with_flat_values(item), axis=1,
                                      separator=hints_lib.ITEM_SEPARATOR), outside

    def _item(self, prefix, unit, code, position, subject, alone):
        """string (records,): `CatalogHints._item` of each record."""
        name = self.first_names.lookup(prefix)
        name = tf.where(tf.strings.length(name) > 0, name, prefix)
        named = self.named.lookup(code)
        said = tf.where(subject & alone & (tf.strings.length(named) > 0), named, code)
        key = tf.strings.join([prefix, code], separator=":")
        return _words(position, name, unit, tf.where(subject, hints_lib.SUBJECT, ""), said,
                      self._record_hint(key, code))

    def _focus_item(self, focus):
        """string (batch,): the item of each focus outside its line (`_focus_item`)."""
        prefix, unit, code = _record_parts(focus)
        true = tf.fill(tf.shape(focus), True)
        record = self._item(prefix, unit, code, tf.fill(tf.shape(focus), ""), true, true)
        asked = _words(tf.fill(tf.shape(focus), hints_lib.SUBJECT),
                       self._question_hint(focus, typed=False))
        return tf.where(tf.strings.regex_full_match(focus, "(?s).*:.*"), record, asked)

    def _status(self, text):
        """string (units,): `CatalogHints.status` of each unit (a record)."""
        key = tf.strings.upper(tf.strings.regex_replace(text, key_pattern(),
                                                        segment.KEY_REPLACEMENT))
        code = tf.strings.regex_replace(key, ".*:", "")
        status = self._record_hint(key, code)
        values = self._values(text, code)
        return tf.where(tf.equal(status, hints_lib.VALID) & (tf.strings.length(values) > 0),
                        tf.strings.join([status, values], separator=" "), status)

    def _marked(self, text, hint):
        stripped = tf.strings.regex_replace(text, strip_pattern(), "")
        annotated = tf.strings.join([stripped, hint], separator=f" {hints_lib.MARK} ")
        return tf.where(tf.strings.length(hint) > 0, annotated, text)

    def _record_hint(self, key, code):
        """string (units,): `CatalogHints.record_hint` of each "PREFIX:CODE" (and its code)."""
        prefix = tf.strings.regex_replace(key, ":.*", "")
        known = tf.reduce_any(tf.equal(prefix[:, None], tf.constant(self.prefixes)), axis=1)
        hint = self.record_hints.lookup(key)
        unknown = tf.where(known, tf.strings.join([hints_lib.UNKNOWN_CODE, code], " "),
                           tf.strings.join([hints_lib.UNKNOWN_EQUIPMENT, prefix, code], " "))
        return tf.where(tf.strings.length(hint) > 0, hint, unknown)

    def _values(self, text, code):
        """string (units,): the "KEY=value" of each parameter of the unit's code that it
        holds, space-separated, for a valid record's hint ("" for none)."""
        if not self.keys:
            return tf.fill(tf.shape(text), "")
        pattern = [python_re(hints_lib.value_pattern(key)) for key in self.keys]
        held = tf.stack([tf.strings.regex_full_match(text, p) for p in pattern], axis=1)
        value = tf.stack([tf.strings.regex_replace(text, f"^{p}$", r"\1") for p in pattern],
                         axis=1)  # (units, keys)
        keys = tf.constant(self.keys)
        out = tf.fill(tf.shape(text), "")
        for table in self.param_slots:
            index = table.lookup(code)  # (units,) -1: no parameter in this slot
            safe = tf.maximum(index, 0)[:, None]
            found = (index >= 0) & tf.gather_nd(held, safe, batch_dims=1)
            pair = tf.strings.join([tf.gather(keys, tf.maximum(index, 0)), "=",
                                    tf.gather_nd(value, safe, batch_dims=1)])
            joined = tf.where(tf.strings.length(out) > 0,
                              tf.strings.join([out, pair], separator=" "), pair)
            out = tf.where(found, joined, out)
        return out

    def _question_hint(self, text, typed=True):
        """string (units,): `CatalogHints.question_hint` of each text ("" for None)."""
        prefixes = tf.constant(self.prefixes)
        unit_named = _matched(text, self._unit_patterns)  # (units, prefixes)
        type_named = _matched(text, self._type_patterns)
        has_unit = tf.reduce_any(unit_named > 0, axis=1)
        unit = tf.gather(prefixes, tf.argmax(unit_named, axis=1))
        kind = tf.where(has_unit, unit, tf.gather(prefixes, tf.argmax(type_named, axis=1)))
        has_kind = has_unit | tf.reduce_any(type_named > 0, axis=1)
        one = tf.strings.regex_full_match(text, python_re(hints_lib.ONE_CODE))
        meant, by_meaning = self._named_by_meaning(text)
        code = tf.where(one, tf.strings.upper(tf.strings.regex_replace(
            text, "^" + python_re(hints_lib.ONE_CODE) + "$", r"\1")), meant)
        raisers = self.raisers.lookup(code)
        on_unit = tf.strings.join([self.named.lookup(code), " ON ", unit, " ",
                                   self.record_hints.lookup(tf.strings.join([unit, ":", code]))])
        coded = tf.where(tf.strings.length(raisers) == 0,
                         tf.strings.join([code, " ", hints_lib.UNKNOWN]),
                         tf.where(has_unit, on_unit, raisers))
        if typed and self.question_hints:
            coded = self._typed(text, coded)
        asks = tf.strings.regex_full_match(text, python_re(hints_lib.ASKS_CODES))
        listed = tf.where(has_kind & asks, self.code_lists.lookup(kind), "")
        two = tf.strings.regex_full_match(text, python_re(hints_lib.TWO_CODES))
        return tf.where(two, "", tf.where(one | by_meaning, coded, listed))

    def _typed(self, text, hint):
        """string (units,): each hint after the word of what its text asks
        (`questions.question_type`: the first rule that applies), or as it is."""
        asked = _matched(text, self._question_patterns)
        word = tf.gather(tf.constant([*self._type_words, ""]), tf.where(
            tf.reduce_any(asked > 0, axis=1), tf.argmax(asked, axis=1, output_type=tf.int32),
            len(self._type_words)))
        return tf.where(tf.equal(word, ""), hint, tf.strings.join([word, " ", hint]))

    def _named_by_meaning(self, text):
        """(string, bool) (units,): `CatalogHints.named_by_meaning` of each text ("", False
        for None); texts that name a code are the caller's to tell apart."""
        if not self._meaning_patterns:
            return tf.fill(tf.shape(text), ""), tf.zeros(tf.shape(text), tf.bool)
        named = _matched(text, self._meaning_patterns)
        code = tf.gather(tf.constant(self._meaning_codes), tf.argmax(named, axis=1))
        return code, tf.equal(tf.reduce_sum(named, axis=1), 1)


def _matched(text, patterns):
    """int32 (units, patterns): 1 where the unit fully matches the pattern (RE2), else 0;
    `tf.argmax` of a row is its first match."""
    return tf.cast(tf.stack([tf.strings.regex_full_match(text, pattern)
                             for pattern in patterns], axis=1), tf.int32)


def _record_parts(text):
    """(prefix, unit number, code) of each record (`hints.RECORD_PARTS`), letters upper."""
    return tuple(tf.strings.upper(tf.strings.regex_replace(text, parts_pattern(), group))
                 for group in (r"\1", r"\2", r"\3"))


def _picks(focus, prefix, unit, code):
    """bool (records,): `hints._picks` of each record's focus ("": False)."""
    label = tf.strings.regex_replace(focus, ":.*", "")
    focus_prefix = tf.strings.regex_replace(label, "(?s)^(.{0,2}).*$", r"\1")
    focus_unit = tf.strings.regex_replace(label, "(?s)^.{0,2}0*([0-9])", r"\1")
    focus_code = tf.strings.regex_replace(focus, "^[^:]*:?", "")
    by_code = tf.strings.regex_full_match(focus, hints_lib.CODE_FOCUS)
    by_unit = (tf.equal(focus_prefix, prefix) & tf.equal(focus_unit, unit)
               & (tf.equal(focus_code, "") | tf.equal(focus_code, code)))
    return (tf.strings.length(focus) > 0) & tf.where(by_code, tf.equal(focus, code), by_unit)


def _words(*words):
    """string: the non-empty words of each row joined by spaces (" ".join of Python's)."""
    out = words[0]
    for word in words[1:]:
        out = tf.where(tf.strings.length(word) == 0, out, tf.where(
            tf.strings.length(out) == 0, word, tf.strings.join([out, word], separator=" ")))
    return out


def _int_table(entries: dict[str, int]) -> tf.lookup.StaticHashTable:
    """string -> int64, -1 for other keys."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(entries), tf.string), tf.constant(list(entries.values()), tf.int64))
    return tf.lookup.StaticHashTable(initializer, default_value=tf.constant(-1, tf.int64))


def _string_table(entries: dict[str, str]) -> tf.lookup.StaticHashTable:
    """string -> string, "" for other keys."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(entries), tf.string), tf.constant(list(entries.values()), tf.string))
    return tf.lookup.StaticHashTable(initializer, default_value="")
