"""The performance harness in smoke mode: every section runs (tiny) and lands in the JSON, so it never rots.

No timing assertion: the figures of a smoke run mean nothing, and timings belong to ``python -m bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ("meta", "per_event", "tight_loop", "whole_job", "startup", "collector", "scale", "peer", "budget")


def test_smoke_run_writes_every_section(tmp_path):
    out = tmp_path / "bench.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROV4ML_")}
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [name for name in SECTIONS if name not in results] == []
    assert results["meta"]["smoke"] is True
    assert {line["item"] for line in results["budget"]} and all("value" in line for line in results["budget"])
    assert results["per_event"]["isolated"] and results["per_event"]["in_situ"]
    assert results["scale"]["document_mb"] > 0
    assert "Budget" in done.stdout


def test_medians_carry_a_95_percent_interval_through_every_report():
    """Smoke runs are too small for an interval (it needs 6 values); full runs have one on every median: the
    order statistics that hold the true median with at least 95% confidence. Every formatter takes it."""
    sys.path.insert(0, ROOT)
    from bench.common import median_interval, summary
    from bench.run import budget, report
    from bench.startup import _ms

    assert median_interval([1.0] * 5) is None
    assert median_interval([float(value) for value in range(12, 0, -1)]) == [3.0, 10.0]  # P(B(12, 1/2) <= 2) = 1.9%
    ratios = summary([1.0 + value / 100 for value in range(12)])
    first_line = _ms(summary([value / 1000 for value in range(12)]))
    assert first_line["ci95"] == [2.0, 9.0] and first_line["median"] == 5.5
    results = {"meta": {"smoke": False}, "tight_loop": {"cpu_ratio": ratios},
               "startup": {"agent_on": {"first_line_cpu_ms": first_line}}}
    results["budget"] = budget(results)
    text = report(results)
    assert "<= 1.03 OVER  (95% CI 1.02-1.09)" in text and "<= 50 ok  (95% CI 2-9)" in text
    assert "median 1.055 (95% CI 1.02-1.09, min 1, max 1.11, n 12)" in text
