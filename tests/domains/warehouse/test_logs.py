"""Tests for the seeded warehouse log (the benchmark workload)."""

from __future__ import annotations

import argparse
import itertools

import pytest

from assistant.domains.warehouse import faultcodes, logs
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.domains.warehouse.phrasings import CANONICAL_QUESTIONS

LINES = 20_000


@pytest.fixture(scope="module")
def entries(catalog):
    return list(logs.generate_entries(LINES, seed=3, catalog=catalog))


def test_the_log_is_deterministic_and_the_seed_matters():
    assert list(logs.generate_log(500, seed=1)) == list(logs.generate_log(500, seed=1))
    assert list(logs.generate_log(500, seed=1)) != list(logs.generate_log(500, seed=2))


@pytest.mark.parametrize("count", [0, 1, 7, 1000])
def test_exactly_the_lines_asked_for_and_a_shorter_log_is_a_prefix(count):
    lines = list(logs.generate_log(count, seed=4))
    assert len(lines) == count
    assert lines == list(logs.generate_log(count + 50, seed=4))[:count]


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="lines"):
        list(logs.generate_log(-1))


def test_the_shares_of_the_kinds_of_lines(entries):
    summary = logs.summarize(entries)
    share = {kind: count / LINES for kind, count in summary.kinds.items()}
    assert summary.lines == LINES
    assert share[logs.MULTI] == pytest.approx(0.20, abs=0.03)
    assert share[logs.QUESTION] + share[logs.CHATTER] == pytest.approx(0.10, abs=0.015)
    assert share[logs.QUESTION] == pytest.approx(0.06, abs=0.01)
    assert summary.malformed / LINES == pytest.approx(0.01, abs=0.004)
    assert share[logs.RECORD] == pytest.approx(0.69, abs=0.04)


def test_faults_are_skewed_and_lines_repeat(entries):
    summary = logs.summarize(entries)
    assert 0.5 < summary.repeat_share < 0.95
    faults = [(r.prefix, r.unit, r.code) for e in entries if e.kind == logs.RECORD
              for r in e.records]
    counts = sorted((faults.count(f) for f in set(faults)), reverse=True)
    assert sum(counts[:10]) > 0.2 * len(faults)  # a few chronic faults make much traffic
    assert len(counts) > 300  # and many faults fire rarely


def test_bursts_repeat_identical_lines_and_values_vary_between_bursts(entries):
    runs = [(text, len(list(group)))
            for text, group in itertools.groupby(e.text for e in entries if e.records)]
    assert max(length for _, length in runs) >= 5
    assert sum(length >= 2 for _, length in runs) > 0.3 * len(runs)
    values: dict[tuple, set] = {}
    for entry in entries:
        for record in entry.records:
            values.setdefault((record.prefix, record.unit, record.code), set()).add(record.params)
    assert sum(len(seen) >= 2 for key, seen in values.items() if key[2] and seen != {()}) > 50


def test_every_fault_record_parses_and_is_valid_for_its_equipment(catalog, entries):
    for entry in entries:
        if entry.kind not in (logs.RECORD, logs.MULTI):
            continue
        records = faultcodes.parse_line(entry.text)
        assert records == entry.records
        assert faultcodes.format_line(records) == entry.text
        assert len(records) == 1 if entry.kind == logs.RECORD else 2 <= len(records) <= 4
        for record in records:
            spec = catalog.entries[record.code]
            assert record.prefix in spec.equipment
            assert [name for name, _ in record.params] == [p.name for p in spec.params]


def test_malformed_lines_of_every_kind_are_present_and_do_not_parse(entries):
    malformed = [e for e in entries if e.kind in logs.MALFORMED]
    assert {e.kind for e in malformed} == set(logs.MALFORMED)
    for entry in malformed:
        with pytest.raises(faultcodes.FaultLineError):
            faultcodes.parse_line(entry.text)
        assert not entry.records
    kinds = {e.kind: e.text for e in malformed}
    assert not kinds["empty"].strip()
    assert len(kinds["long"]) > 1000
    assert any(char in kinds["control"] for char in logs.CONTROL_CHARACTERS)


def test_questions_are_canonical_and_no_line_breaks(entries):
    stems = [template.split("{")[0] for template in CANONICAL_QUESTIONS.values()]
    for entry in entries:
        assert "\n" not in entry.text and "\r" not in entry.text
        assert entry.text.splitlines() in ([entry.text], [])
        if entry.kind == logs.QUESTION:
            assert any(entry.text.startswith(stem) for stem in stems), entry.text
            assert not faultcodes.looks_like_fault_line(entry.text)


def test_write_log_and_the_build_log_command(tmp_path, capsys):
    out = tmp_path / "logs" / "log.txt"
    summary = logs.write_log(out, 300, seed=2)
    assert out.read_text(encoding="utf-8").split("\n")[:-1] == list(logs.generate_log(300, 2))
    assert (summary.lines, sum(summary.kinds.values())) == (300, 300)
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    WarehouseDomain.register_training_commands(subparsers)
    args = parser.parse_args(["build-log", "--out", str(tmp_path / "b.txt"), "--lines", "300",
                              "--seed", "2"])
    assert args.handler(args) == 0
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert "wrote 300 lines" in printed and "repeat share" in printed and "malformed" in printed
