"""The CSV side files of metric series: what a reader of ``prov.series/<name>.csv`` gets back."""

from __future__ import annotations

import csv
import math

from prov4ml_auto.series import Series


def _rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_rows_round_trip_with_non_finite_values_missing_epochs_and_huge_steps(tmp_path):
    """Values and times come back exactly; NaN/INF/-INF keep their spellings; an epoch of None is an empty
    field; a step beyond 64 bits (orjson refuses it) is still written, by the slower path."""
    series = Series(str(tmp_path / "loss.csv"))
    values = [0.1 + 0.2, 1e-7, 1e20, -3.0, math.nan, math.inf, -math.inf]
    for step, value in enumerate(values):
        series.extend([(step, None if step % 2 else step // 2, 1795790907.0905237 + step, value)])
    series.flush()
    series.extend([(2**100, 4, 1.5, 2.5)])
    digest = series.close()
    rows = _rows(str(tmp_path / "loss.csv"))
    assert [row["value"] for row in rows[4:7]] == ["NaN", "INF", "-INF"]
    assert [float(row["value"]) for row in rows[:4]] == values[:4]
    assert [row["epoch"] for row in rows[:3]] == ["0", "", "1"]
    assert [float(row["time"]) for row in rows[:2]] == [1795790907.0905237, 1795790908.0905237]
    assert rows[-1] == {"step": str(2**100), "epoch": "4", "time": "1.5", "value": "2.5"}
    assert len(digest) == 64
    assert (series.aggregate.count, series.aggregate.non_finite, series.aggregate.high) == (8, 3, 1e20)
