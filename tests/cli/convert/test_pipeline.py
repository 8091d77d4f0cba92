"""The conversion pipeline: bounded windows, input order."""



from assistant.cli.convert import pipeline
from assistant.cli.convert.formats import Record


def test_reading_is_streamed_window_by_window(fake):
    read = 0

    def records():
        nonlocal read
        for number in range(1, 10_001):
            read += 1
            yield Record(number, number, f"line {number}")

    class CheckingWriter:
        written = 0

        def write(self, record, result):
            self.written += 1
            assert record.number == self.written
            assert read <= self.written + 100 - 1  # never more than one window ahead

        def flush(self):
            pass

    writer = CheckingWriter()
    summary = pipeline.convert(records(), fake.reply_batch, writer, window=100)
    assert (summary.records, summary.flagged, writer.written) == (10_000, 0, 10_000)
    assert max(len(call) for call in fake.calls) == 100
