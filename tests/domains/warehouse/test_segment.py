import json

import pytest

from assistant.domains.warehouse import segment


@pytest.mark.parametrize(("text", "records"), [
    ("CV07:E217 T=85; SN02:W301 N=12", ["CV07:E217 T=85", "SN02:W301 N=12"]),
    ("  cv 7 : e217 t = 85 ,  ;sn2:w301;", ["cv 7 : e217 t = 85 ,", "sn2:w301"]),
    ("CV07:E217, T=85.5,N=3; DD9:X999; AG1:E105; SH02:C503",
     ["CV07:E217, T=85.5,N=3", "DD9:X999", "AG1:E105", "SH02:C503"]),
    # the separators operators and panels write, and the unit spellings they use
    ("CV07:E217 T=85, SN02:W301 N=12", ["CV07:E217 T=85", "SN02:W301 N=12"]),
    ("CV07:E217 T=85 | SN02:W301|AG4:W120", ["CV07:E217 T=85", "SN02:W301", "AG4:W120"]),
    ("CV07:E217/SN02:W301 N=12 / AG4:W120", ["CV07:E217", "SN02:W301 N=12", "AG4:W120"]),
    ("cv07:e217 t=85 and SN02:W301 AND ag4:w120 & LF1:E201 + SH2:C503",
     ["cv07:e217 t=85", "SN02:W301", "ag4:w120", "LF1:E201", "SH2:C503"]),
    ("CV07:E217 T=85C SN02:W301\tAG4:W120 B=20 %\nLF1:E201  SH2:C503",
     ["CV07:E217 T=85C", "SN02:W301", "AG4:W120 B=20 %", "LF1:E201", "SH2:C503"]),
    ("CV 7:E217, SN-02 W301 N=12; ag_4-w120, CV#8E217",
     ["CV 7:E217", "SN-02 W301 N=12", "ag_4-w120", "CV#8E217"]),
    ("CV1:E217; CV2:E217; CV3:E217; CV4:E217; CV5:E217",  # any number of records
     [f"CV{i}:E217" for i in range(1, 6)]),
    (" ".join(f"CV{i}:E217" for i in range(1, 99)), [f"CV{i}:E217" for i in range(1, 99)]),
])
def test_split_line_returns_the_stripped_records(text, records):
    assert segment.split_line(text) == records


@pytest.mark.parametrize("text", [
    "CV07:E217 T=85",  # one record
    "CV07:E217 T=85;",  # one record and its trailing ';'
    "what does E217 mean?; and E301?",  # not records
    "CV07:E217 T=85; SN02 W30",  # a malformed record (a code of two digits)
    "CV07:E217 T=hot; SN02:W301",  # a value that is not a number
    "CV07:E217 T=85 and then SN02:W301",  # words between records
    "E217 on CV07, and SN02:W301?",  # a question
    "conveyor 7 E217, sorter 2 W301",  # units named by equipment names: decoded whole
    "18:07 CV07:E217 T=85 18:09 SN02:W301",  # time stamps are not records
    "CV07:E217 T=85 mm SN02:W301",  # "mm" is not a value's unit against its digits
    "CV07:E217;; SN02:W301",  # an empty record
    "CV07:E217; SN02:W301;;",  # two trailing ';'
    "CV100:E217; SN02:W301",  # a three-digit unit
    "A1:E1; A2:E2; A3:E3; A4:E4; A5:E5",
    ";".join(["CV1:E217"] * (segment.MAX_SEGMENTS + 1)),  # a paste too long to segment
    "",
])
def test_split_line_leaves_other_inputs_whole(text):
    assert segment.split_line(text) is None


def test_record_key_is_the_upper_case_prefix_and_code():
    assert segment.record_key("cv 7 : e217 t = 85") == "CV:E217"
    assert segment.record_key("SH02:C503") == "SH:C503"
    assert segment.record_key("sn-02 w301 N=12") == "SN:W301"
    assert segment.record_key("ag_4E105") == "AG:E105"


def test_mark_boundaries_rewrites_only_separators_between_records():
    assert segment.mark_boundaries("CV1:E217 and CV2:E217 and CV3:E217") == (
        "CV1:E217;CV2:E217;CV3:E217")  # the second pass finds the boundary the first took
    assert segment.mark_boundaries("CV1:E217 T=85, N=3 | SN2:W301") == "CV1:E217 T=85, N=3;SN2:W301"
    assert segment.mark_boundaries("hello and goodbye, CV1") == "hello and goodbye, CV1"


def test_order_is_by_rank_then_input_order():
    order = segment.RecordOrder({"CV:E217": 1, "SH:C503": 0, "SN:W301": 2}, default_rank=1)
    records = ["sn2:w301", "CV7:E217", "XX1:E217", "sh2:c503", "CV8:E217"]
    # XX:E217 is not in the order: it takes the default rank, like a fault
    assert order.order(records) == [3, 1, 2, 4, 0]


def test_record_order_file_round_trip(tmp_path):
    order = segment.RecordOrder({"CV:E217": 1, "SH:C503": 0}, default_rank=1)
    assert segment.load_record_order(tmp_path) is None  # no record order: no segmentation
    path = tmp_path / segment.RECORD_ORDER_FILE
    path.write_text(json.dumps(order.to_json()))
    assert segment.load_record_order(tmp_path) == order
    path.write_text(json.dumps({"ranks": {"CV:E217": "x"}}))
    with pytest.raises(ValueError, match="not a valid record order"):
        segment.load_record_order(tmp_path)


def test_an_older_bundle_keeps_its_record_order_in_faithfulness_json(tmp_path):
    order = segment.RecordOrder({"CV:E217": 1, "SH:C503": 0}, default_rank=1)
    legacy = tmp_path / segment.LEGACY_FILE
    settings = {"allowed_numbers": [], segment.RECORD_ORDER_KEY: order.to_json()}
    legacy.write_text(json.dumps(settings))
    assert segment.load_record_order(tmp_path) == order
    newer = segment.RecordOrder({"CV:E217": 0}, default_rank=2)
    (tmp_path / segment.RECORD_ORDER_FILE).write_text(json.dumps(newer.to_json()))
    assert segment.load_record_order(tmp_path) == newer  # the file of its own comes first
    (tmp_path / segment.RECORD_ORDER_FILE).unlink()
    legacy.write_text(json.dumps({"allowed_numbers": []}))
    assert segment.load_record_order(tmp_path) is None
    legacy.write_text(json.dumps({segment.RECORD_ORDER_KEY: {"ranks": {"CV:E217": "x"}}}))
    with pytest.raises(ValueError, match="not a valid record order"):
        segment.load_record_order(tmp_path)
