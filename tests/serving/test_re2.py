"""`re2.ascii_case`: an `i` flag spelled out for ASCII letters, so Python's `re` and RE2
match the same texts (Python folds "ı", "ſ" and the Kelvin sign into ASCII letters)."""

import re

import pytest

from assistant.serving.re2 import ascii_case, python_re


def test_the_i_flag_is_spelled_out_for_letters_outside_classes_and_escapes():
    assert ascii_case(r"(?is)fix\s+[^A-Za-z]it") == r"(?s)[fF][iI][xX]\s+[^A-Za-z][iI][tT]"
    assert ascii_case(r"(?i)ab") == "[aA][bB]"
    assert ascii_case(r"(?s)fix") == r"(?s)fix"  # no i flag: as it is
    assert ascii_case("fix") == "fix"


@pytest.mark.parametrize(("text", "matches"), [
    ("FIX it", True), ("Fix it", True), ("f\u0131x it", False), ("fix \u0130t", False),
    ("\u017fix it", False), ("fix i\u212a", False),
])
def test_python_and_re2_match_the_same_texts(text, matches):
    import tensorflow as tf

    pattern = ascii_case(r"(?is)(?:.*[^A-Za-z])?fix\s+it(?:[^A-Za-z].*)?")
    assert (re.fullmatch(pattern, text) is not None) == matches
    assert bool(tf.strings.regex_full_match(text, python_re(pattern)).numpy()) == matches
