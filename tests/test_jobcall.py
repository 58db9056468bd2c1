"""How a job's row travels from its worker: each value pickled alone, unpickled alone."""

from __future__ import annotations

from splitter.run.dask.task import pack, unpack
from splitter.run.jobcall import one_line, opened, sealed


def _rebuild() -> None:
    raise RuntimeError("cannot be rebuilt here")


class DoesNotUnpickle:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_rebuild, ())


class MessageRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


NOT_RECEIVED = (
    "the job's result cannot be received from its worker: it does not unpickle here"
    " (RuntimeError: cannot be rebuilt here); return plain values"
)


def test_a_sealed_row_opens_to_the_same_row() -> None:
    row = (3, "ok", 1.0, 0.5, "", {"x": [1, 2]})
    assert opened(sealed(row)) == row


def test_a_value_that_does_not_pickle_is_an_error_row_before_it_travels() -> None:
    row = opened(sealed((3, "ok", 1.0, 0.5, "", {"f": lambda: 1})))
    assert row[:2] == (3, "error") and row[5] is None
    assert row[4].startswith("the job's result cannot be sent from its worker: ")


def test_a_value_that_does_not_unpickle_costs_only_its_own_row() -> None:
    rows = [sealed((n, "ok", 1.0, 0.5, "", DoesNotUnpickle() if n == 1 else n)) for n in range(3)]
    assert [opened(row) for row in rows] == [
        (0, "ok", 1.0, 0.5, "", 0),
        (1, "error", 1.0, 0.5, NOT_RECEIVED, None),
        (2, "ok", 1.0, 0.5, "", 2),
    ]


def test_a_dask_batch_with_a_value_that_does_not_unpickle_keeps_its_other_rows() -> None:
    rows = [(0, "ok", 1.0, 0.5, "", "fine"), (1, "ok", 1.0, 0.5, "", DoesNotUnpickle())]
    found, records = unpack(pack(rows, [{"msg": "logged"}]))
    assert found == [(0, "ok", 1.0, 0.5, "", "fine"), (1, "error", 1.0, 0.5, NOT_RECEIVED, None)]
    assert records == [{"msg": "logged"}]


def test_an_exception_whose_message_raises_still_has_one_line() -> None:
    assert one_line(MessageRaises()) == (
        "MessageRaises (its message cannot be shown: its __str__ raises)"
    )
