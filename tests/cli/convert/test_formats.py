"""`convert`'s formats: CSV, TSV and JSON Lines in and out, bad rows flagged."""

import io
import json

from assistant.cli.convert.formats import open_reader
from tests.cli.convert.fakes import read_csv, read_jsonl, write


def test_csv_quoting_newlines_bom_and_columns(fake, convert, tmp_path):
    text = ('\ufeffid,source,note\n'
            '1,"CV07:E217 T=85, hot",plain\n'
            '2,"two\nlines","say ""hi"""\n'
            '3,,empty\n'
            '4,FLAG °C,x\n')
    source = write(tmp_path / "in.csv", text)
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,source,note,reply,score,flags\n")  # BOM kept
    rows = read_csv(tmp_path / "out.csv")
    assert rows[1] == ["1", "CV07:E217 T=85, hot", "plain", "CV07:E217 T=85, HOT", "-0.1235", ""]
    assert rows[2] == ["2", "two\nlines", 'say "hi"', "TWO\nLINES", "-0.1235", ""]
    assert rows[3] == ["3", "", "empty", "", "", "empty input"]
    assert rows[4][3:] == ["FLAG °C", "-0.1235", "number 99 not in input"]


def test_csv_bad_rows_are_flagged_and_kept(fake, convert, tmp_path):
    text = ('source,b\n'
            'short\n'
            'long,x,y\n'
            '"bad"quote,z\n'
            '\n'
            'ok,1\n'
            '"unterminated,2\n')
    source = write(tmp_path / "in.csv", text)
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    rows = read_csv(tmp_path / "out.csv")
    assert rows[0] == ["source", "b", "reply", "score", "flags"]
    assert rows[1] == ["short", "", "SHORT", "-0.1235", "row has 1 fields, the header has 2"]
    assert rows[2][:3] == ["long", "x", "LONG"]
    assert rows[2][4] == "row has 3 fields, the header has 2 (extra fields dropped)"
    assert rows[3][0] == '"bad"quote,z'
    assert rows[3][2] == "" and rows[3][4].startswith("malformed CSV: ")
    assert rows[4] == ["", "", "", "", "empty input"]
    assert rows[5] == ["ok", "1", "OK", "-0.1235", ""]
    assert rows[6][4] == "malformed CSV: unexpected end of data"
    assert len(rows) == 7


def test_csv_column_choice(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.csv", "id,message\n1,hi\n")
    assert convert(source, "-o", tmp_path / "out.csv") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {source}: no 'source', 'text', 'input' column in the header; "
                   "choose one with --column (found: 'id', 'message')")
    assert not (tmp_path / "out.csv").exists()
    assert convert(source, "--column", "nope", "-o", tmp_path / "out.csv") == 2
    assert "no column 'nope' in the header" in capsys.readouterr().err
    assert convert(source, "--column", "message", "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv")[1] == ["1", "hi", "HI", "-0.1235", ""]
    one = write(tmp_path / "one.csv", "prompt\nhello\n")
    assert convert(one, "-o", tmp_path / "one_out.csv") == 0
    assert read_csv(tmp_path / "one_out.csv")[1] == ["hello", "HELLO", "-0.1235", ""]
    empty = write(tmp_path / "empty.csv", "")
    assert convert(empty, "-o", tmp_path / "x.csv") == 2
    assert "needs a header row" in capsys.readouterr().err


def test_reconverting_overwrites_the_output_columns(fake, convert, tmp_path):
    source = write(tmp_path / "in.csv", "text,reply,score,flags\nabc,old,1,old flag\n")
    assert convert(source, "-o", tmp_path / "out.csv") == 0
    assert read_csv(tmp_path / "out.csv") == [["text", "reply", "score", "flags"],
                                              ["abc", "ABC", "-0.1235", ""]]


def test_tsv_in_and_out(fake, convert, tmp_path):
    source = write(tmp_path / "in.tsv", 'source\tk\nCV07:E217\t1\n"a\tb"\t2\n')
    assert convert(source, "-o", tmp_path / "out.tsv") == 0
    assert read_csv(tmp_path / "out.tsv", "\t") == [
        ["source", "k", "reply", "score", "flags"],
        ["CV07:E217", "1", "CV07:E217", "-0.1235", ""],
        ["a\tb", "2", "A\tB", "-0.1235", ""],
    ]


def test_jsonl_in_and_out_with_bad_lines(fake, convert, tmp_path):
    lines = [
        json.dumps({"id": 1, "source": "cv07:e217", "meta": {"a": [1]}}),
        "{not json",
        "[1, 2]",
        json.dumps({"id": 4}),
        json.dumps({"id": 5, "source": 17}),
        "",
        json.dumps({"source": "  "}),
        json.dumps({"source": "FLAG °C"}, ensure_ascii=False),
    ]
    source = write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    assert convert(source, "-o", tmp_path / "out.jsonl") == 0
    out = read_jsonl(tmp_path / "out.jsonl")
    assert len(out) == len(lines)
    assert out[0] == {"id": 1, "source": "cv07:e217", "meta": {"a": [1]}, "reply": "CV07:E217",
                      "score": -0.1235, "flags": []}
    assert out[1]["raw"] == "{not json" and out[1]["reply"] == "" and out[1]["score"] is None
    assert out[1]["flags"][0].startswith("invalid JSON: ")
    assert out[2] == {"raw": "[1, 2]", "reply": "", "score": None,
                      "flags": ["not a JSON object but an array"]}
    assert out[3]["flags"] == ["missing field 'source'"] and out[3]["id"] == 4
    assert out[4]["flags"] == ["field 'source' is a number, not a string"]
    assert out[5] == {"raw": "", "reply": "", "score": None, "flags": ["empty line"]}
    assert out[6]["flags"] == ["empty input"]
    assert out[7]["flags"] == ["number 99 not in input"] and out[7]["reply"] == "FLAG °C"
    assert "°C" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


def test_jsonl_field_choice(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.jsonl", '{"prompt": "hi"}\n{"prompt": "yo", "x": 1}\n')
    assert convert(source, "-o", tmp_path / "out.jsonl") == 2
    assert "choose one with --field (found: 'prompt')" in capsys.readouterr().err
    assert convert(source, "--field", "prompt", "-o", tmp_path / "out.jsonl") == 0
    assert [o["reply"] for o in read_jsonl(tmp_path / "out.jsonl")] == ["HI", "YO"]
    texts = write(tmp_path / "t.jsonl", '{"text": "a"}\n{"input": "b"}\n')
    assert convert(texts, "-o", tmp_path / "t_out.jsonl") == 0
    assert [o["flags"] for o in read_jsonl(tmp_path / "t_out.jsonl")] == [
        [], ["missing field 'text'"]]


def test_cross_format_outputs(fake, convert, tmp_path):
    txt = write(tmp_path / "in.txt", "a\nb,c\n")
    assert convert(txt, "-o", tmp_path / "from_txt.jsonl") == 0
    assert read_jsonl(tmp_path / "from_txt.jsonl")[1] == {
        "source": "b,c", "reply": "B,C", "score": -0.1235, "flags": []}
    assert convert(txt, "--column", "line", "-o", tmp_path / "from_txt.csv") == 0
    assert read_csv(tmp_path / "from_txt.csv")[0:2] == [["line", "reply", "score", "flags"],
                                                        ["a", "A", "-0.1235", ""]]
    table = write(tmp_path / "in.csv", "id,source\n7,x\n")
    assert convert(table, "-o", tmp_path / "from_csv.jsonl") == 0
    assert read_jsonl(tmp_path / "from_csv.jsonl") == [
        {"id": "7", "source": "x", "reply": "X", "score": -0.1235, "flags": []}]
    lines = write(tmp_path / "in.jsonl", '{"id": 1, "source": "q"}\nbroken\n')
    assert convert(lines, "-o", tmp_path / "from_jsonl.csv") == 0
    assert read_csv(tmp_path / "from_jsonl.csv") == [
        ["source", "reply", "score", "flags"], ["q", "Q", "-0.1235", ""],
        ["broken", "", "", "invalid JSON: Expecting value at column 1"]]
    assert convert(table, "-o", tmp_path / "replies.txt") == 0
    assert (tmp_path / "replies.txt").read_text() == "X\n"


def test_format_options_and_detection(fake, convert, tmp_path, capsys):
    odd = write(tmp_path / "faults.log", "a\n")
    assert convert(odd, "-o", tmp_path / "out.dat") == 0  # unknown extensions: txt
    assert (tmp_path / "out.dat").read_text() == "A\n"
    data = write(tmp_path / "data.dat", "source\nq\n")
    assert convert(data, "--format", "csv", "-o", tmp_path / "o1") == 0  # --format: both
    assert read_csv(tmp_path / "o1")[1][:2] == ["q", "Q"]
    assert convert(data, "--format", "csv", "-o", tmp_path / "o2.jsonl") == 0
    assert read_jsonl(tmp_path / "o2.jsonl")[0]["reply"] == "Q"
    assert convert(data, "--format", "csv", "--output-format", "txt", "-o", tmp_path / "o3") == 0
    assert (tmp_path / "o3").read_text() == "Q\n"
    capsys.readouterr()
    assert convert(write(tmp_path / "x.json", "[]"), "-o", tmp_path / "o4") == 2
    assert "is not JSON Lines" in capsys.readouterr().err


def test_reader_reports_bytes_and_bom():
    reader = open_reader("txt", io.BytesIO("\ufeffa\nb\n".encode()))
    records = list(reader)
    assert [r.text for r in records] == ["a", "b"]
    assert reader.had_bom and reader.bytes_read == 7
