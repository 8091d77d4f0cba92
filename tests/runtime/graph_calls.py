"""A helper of the runtime tests: the rows of every batch an assistant's graphs decode."""

from __future__ import annotations


def batch_rows(assistant, monkeypatch) -> list[int]:
    """A list that gets the padded row count of each batch `assistant` decodes from now on."""
    rows: list[int] = []
    run = assistant._graphs.run

    def counted(source, *args, **kwargs):
        rows.append(source.shape[0])
        return run(source, *args, **kwargs)

    monkeypatch.setattr(assistant._graphs, "run", counted)
    return rows
