"""Per-step series: rows in CSV side files, running aggregates for the document.

CSV columns: ``step,epoch,time,value`` (time in Unix seconds; non-finite values written NaN, INF, -INF).
The document references each file with its sha256, so long series never bloat the PROV document.
"""

from __future__ import annotations

import os
from typing import Any

from prov4ml_auto.document import format_double
from prov4ml_auto.files import file_sha256, make_folder, open_for_writing


class Aggregate:
    """count, first, last, min, max and mean of the finite values; non-finite ones are counted apart."""

    __slots__ = ("count", "first", "last", "low", "high", "total", "finite", "non_finite")

    def __init__(self) -> None:
        self.count = self.finite = self.non_finite = 0
        self.first = self.last = self.low = self.high = None
        self.total = 0.0

    def add(self, value: float) -> None:
        """Once per step per open phase: plain comparisons, no calls (``v - v`` is 0.0 only when v is finite)."""
        self.count += 1
        if self.first is None:
            self.first = value
        self.last = value
        if value - value != 0.0:
            self.non_finite += 1
        elif self.finite:
            self.finite += 1
            self.total += value
            if value < self.low:
                self.low = value
            elif value > self.high:
                self.high = value
        else:
            self.finite, self.total, self.low, self.high = 1, value, value, value

    def attributes(self, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {f"{prefix}.count": self.count, f"{prefix}.first": self.first,
                               f"{prefix}.last": self.last, f"{prefix}.min": self.low, f"{prefix}.max": self.high}
        if self.finite:
            out[f"{prefix}.mean"] = self.total / self.finite
        if self.non_finite:
            out[f"{prefix}.nonFinite"] = self.non_finite
        return out


class Series:
    """One metric's side file; opened on the first value, flushed with the journal."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.aggregate = Aggregate()
        self._rows: list[tuple[int, int | None, float, float | str]] = []
        self._handle: Any = None
        self.failed = False  # the file could not be written (full disk): stop trying, keep the aggregates

    def add(self, step: int, epoch: int | None, time: float, value: float) -> None:
        """Once per training step: the row is kept as numbers (a non-finite value as its text) and written
        at the next flush, formatted in one batch."""
        self.aggregate.add(value)
        if not self.failed:
            self._rows.append((step, epoch, time, value if value - value == 0.0 else format_double(value)))

    def flush(self) -> None:
        """Raises OSError once, when the file cannot be written; later calls do nothing."""
        if not self._rows or self.failed:
            return
        try:
            if self._handle is None:
                make_folder(os.path.dirname(self.path))
                self._handle = open(open_for_writing(self.path), "wb")
                self._handle.write(b"step,epoch,time,value\n")
            self._handle.write(csv_lines(self._rows))
            self._handle.flush()
        except OSError:
            self.failed = True
            raise
        finally:
            self._rows = []

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
