"""`convert --context-column/--context-field`: a record's context from its earlier message."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from assistant.cli.args import UsageError
from assistant.cli.convert.contexts import RecordContexts, add_arguments, context_name
from assistant.cli.convert.formats import open_reader
from assistant.domains.warehouse import WarehouseDomain, faithfulness
from tests.cli.convert.fakes import read_csv, read_jsonl

BUNDLE = Path(__file__).resolve().parents[3] / "saved_models" / "warehouse"


@pytest.fixture(scope="module")
def remember():
    return WarehouseDomain(faithfulness.load_checker(BUNDLE / faithfulness.BUNDLE_FILE)).remember


def reader(fmt: str, text: str):
    return open_reader(fmt, io.BytesIO(text.encode("utf-8")))


def test_a_csv_row_is_answered_after_its_earlier_message(remember):
    table = reader("csv", "ticket,earlier,source\n"
                          "1,conveyor 7 shows E217 T=85,how do I fix it?\n"
                          "2,,what does E217 mean?\n"
                          "3,thanks,how do I fix it?\n"
                          "4\n")
    contexts = RecordContexts("earlier", table.header, remember)
    records = list(table)
    assert contexts.contexts(records) == ["CV07:E217", None, None, None]
    with pytest.raises(ValueError, match="no context column 'before' in the header "
                                         "\\(found: 'ticket', 'earlier', 'source'\\)"):
        RecordContexts("before", table.header, remember)


def test_a_json_object_is_answered_after_its_context_field(remember):
    lines = [{"source": "and the sorter?", "earlier": "CV07:E217 T=85; SN02:W301 N=12"},
             {"source": "how do I fix it?", "earlier": 7}, {"source": "hi"}]
    table = reader("jsonl", "".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    contexts = RecordContexts("earlier", None, remember)
    assert contexts.contexts(list(table)) == [
        "CV07:E217 T=85; SN02:W301 N=12", None, None, None]


@pytest.mark.parametrize(("argv", "fmt", "expected"), [
    ([], "csv", None),
    (["--context-column", "earlier"], "tsv", "earlier"),
    (["--context-field", "earlier"], "jsonl", "earlier"),
    (["--context-column", "earlier"], "jsonl",
     "--context-column needs csv or tsv input, not jsonl (jsonl: --context-field)"),
    (["--context-field", "earlier"], "txt",
     "--context-field needs jsonl input, not txt (csv, tsv: --context-column)"),
    (["--context-column", "a", "--context-field", "b"], "csv",
     "give --context-column (csv, tsv) or --context-field (jsonl), not both"),
    (["--context-column", " "], "csv", "the context column or field name is empty"),
])
def test_the_options_fit_the_input_format(argv, fmt, expected):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(argv)
    if expected is None or not expected.startswith(("--", "give", "the")):
        assert context_name(args, fmt) == expected
        return
    with pytest.raises(UsageError, match=expected.replace("(", "\\(").replace(")", "\\)")):
        context_name(args, fmt)


def test_convert_answers_each_row_after_its_context_column(fake, convert, tmp_path):
    source = tmp_path / "tickets.csv"
    source.write_text("source,earlier\nhow do I fix it?,cv07:e217 t=85\nhello,\n",
                      encoding="utf-8")
    target = tmp_path / "out.csv"
    assert convert(source, "-o", target, "--context-column", "earlier") == 0
    rows = read_csv(target)
    assert [row[:3] for row in rows] == [
        ["source", "earlier", "reply"],
        ["how do I fix it?", "cv07:e217 t=85", "HOW DO I FIX IT? (after CV07:E217 T=85)"],
        ["hello", "", "HELLO"],  # no earlier message: answered on its own
    ]
    assert convert(source, "-o", tmp_path / "plain.csv") == 0  # without the option: as before
    assert read_csv(tmp_path / "plain.csv")[1][2] == "HOW DO I FIX IT?"


def test_convert_answers_each_object_after_its_context_field(fake, convert, tmp_path):
    source = tmp_path / "tickets.jsonl"
    source.write_text(json.dumps({"source": "and W301?", "earlier": "SN02:W301 N=12"}) + "\n",
                      encoding="utf-8")
    target = tmp_path / "out.jsonl"
    assert convert(source, "-o", target, "--context-field", "earlier") == 0
    assert read_jsonl(target)[0]["reply"] == "AND W301? (after SN02:W301 N=12)"


def test_a_context_column_that_is_not_there_is_one_line(fake, convert, tmp_path, capsys):
    source = tmp_path / "tickets.csv"
    source.write_text("source\nhi\n", encoding="utf-8")
    assert convert(source, "-o", tmp_path / "out.csv", "--context-column", "earlier") == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: no context column 'earlier' in the header (found: 'source')"
    assert not (tmp_path / "out.csv").exists()
    assert convert(source, "--runner", "DirectRunner", "-o", tmp_path / "o.jsonl",
                   "--context-column", "earlier") == 2
    assert "do not run with --runner" in capsys.readouterr().err
