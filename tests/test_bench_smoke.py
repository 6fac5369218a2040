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
