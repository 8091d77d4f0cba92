"""The chat's slash commands: parsing, settings, completion."""

from __future__ import annotations

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from assistant.cli.chat.commands import (
    Command,
    CommandError,
    Settings,
    apply_setting,
    command_completer,
    parse_command,
)
from tests.cli.chat.fakes import DEFAULTS, ENTER, drive


@pytest.mark.parametrize(("command", "message"), [
    ("/beam 0", "/beam needs a whole number >= 1, got 0"),
    ("/beam 2.5", "/beam needs a whole number >= 1, got '2.5'"),
    ("/nbest", "usage: /nbest N"),
    ("/nbest 0", "/nbest needs a whole number >= 1, got 0"),
    ("/lenpen -1", "/lenpen needs a number >= 0, got '-1'"),
    ("/lenpen nan", "/lenpen needs a number >= 0, got 'nan'"),
    ("/greedy 3", "/greedy takes no argument (got '3')"),
    ("/sample temperature=-1", "temperature must be a number >= 0 (0 is greedy), got '-1'"),
    ("/sample foo=1", "unknown /sample setting 'foo' (known: temperature, top_k, top_p, seed)"),
    ("/sample top_p=0", "top_p must be a number in (0, 1] (1 is off)"),
    ("/sample top_p=1.5", "top_p must be a number in (0, 1] (1 is off)"),
    ("/sample top_k=-2", "top_k must be a whole number >= 0 (0 is off), got -2"),
    ("/sample temperature", "expected KEY=VALUE, got 'temperature' (e.g. /sample "
                            "temperature=0.7 top_k=20)"),
])
def test_settings_parser_rejects_bad_arguments(command, message):
    with pytest.raises(CommandError) as error:
        apply_setting(Settings(DEFAULTS), parse_command(command))
    assert str(error.value) == message


def test_settings_parser_keeps_n_best_and_beam_width_consistent():
    settings = Settings(DEFAULTS)
    overrides, message = apply_setting(settings, Command("nbest", "8"))
    assert overrides == {"strategy": "beam", "n_best": 8, "beam_width": 8}
    assert message == ("beam search, width 8, n-best 8, length penalty 0.6 "
                       "(beam width raised to 8)")
    overrides, message = apply_setting(Settings(DEFAULTS, overrides), Command("beam", "3"))
    assert overrides == {"strategy": "beam", "n_best": 3, "beam_width": 3}
    assert message.endswith("(n-best lowered to 3)")
    overrides, message = apply_setting(Settings(DEFAULTS, {"strategy": "greedy"}),
                                       Command("nbest", "2"))
    assert overrides == {"strategy": "beam", "n_best": 2}
    assert message == "beam search, width 5, n-best 2, length penalty 0.6"
    overrides, _ = apply_setting(settings, Command("sample", "t=0.5 k=3 top-p=0.9 seed=4"))
    assert overrides == {"strategy": "sample", "temperature": 0.5, "top_k": 3, "top_p": 0.9,
                         "seed": 4}


def test_commands_and_aliases():
    assert parse_command("/QUIT") == Command("exit")
    assert parse_command("  /save  a b.txt ") == Command("save", "a b.txt")
    with pytest.raises(CommandError, match=r"unknown command /x{20}…; /help"):
        parse_command("/" + "x" * 50)
    lines, _ = drive(ENTER.join(["/help", "/attn", "/show me", "/save", "/model x", "/q"]) + ENTER)
    assert "/beam [N]                beam search (with N hypotheses)" in lines
    assert "no reply yet: /attn shows the attention of the last reply" in lines
    assert "/show takes no argument" in lines
    assert "usage: /save FILE" in lines
    assert "/model is not available in this session" in lines


def test_completion_of_commands_and_sample_keys():
    completer = command_completer()

    def complete(text):
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert complete("/be") == ["/beam"]
    assert complete("/sample top") == ["top_k=", "top_p="]
    assert complete("hello /be") == []


def test_settings_fill_what_a_bundle_leaves_out_from_the_one_source_of_defaults():
    from assistant.runtime.options import default_options

    effective = Settings({"beam_width": 8}, {"strategy": "greedy"}).effective()
    assert effective == {**default_options(), "beam_width": 8, "strategy": "greedy"}


def test_the_settings_line_names_a_draft_threshold_in_force():
    drafting = {**DEFAULTS, "draft_below": -1.37912}
    assert Settings(drafting).describe().endswith(
        "; a reply scored below -1.3791 is the draft")
    assert Settings(drafting, {"strategy": "greedy"}).describe() == (
        "greedy; a reply scored below -1.3791 is the draft")
    assert "draft" not in Settings(DEFAULTS).describe()
    assert "draft" not in Settings(drafting, {"strategy": "sample"}).describe()
