"""evaluate-variants: equal / flagged / silent per family, on a fake reply function."""

from __future__ import annotations

import argparse
import io
import json
from types import SimpleNamespace

import pytest
from rich.console import Console

from training import evaluate_variants as ev

# canonical -> reply; a variant's reply is given by REPLIES too
REPLIES = {
    "A": ("reply a", ()),
    "a!": ("reply a", ()),  # equal
    "a?": ("reply a", ("a flag",)),  # equal text with a flag: still equal
    "B": ("reply b", ()),
    "b!": ("something else", ("number 9 not in input",)),  # flagged
    "b?": ("another thing", ()),  # silent
    "C": ("reply c", ()),
    "c!": ("", ()),  # an input that could not be answered (error): flagged
}
VARIANTS = [
    ev.Variant("a!", "A", "sep", target="reply a"),
    ev.Variant("a?", "A", "sep", target="reply a"),
    ev.Variant("b!", "B", "sep", target="wrong"),
    ev.Variant("b?", "B", "alias", held_out=True),
    ev.Variant("c!", "C", "alias", held_out=True),
]


def fake_reply_batch(calls: list):
    def reply_batch(texts):
        calls.append(list(texts))
        return [SimpleNamespace(text=REPLIES[t][0], flags=REPLIES[t][1],
                                error="too long" if t == "c!" else None) for t in texts]
    return reply_batch


def test_counts_equal_flagged_and_silent_per_family_and_overall():
    calls = []
    result = ev.count_variants(VARIANTS, fake_reply_batch(calls))
    families = result["families"]

    assert list(families) == ["sep", "alias", ev.HELD_OUT, ev.ALL]
    assert _row(families["sep"]) == (3, 2, 1, 0)
    assert _row(families["alias"]) == (2, 0, 1, 1)
    assert _row(families[ev.HELD_OUT]) == (2, 0, 1, 1)
    assert _row(families[ev.ALL]) == (5, 2, 2, 1)
    assert families["alias"].held_out and not families["sep"].held_out
    assert (families["sep"].targets, families["sep"].canonical_right) == (3, 2)
    assert (families["alias"].targets, families[ev.ALL].targets) == (0, 3)
    assert calls == [["a!", "A", "a?", "b!", "B", "b?", "c!", "C"]]  # each text once


def test_examples_keep_the_differing_replies():
    result = ev.count_variants(VARIANTS, fake_reply_batch([]), max_examples=1)
    assert "sep" in result["examples"] and len(result["examples"]["alias"]) == 1
    assert result["examples"]["sep"] == [{
        "source": "b!", "canonical": "B", "outcome": "flagged", "reply": "something else",
        "canonical_reply": "reply b", "flags": ["number 9 not in input"]}]


def test_no_held_out_row_without_held_out_lines():
    families = ev.count_variants(VARIANTS[:3], fake_reply_batch([]))["families"]
    assert list(families) == ["sep", ev.ALL]


def test_outcome_rules():
    reply = SimpleNamespace
    assert ev.outcome(reply(text="x", flags=("f",)), reply(text="x", flags=())) == "equal"
    assert ev.outcome(reply(text="y", flags=("f",)), reply(text="x", flags=())) == "flagged"
    assert ev.outcome(reply(text="y", flags=()), reply(text="x", flags=("f",))) == "silent"


def test_read_variants_and_its_errors(tmp_path):
    path = tmp_path / "variants.jsonl"
    path.write_text(json.dumps({"source": "a!", "canonical": "A", "family": "sep"}) + "\n\n"
                    + json.dumps({"source": "b", "canonical": "B", "family": "x",
                                  "held_out": True, "target": "t"}) + "\n", encoding="utf-8")
    assert ev.read_variants(path) == [ev.Variant("a!", "A", "sep"),
                                      ev.Variant("b", "B", "x", True, "t")]
    path.write_text('{"source": "a", "family": "sep"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"variants.jsonl:1: \"canonical\" must be a string"):
        ev.read_variants(path)
    path.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":1: invalid JSON"):
        ev.read_variants(path)


def test_table_shows_every_family_and_marks_held_out_ones():
    result = ev.count_variants(VARIANTS, fake_reply_batch([]))
    report = {"model": "m", "data": "d", "lines": 5,
              "families": {k: vars(v) for k, v in result["families"].items()}}
    out = io.StringIO()
    ev.render_table(report, Console(file=out, width=200))
    text = out.getvalue()
    rows = {line.split()[1]: line for line in text.splitlines() if line.startswith("│")}
    assert "yes" in rows["alias"] and "yes" not in rows["sep"] and "held" in rows
    assert "66.7%" in text and "2/3" in text


def test_register_takes_the_decoding_options():
    parser = argparse.ArgumentParser()
    ev.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate-variants", "--model", "m", "--data", "d.jsonl",
                              "--beam", "3", "--no-rerank", "--json", "r.json"])
    assert (args.beam_width, args.rerank, args.json_out) == (3, False, "r.json")


def _row(counts: ev.FamilyCounts) -> tuple[int, int, int, int]:
    return counts.count, counts.equal, counts.flagged, counts.silent
