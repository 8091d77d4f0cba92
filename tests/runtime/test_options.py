"""The one source of option defaults: `assistant.runtime.options`."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.decoding import DecodingOptions
from assistant.runtime.options import (
    OPTION_NAMES,
    ReplyOptions,
    RuntimeOptions,
    decoding_settings,
    default_options,
)


def test_defaults_are_the_dataclasses_defaults():
    defaults = default_options()
    assert set(defaults) == set(OPTION_NAMES)
    for field in dataclasses.fields(DecodingOptions):
        assert defaults[field.name] == field.default
    assert (defaults["rerank"], defaults["segment"], defaults["retry_beam"]) == (True, True, 16)


def test_resolve_applies_layers_in_order_and_splits_the_two_kinds():
    options = ReplyOptions.resolve({"beam_width": 8, "rerank": False}, {"beam_width": 3})
    assert options.decoding == DecodingOptions(beam_width=3)
    assert options.runtime == RuntimeOptions(rerank=False)
    assert options.to_dict() == {**default_options(), "beam_width": 3, "rerank": False}
    assert decoding_settings(options.to_dict()) == dataclasses.asdict(options.decoding)


@pytest.mark.parametrize(("layer", "message"), [
    ({"beam": 3}, r"unknown decoding option\(s\) beam \(known: strategy, "),
    ({"retry_beam": True}, "retry_beam must be an int >= 0"),
    ({"segment": "no"}, "segment must be true or false, got 'no'"),
    ({"beam_width": 2, "n_best": 3}, r"n_best \(3\) must not exceed beam_width \(2\)"),
])
def test_bad_options_are_one_line_errors(layer, message):
    with pytest.raises(ValueError, match=message):
        ReplyOptions.resolve(layer)
