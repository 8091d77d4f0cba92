"""`python -m training evaluate` against bad input: limits, report paths, data, bundles.

Each problem is one line naming the value or path given; report paths and data are checked
before the model loads; the bundle's own evaluation.json is written only when `--json`
names it.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from training.cli import main

DATA = ("CV01:E217 T=30\tConveyor 1: motor at 30 °C.\n"
        "CV02:E217 T=31\tConveyor 2: motor at 31 °C.\n"
        "CV03:E217 T=32\tConveyor 3: motor at 32 °C.\n")


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text(DATA, encoding="utf-8")
    return path


# (case, arguments, what argparse's error line says): exit code 2, before anything loads.
ARGUMENT_CASES = [
    ("limit -1", ["--limit", "-1"], "argument --limit: must be at least 1, got -1"),
    ("limit 0", ["--limit", "0"], "argument --limit: must be at least 1, got 0"),
    ("limit word", ["--limit", "all"], "argument --limit: expected a whole number, got 'all'"),
    ("batch size 0", ["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
]


@pytest.mark.parametrize(("case", "arguments", "message"), ARGUMENT_CASES,
                         ids=[c[0] for c in ARGUMENT_CASES])
def test_bad_numbers_are_usage_errors(data, capsys, case, arguments, message):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--model", "/nowhere", "--data", str(data), *arguments])
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"python -m training evaluate: error: {message}"


def _directory(tmp):
    (tmp / "reports").mkdir()
    return str(tmp / "reports")


def _under_file(tmp):
    (tmp / "file").write_text("x")
    return str(tmp / "file" / "report.json")


def _bad_jsonl(tmp):
    (tmp / "bad.jsonl").write_text('{"source": "CV07:E217", "target": "x"}\n{"source": "ab\n',
                                   encoding="utf-8")
    return str(tmp / "bad.jsonl")


# (case, --json, --data, the one line after "error: "): exit code 1, before the model loads
# (the model given does not exist, and the message is not about it).
EARLY_CASES = [
    ("empty --json", lambda tmp: "", None,
     "--json '' is empty: give the report's file name, e.g. --json evaluation.json"),
    ("--json a directory", _directory, None,
     "cannot write {tmp}/reports: it is a directory (give --json a file name)"),
    ("--json in a missing directory", lambda tmp: str(tmp / "missing" / "r.json"), None,
     "cannot write {tmp}/missing/r.json: {tmp}/missing does not exist (create it or "
     "choose another --json)"),
    ("--json under a file", _under_file, None,
     "cannot write {tmp}/file/report.json: {tmp}/file is not a directory (choose another "
     "--json)"),
    ("missing data", None, lambda tmp: str(tmp / "none.tsv"),
     "{tmp}/none.tsv: cannot read (No such file or directory)"),
    ("data of an unknown format", None, lambda tmp: str(tmp / "pairs.csv"),
     "{tmp}/pairs.csv: unknown data format '.csv' (use .tsv or .jsonl)"),
    ("bad JSON in the data", None, _bad_jsonl,
     "{tmp}/bad.jsonl:2: invalid JSON at column 12: Unterminated string starting "
     "(each line must be one JSON object)"),
]


@pytest.mark.parametrize(("case", "json_out", "data_path", "message"), EARLY_CASES,
                         ids=[c[0] for c in EARLY_CASES])
def test_report_and_data_problems_are_one_line_before_the_model_loads(
        data, tmp_path, capsys, case, json_out, data_path, message):
    arguments = ["evaluate", "--model", str(tmp_path / "no_model"),
                 "--data", data_path(tmp_path) if data_path else str(data)]
    if json_out:
        arguments += ["--json", json_out(tmp_path)]
    assert main(arguments) == 1
    assert capsys.readouterr().err == f"error: {message.format(tmp=tmp_path)}\n"


def test_a_read_only_report_directory_is_named(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as root all is writable
    assert main(["evaluate", "--model", str(tmp_path / "no_model"), "--data", str(data),
                 "--json", str(tmp_path / "report.json")]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot write {tmp_path}/report.json: {tmp_path} is not writable (fix its "
        "permissions or choose another --json)\n")


def test_a_missing_model_is_named(data, tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "no_model"), "--data", str(data)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path}/no_model: no such model directory\n"


def test_the_evaluate_function_refuses_a_limit_below_one(data):
    from training.evaluate import evaluate

    with pytest.raises(ValueError, match="limit must be at least 1, not -1"):
        evaluate("/nowhere", data, {}, limit=-1)


@pytest.mark.slow
def test_without_json_no_file_is_written_and_the_limit_keeps_every_pair(bundle, data,
                                                                       tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(bundle, model, ignore=shutil.ignore_patterns("checkpoint", "tensorboard"))
    shipped = model / "evaluation.json"
    shipped.write_text('{"shipped": true}\n', encoding="utf-8")
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--greedy",
                 "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert f"on {data} (3 pairs)" in out and "report written" not in out
    assert shipped.read_text(encoding="utf-8") == '{"shipped": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "pairs.tsv"]
    # What `make evaluate-default` does: --json names the bundle's evaluation.json.
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--greedy",
                 "--limit", "2", "--json", str(shipped)]) == 0
    assert f"report written to {shipped}" in capsys.readouterr().out
    report = json.loads(shipped.read_text(encoding="utf-8"))
    assert report["pairs"] == 2 and report["settings"]["greedy"]["scores"]["all"]["count"] == 2
