"""`respell`: a fault line in any spelling, or a question about what to do with one fault,
written as the model was trained to read it (the runtime's last try for a flagged reply)."""

from __future__ import annotations

import pytest

from assistant.domains.warehouse import faithfulness
from assistant.domains.warehouse.detector import Detector
from assistant.domains.warehouse.respell import respell


@pytest.fixture(scope="module")
def spell(raw_catalog):
    reader = Detector(dict(raw_catalog["equipment"]), raw_catalog["aliases"])
    table = faithfulness.code_table_from_catalog(raw_catalog)
    return lambda text: respell(text, reader, table)


@pytest.mark.parametrize(("typed", "canonical"), [
    ("[03:04:05] charger 91:W718 S=19", "CH91:W718 S=19"),
    ("2024-07-10 03:58:36 SH81:W102 B=21\n28.08.2024 20:43 SC29:W205 T=70",
     "SH81:W102 B=21; SC29:W205 T=70"),
    ("CH63:E106 T=75 degrees", "CH63:E106 T=75"),
    ("stacker crane 70: C502, charger 40: C103 T=72", "SC70:C502; CH40:C103 T=72"),
    ("SH 47:W102 - BATTERY LOW B=17 | AG 53:C103 - BATTERY OVER-TEMPERATURE",
     "SH47:W102 B=17; AG53:C103"),  # the panel's alarm text after each code
    ("sc82 says collision detected, what do I do", "how do I fix C505 on SC82?"),
    ("item oversize on sn95 - help", "how do I fix E311 on SN95?"),
    ("how do I fix read rate dropping?", "how do I fix W404?"),
    ("I914 at LF 62, how do I clear it", "how do I fix I914 on LF62?"),
])
def test_what_operators_type_is_respelled(spell, typed, canonical):
    assert spell(typed) == canonical


@pytest.mark.parametrize("typed", [
    "CV07:E217 T=85",  # already canonical
    "CV07:E217 T=85; SN02:W301 N=12",
    "CV07:E217 T=85 is this bad?",  # a question about a record, not a fault line
    "what does collision detected mean",  # not about what to do
    "what do I do about E217 and W301?",  # two faults
    "hello",
    "",
])
def test_anything_else_is_left_alone(spell, typed):
    assert spell(typed) is None
