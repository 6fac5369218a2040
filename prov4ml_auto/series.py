"""Per-step series: rows in CSV side files, running aggregates for the document.

CSV columns: ``step,epoch,time,value`` (time in Unix seconds; non-finite values written NaN, INF, -INF).
The document references each file with its sha256, so long series never bloat the PROV document.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from prov4ml_auto.document import format_double
from prov4ml_auto.files import file_sha256, make_folder, open_for_writing

# Rows formatted by one call of C code, which holds the GIL throughout (0.4 ms here); between calls a training
# thread that waits for the GIL gets it. A second of a fast loop's rows (40,000) in one call held it for 14 ms.
_ROWS_PER_CALL = 2048


Row = tuple[int, int | None, float, float]  # step, epoch, time, value


class Aggregate:
    """count, first, last, min, max and mean of the finite values; non-finite ones are counted apart."""

    __slots__ = ("count", "first", "last", "low", "high", "total", "finite", "non_finite")

    def __init__(self) -> None:
        self.count = self.finite = self.non_finite = 0
        self.first = self.last = self.low = self.high = None
        self.total = 0.0

    def extend(self, values: Sequence[float]) -> None:
        """Values in the order they came. Fed in batches (a series' new rows at each phase boundary and flush):
        min, max and sum run as C loops, where a method call per training step would cost ten times more."""
        if not values:
            return
        finite = [value for value in values if value - value == 0.0]  # 0.0 only when value is finite
        self.count += len(values)
        if self.first is None:
            self.first = values[0]
        self.last = values[-1]
        self.non_finite += len(values) - len(finite)
        if not finite:
            return
        low, high = min(finite), max(finite)
        if self.finite:
            low, high = min(low, self.low), max(high, self.high)
        self.low, self.high = low, high
        self.finite += len(finite)
        self.total += sum(finite)

    def range_attributes(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}.first": self.first, f"{prefix}.last": self.last, f"{prefix}.min": self.low,
                f"{prefix}.max": self.high}

    def attributes(self, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {f"{prefix}.count": self.count, f"{prefix}.first": self.first,
                               f"{prefix}.last": self.last, f"{prefix}.min": self.low, f"{prefix}.max": self.high}
        if self.finite:
            out[f"{prefix}.mean"] = self.total / self.finite
        if self.non_finite:
            out[f"{prefix}.nonFinite"] = self.non_finite
        return out


class Series:
    """One metric's side file; opened on the first value, flushed with the journal.

    Adding a value only appends its row (once per training step for the loss). The aggregates catch up in
    batches: ``new_values`` hands the values added since its last call to the series' own aggregate and to
    whoever else summarises them (the recorder's open phases), and ``flush`` calls it before writing."""

    def __init__(self, path: str, per_phase: bool = True) -> None:
        self.path = path
        self.per_phase = per_phase  # whether the recorder's phases summarise this series too
        self.aggregate = Aggregate()
        self._rows: list[Row] = []  # not yet written
        self._summarised = 0  # how many of ``_rows`` the aggregate has seen
        self._non_finite_rows = False  # some of ``_rows`` hold NaN or an infinity
        self._handle: Any = None
        self.failed = False  # the file could not be written (full disk): stop trying, keep the aggregates

    def extend(self, rows: list[Row]) -> None:
        self._rows.extend(rows)

    def new_values(self) -> list[float]:
        """The values added since the last call, now in the series' aggregate. Called for every series at
        each phase boundary, where most (the system samples' series) have nothing new."""
        if self._summarised == len(self._rows):
            return []
        values = [row[3] for row in self._rows[self._summarised:]]
        self._summarised = len(self._rows)
        non_finite = self.aggregate.non_finite
        self.aggregate.extend(values)
        self._non_finite_rows |= self.aggregate.non_finite != non_finite
        return values

    def flush(self) -> None:
        """Raises OSError once, when the file cannot be written; later calls do nothing."""
        self.new_values()
        if not self._rows or self.failed:
            self._forget_rows()
            return
        try:
            if self._handle is None:
                make_folder(os.path.dirname(self.path))
                self._handle = open(open_for_writing(self.path), "wb")
                self._handle.write(b"step,epoch,time,value\n")
            rows = self._rows_as_written()
            for start in range(0, len(rows), _ROWS_PER_CALL):
                self._handle.write(csv_lines(rows[start:start + _ROWS_PER_CALL]))
            self._handle.flush()
        except OSError:
            self.failed = True
            raise
        finally:
            self._forget_rows()

    def _rows_as_written(self) -> list[tuple[int, int | None, float, float | str]]:
        """A non-finite value as its text (NaN, INF, -INF), which a JSON number cannot hold (see csv_lines)."""
        if not self._non_finite_rows:
            return self._rows
        return [row if row[3] - row[3] == 0.0 else (*row[:3], format_double(row[3])) for row in self._rows]

    def _forget_rows(self) -> None:
        self._rows, self._summarised, self._non_finite_rows = [], 0, False

    def close(self) -> str | None:
        """Flush, close and return the file's sha256 (None when the series had no value or failed)."""
        self.flush()
        if self._handle is None or self.failed:
            return None
        self._handle.close()
        return file_sha256(self.path)


def csv_lines(rows: list[tuple[int, int | None, float, float | str]]) -> bytes:
    """``step,epoch,time,value`` lines for many rows at once. orjson formats the numbers in C, at a quarter of
    the cost of Python's float formatting (which was a third of the collector's work per training step): its
    JSON for a list of rows becomes CSV once the brackets are line ends, an epoch of None (null) an empty
    field, and the quotes around NaN, INF and -INF (kept as text) are gone. Rows orjson refuses (an integer
    step beyond 64 bits) are formatted by Python instead."""
    import orjson  # on the collector, like every use of orjson

    try:
        text = orjson.dumps(rows)[2:-2].replace(b"],[", b"\n").replace(b",null,", b",,").replace(b'"', b"")
        return text + b"\n"
    except orjson.JSONEncodeError:
        return "".join(f"{step},{'' if epoch is None else epoch},{time!r},{value}\n"
                       for step, epoch, time, value in rows).encode("ascii")
