"""Writers: strict JSON Lines whatever the values."""

import json

from assistant.cli.convert.formats import Record, Result
from assistant.cli.convert.writers import JsonlWriter, json_line


def test_json_line_is_strict_json():
    nan, inf = float("nan"), float("inf")
    assert json_line({"a": nan, "b": [1.5, -inf, {"c": inf}], "t": "°C"}) == (
        '{"a": null, "b": [1.5, null, {"c": null}], "t": "°C"}')
    line = json_line({"t": "x \udcff °C"})  # a lone surrogate: UTF-8 cannot hold it
    assert line == '{"t": "x \\udcff \\u00b0C"}' and json.loads(line)["t"] == "x \udcff °C"


def test_jsonl_scores_that_are_not_finite_are_null(tmp_path):
    class Reader:
        column, header = "source", None

    with (tmp_path / "out.jsonl").open("w", encoding="utf-8") as handle:
        writer = JsonlWriter(handle, Reader())
        writer.write(Record(1, 1, "a"), Result("A", float("-inf"), (),
                                              (("A", float("nan")), ("B", -1.23456))))
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {
        "source": "a", "reply": "A", "score": None, "flags": [],
        "alternatives": [{"text": "A", "score": None}, {"text": "B", "score": -1.2346}]}
