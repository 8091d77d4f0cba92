"""Tests for the realistic evaluation set and the held-out family definitions."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from assistant.domains.warehouse import faultcodes, heldout, messages, realistic
from assistant.domains.warehouse.faultcodes import FaultRecord
from assistant.domains.warehouse.phrasings import CANONICAL_QUESTIONS

QUESTION_FAMILIES = ("ask_casual", "ask_by_meaning", "ask_code_on_unit")
GRAMMAR_FAMILIES = ("unit_space", "unit_lower")  # lines the canonical grammar reads as typed


@pytest.fixture(scope="module")
def lines(catalog):
    return realistic.build_realistic(catalog, seed=5, per_family=6)


def test_the_set_is_deterministic_and_the_seed_matters(catalog, lines):
    assert realistic.build_realistic(catalog, seed=5, per_family=6) == lines
    assert realistic.build_realistic(catalog, seed=6, per_family=6) != lines


def test_every_family_has_its_lines_and_held_out_ones_are_marked(lines):
    families = [line["family"] for line in lines]
    assert list(dict.fromkeys(families)) == list(heldout.FAMILIES)
    assert all(families.count(family) == 6 for family in heldout.FAMILIES)
    for line in lines:
        assert set(line) == {"source", "canonical", "family", "held_out", "target"}
        assert line["held_out"] == (line["family"] in heldout.HELD_OUT)
        assert line["source"] != line["canonical"]
    assert len({line["source"] for line in lines}) == len(lines)


def test_the_default_set_has_at_least_400_lines(catalog):
    default = realistic.build_realistic(catalog)
    assert len(default) >= 400
    assert {line["family"] for line in default} == set(heldout.FAMILIES)


def test_the_held_out_detector_finds_exactly_the_held_out_families(lines):
    for line in lines:
        expected = [line["family"]] if line["held_out"] else []
        assert heldout.held_out_families(line["source"]) == expected, line


def test_held_out_detector_leaves_units_and_the_catalog_wording_alone():
    assert heldout.held_out_families("SN02:W233 V=9.8 mm/s; CV07:W220 belt slip S=4") == []
    assert heldout.held_out_families("CV07:E217 / SN02:W301") == ["sep_slash"]
    assert heldout.held_out_families("belt 7: E217, cv_3:E217") == ["unit_underscore",
                                                                    "alias_belt"]
    assert heldout.held_out_families("E217 on CV07, what do I do?") == ["ask_code_on_unit"]
    assert heldout.held_out_families("E217 at CV07, what do I do?") == []


def test_variants_read_as_the_same_records_as_their_canonical_line(catalog, lines):
    for line in lines:
        if line["family"] in QUESTION_FAMILIES:
            continue
        canonical = _canonical_records(line["canonical"])
        assert _read(line["source"], catalog) == canonical, line
        assert line["target"] == messages.render_reply(canonical, catalog)
        if line["family"] in GRAMMAR_FAMILIES:
            assert faultcodes.parse_line(line["source"]) == canonical


def test_questions_name_the_code_or_meaning_of_their_canonical_question(catalog, lines):
    shapes = [re.escape(t).replace(re.escape("{code}"), "[A-Z][0-9]{3}")
              .replace(re.escape("{eq}"), "[A-Z]{2}[0-9]{2}").replace(re.escape("{name}"), ".+")
              for t in CANONICAL_QUESTIONS.values()]
    for line in (line for line in lines if line["family"] in QUESTION_FAMILIES):
        assert any(re.fullmatch(shape, line["canonical"]) for shape in shapes), line
        codes = re.findall(r"[A-Z][0-9]{3}", line["canonical"])
        if line["family"] == "ask_by_meaning":
            assert catalog.entries[codes[0]].meaning in line["source"]
        elif codes:
            assert codes[0].lower() in line["source"].lower(), line


def test_build_realistic_command_writes_jsonl(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    realistic.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "realistic.jsonl"
    args = parser.parse_args(["build-realistic", "--out", str(out), "--per-family", "2"])

    assert args.needs_tensorflow is False
    assert args.handler(args) == 0
    written = [json.loads(row) for row in out.read_text("utf-8").splitlines()]
    assert written == realistic.build_realistic(seed=0, per_family=2)
    assert "(held out of training)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# A liberal reader of the variants (the test's own): aliases and timestamps out, then
# every "<letters><unit> <code>" head with the KEY=value pairs up to the next head.

_TIME = re.compile(r"\[?(?:[0-9]{4}-[0-9]{2}-[0-9]{2} |[0-9]{2}\.[0-9]{2}\.[0-9]{4} )?"
                   r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?\]?")
_HEAD = re.compile(r"\b([A-Za-z]{2})[ _-]?([0-9]{1,2})\s*(?::|-|\s)\s*([A-Za-z][0-9]{3})\b")
_PARAM = re.compile(r"\b([A-Za-z]{1,8})\s*=\s*([0-9]+(?:\.[0-9]+)?)")


def _read(source: str, catalog) -> tuple[FaultRecord, ...]:
    text = _TIME.sub(" ", source)
    names = sorted(((a, p) for p, aliases in catalog.aliases.items() for a in aliases),
                   key=lambda pair: -len(pair[0]))
    for alias, prefix in names:
        text = re.sub(rf"\b{re.escape(alias)}\s*#?\s*(?=[0-9])", prefix, text, flags=re.I)
    heads = list(_HEAD.finditer(text))
    records = []
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end(): after.start() if after else len(text)]
        params = tuple((k.upper(), v) for k, v in _PARAM.findall(body))
        records.append(FaultRecord(head[1].upper(), int(head[2]), head[3].upper(), params))
    return tuple(records)


def _canonical_records(canonical: str) -> tuple[FaultRecord, ...]:
    return tuple(faultcodes.parse_record(part) for part in canonical.split(";"))
