"""`convert --cache-size N` / `--no-cache`: the same output, repeats answered once (lines, and
the records of split lines), hits told."""

import re

import pytest

from assistant.cli.main import main
from assistant.domains.warehouse import segment
from assistant.domains.warehouse.domain import WarehouseDomain
from assistant.runtime.cache import DEFAULT_CACHE_SIZE, ReplyCache
from tests.cli.convert.fakes import write

# The summary's prefix as `training.benchmarks.convert.SUMMARY` parses it.
SUMMARY = re.compile(r"convert: ([\d,]+) records, ([\d,]+) flagged, ([\d.]+) s")
LINES = ["CV07:E217 T=85", "hello", "CV07:E217 T=85", "", "  hello", "SN02:W301 N=12",
         "CV07:E217 T=85"]


@pytest.fixture(scope="module")
def loaded(bundle):
    from assistant.runtime import Assistant

    return Assistant.load(bundle)


@pytest.fixture
def convert_real(loaded):
    """Runs `convert ARGS` in-process on the tiny bundle, which each run "loads" afresh:
    with an empty cache of the default bound, and its graphs still compiled."""

    def load(_):
        loaded.cache = ReplyCache(DEFAULT_CACHE_SIZE)
        return loaded

    return lambda *args: main(["convert", *map(str, args)], load_assistant=load)


def test_the_output_is_the_same_with_and_without_the_cache(convert_real, tmp_path, capsys):
    source = write(tmp_path / "in.txt", "\n".join(LINES) + "\n")

    assert convert_real(source, "-o", tmp_path / "off.txt", "--greedy", "--no-cache") == 0
    off = capsys.readouterr().err.splitlines()[-1]
    assert convert_real(source, "-o", tmp_path / "on.txt", "--greedy") == 0
    on = capsys.readouterr().err.splitlines()[-1]

    replies = (tmp_path / "on.txt").read_text(encoding="utf-8").splitlines()
    assert replies == (tmp_path / "off.txt").read_text(encoding="utf-8").splitlines()
    assert len(replies) == len(LINES) and replies[3] == ""
    assert replies[0] == replies[2] == replies[6] and replies[1] == replies[4]
    assert off.endswith(" records/s")  # no cache, nothing said of one
    # the empty line is flagged before the model; of the six asked, three repeat
    assert on.startswith("convert: 7 records, 1 flagged, ")
    assert on.endswith(" records/s, cache 3 hits of 6, 3 units decoded")
    assert SUMMARY.match(on).groups()[:2] == ("7", "1")


def test_cache_size_bounds_the_cache_and_counts_per_run(convert_real, loaded, tmp_path,
                                                         capsys):
    source = write(tmp_path / "in.txt", "\n".join(LINES) + "\n")
    assert convert_real(source, "-o", tmp_path / "out.txt", "--greedy", "--cache-size", 2,
                        "--window", 3) == 0
    assert loaded.cache.max_entries == 2
    assert len(loaded.cache) == 2  # one input, one unit
    # windows: [CV07, hello, CV07] [-, hello, SN02] [CV07]: "CV07" was dropped for "hello"
    # at both levels, then "hello" for SN02
    assert capsys.readouterr().err.splitlines()[-1].endswith(", cache 2 hits of 6, 4 units decoded")


def test_lines_of_records_seen_before_decode_none_and_read_the_same(convert_real, loaded,
                                                                    tmp_path, capsys,
                                                                    monkeypatch):
    order = segment.RecordOrder({"CV:E217": 0}, default_rank=1)
    monkeypatch.setattr(loaded, "domain", WarehouseDomain(record_order=order))  # splits only
    lines = ["CV07:E217 T=85", "SN02:W301 N=12; CV07:E217 T=85", "SN02:W301 N=12",
             "CV07:E217 T=85;SN02:W301 N=12", "CV1:E217; SN02:W301 N=12"]
    source = write(tmp_path / "in.txt", "\n".join(lines) + "\n")

    assert convert_real(source, "-o", tmp_path / "off.txt", "--greedy", "--no-cache") == 0
    assert convert_real(source, "-o", tmp_path / "on.txt", "--greedy") == 0

    replies = (tmp_path / "on.txt").read_text(encoding="utf-8").splitlines()
    assert replies == (tmp_path / "off.txt").read_text(encoding="utf-8").splitlines()
    assert replies[1] == replies[3]  # the same records, told in the catalog's order
    on = capsys.readouterr().err.splitlines()[-1]
    assert SUMMARY.match(on).groups()[:2] == ("5", "0")
    assert on.endswith(", cache 0 hits of 5, 3 units decoded")  # no line repeats whole ...
    stats = loaded.cache.stats  # ... but of 8 records, only CV07, SN02 and CV1 are decoded
    assert (stats.unit_hits, stats.unit_misses) == (5, 3)


def test_a_loader_without_a_cache_is_left_alone(fake, convert, tmp_path, capsys):
    source = write(tmp_path / "in.txt", "one\none\n")
    assert convert(source, "-o", tmp_path / "a.txt", "--cache-size", 10) == 0
    assert convert(source, "-o", tmp_path / "b.txt", "--no-cache") == 0
    assert not hasattr(fake, "cache")
    assert [len(call) for call in fake.calls] == [2, 2]
    summaries = capsys.readouterr().err.splitlines()
    assert len(summaries) == 2 and all(line.endswith(" records/s") for line in summaries)
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text() == "ONE\nONE\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--cache-size", "-1"], "must be at least 0"),
    (["--cache-size", "many"], "expected a whole number"),
    (["--cache-size", "3", "--no-cache"], "not allowed with argument"),
])
def test_bad_cache_arguments_are_usage_errors(convert, tmp_path, capsys, args, message):
    source = write(tmp_path / "in.txt", "one\n")
    with pytest.raises(SystemExit) as exit_info:
        convert(source, *args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
