"""`grounding.subject_flags`: an input without records that names a code, a unit or an
equipment type by its name is not answered with a reply that names no code and no
equipment (small talk to "What can the barcode scanner throw?")."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("source", "reply", "flags"), [
    # a question naming an equipment type by its name, a unit or a code is about it
    ("What can the barcode scanner throw?", "I like to think of myself as self-employed.",
     ["the input asks about the barcode scanner; the reply names none of it"]),
    ("what's wrong with CV07?", "I'm fine.",
     ["the input asks about the conveyor; the reply names none of it"]),
    ("is E217 bad on the conveyor?", "Hello",
     ["the input asks about E217 or the conveyor; the reply names none of it"]),
    # a reply that names a code or equipment passes this rule (others judge what it says)
    ("what does E218 mean?", "E217 means motor over-temperature.", []),
    ("What can the barcode scanner throw?", "Codes for the barcode scanner: E108, E401, W404, "
     "E407, W410, I413, W824, W905, I908 and E911.", []),
    ("what's wrong with CV07?", "Conveyor 7 is not in the fault log.", []),
    # an alias alone may be small talk; a unit the catalog does not name is not judged
    ("my printer is not printing", "Ensure it's powered on and has paper, then restart it.",
     []),
    ("what about ZZ07?", "Hello", []),
])
def test_an_input_without_records_is_answered_about_what_it_names(catalog_checker, source,
                                                                   reply, flags):
    told = catalog_checker(source, reply)
    assert [flag for flag in told if "asks about" in flag] == flags
