"""`AnswerRecords` and `ConvertFiles` on the fake model: every record once, convert's flags."""

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from assistant.beam.handler import METRICS_NAMESPACE, AssistantModelHandler
from assistant.beam.transforms import FILE_KEY, LINE_KEY, AnswerRecords, ConvertFiles
from assistant.cli.convert.formats import Record, Result
from assistant.cli.convert.pipeline import MAX_INPUT_CHARS, record_result
from assistant.cli.main import main
from tests.beam import fakes
from tests.cli.convert.fakes import FakeAssistant, fake_reply, read_jsonl, write

RECORDS = [
    Record(1, 1, "hello"),
    Record(2, 2, None, ("missing field 'source'",)),
    Record(3, 3, "   "),
    Record(4, 4, "y" * (MAX_INPUT_CHARS + 1)),
    Record(5, 5, "z" * 70),  # the fake model's "too long" error reply
    Record(6, 6, "FLAG this", ("invalid UTF-8 (bytes replaced by U+FFFD)",)),
    Record(7, 8, "BOOM here"),
]


def counters(result) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    return {
        c.key.metric.name: c.committed
        for c in query["counters"]
        if c.key.metric.name in ("records", "flagged")
    }


def answer(loader, **handler_options):
    handler = AssistantModelHandler("m", loader=loader, **handler_options)
    pipeline = beam.Pipeline("DirectRunner")
    answered = (
        pipeline | beam.Create([("f", record) for record in RECORDS]) | AnswerRecords(handler)
    )
    return pipeline, answered


def test_every_record_once_with_convert_s_result():
    pipeline, answered = answer(fakes.load_fake)
    expected = [
        (
            "f",
            record,
            record_result(
                record, fake_reply(record.text) if record.number in (1, 5, 6, 7) else None
            ),
        )
        for record in RECORDS
    ]
    assert [result.flags for _, _, result in expected] == [
        (),
        ("missing field 'source'",),
        ("empty input",),
        (f"input too long: {MAX_INPUT_CHARS + 1:,} characters, the limit is 4,096",),
        ("input too long: 70 pieces, the limit is 50",),
        ("invalid UTF-8 (bytes replaced by U+FFFD)", "number 99 not in input"),
        (),
    ]
    assert_that(answered, equal_to(expected))
    result = pipeline.run()
    result.wait_until_finish()
    assert counters(result) == {"records": 7, "flagged": 5}


def test_a_batch_whose_inference_raised_is_flagged_not_dropped():
    pipeline, answered = answer(fakes.load_broken, min_batch_size=1, max_batch_size=1)
    expected = [
        (
            record.number,
            record_result(record, fake_reply(record.text) if record.number in (1, 5, 6) else None),
        )
        for record in RECORDS[:6]
    ]
    expected.append((7, Result("", None, ("not answered: RuntimeError('decoder exploded')",))))
    assert expected[0][1].reply == "HELLO" and expected[5][1].reply == "FLAG THIS"
    assert_that(
        answered | beam.MapTuple(lambda path, record, result: (record.number, result)),
        equal_to(expected),
    )
    pipeline.run().wait_until_finish()


def test_convert_files_writes_what_convert_writes(tmp_path):
    source = write(
        tmp_path / "in.jsonl",
        b'{"source": "a", "k": [1]}\n{"source": 3}\n'
        b'oops\n\n{"source": "FLAG 7"}\n{"text": "b"}\n{"source": "\\udcff"}\n'
        b'{"source": "MULTI"}\n',
    )
    fake = FakeAssistant()
    assert (
        main(
            ["convert", str(source), "-o", str(tmp_path / "convert.jsonl")],
            load_assistant=lambda _: fake,
        )
        == 0
    )
    handler = AssistantModelHandler("m", loader=fakes.load_fake)
    with beam.Pipeline("DirectRunner") as pipeline:
        written = pipeline | ConvertFiles(
            str(tmp_path / "in.*"), str(tmp_path / "beam.jsonl"), handler, fmt="jsonl"
        )
        assert_that(written, equal_to([str(tmp_path / "beam.jsonl")]))
    expected, got = read_jsonl(tmp_path / "convert.jsonl"), read_jsonl(tmp_path / "beam.jsonl")
    assert [(row.pop(FILE_KEY), row.pop(LINE_KEY)) for row in got] == [
        (str(source), line) for line in range(1, 9)
    ]
    assert got == expected and len(expected) == 8
    assert [bool(row["flags"]) for row in got] == [False, True, True, True, True, True, True, False]
