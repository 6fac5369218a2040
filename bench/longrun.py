"""Sections 4 and 5: the collector's throughput and the stalls it causes; a run of a million steps.

Both come from ``bench/synthetic.py`` (every event of a real loop at a fraction of a real step's cost), run
once with the agent and once without: the plain run is the baseline for stalls (a shared machine stalls
any process now and then), for memory (torch's own) and for the time a process takes to end.
"""

from __future__ import annotations

import os
from typing import Any

from bench.common import BENCH, PYTHON, Sample, agent_env, clean_env, folder_bytes, run_child, run_folder, scratch

SYNTHETIC = os.path.join(BENCH, "synthetic.py")
MB = 2**20


def measure(smoke: bool) -> dict[str, dict[str, Any]]:
    steps, epoch = (2_000, 500) if smoke else (1_000_000, 10_000)
    with scratch("long") as root:
        plain = _run(steps, epoch, root, clean_env())
        output = os.path.join(root, "runs")
        agent = _run(steps, epoch, root, agent_env(output))
        folder = run_folder(output)
        return {"collector": _collector(plain, agent), "scale": _scale(plain, agent, folder)}


def _run(steps: int, epoch: int, root: str, env: dict[str, str]) -> Sample:
    return run_child([PYTHON, SYNTHETIC, "--steps", str(steps), "--epoch", str(epoch), "--folder", root], env, root,
                     timeout=1800)


def _collector(plain: Sample, agent: Sample) -> dict[str, Any]:
    report = agent.report
    return {
        "events": report["collector_events"],
        "collector_cpu_s": report["collector_cpu"],
        "events_per_s": report["collector_events"] / report["collector_cpu"],
        "steps_per_s": report["steps"] / report["collector_cpu"],  # what a step costs the collector, inverted
        "dropped": report["dropped"],
        "step_max_ms": report["step_max_s"] * 1e3,
        "step_max_ms_plain": plain.report["step_max_s"] * 1e3,
        # a stall the agent causes (its GIL holds), without the steps that a full garbage collection fell in
        "stall_ms": report["step_max_without_full_gc_s"] * 1e3,
        "stall_ms_plain": plain.report["step_max_without_full_gc_s"] * 1e3,
        "full_gcs": report["full_gcs"],
        "full_gcs_plain": plain.report["full_gcs"],
        "full_gc_max_ms": report["full_gc_max_s"] * 1e3,
        "steps_over_10ms": report["steps_over_10ms"],  # one is a hiccup (plain runs have them too), many a pattern
        "steps_over_10ms_plain": plain.report["steps_over_10ms"],
        "step_p999_ms": report["step_p999_s"] * 1e3,
        "step_p999_ms_plain": plain.report["step_p999_s"] * 1e3,
        "step_median_us": report["step_median_s"] * 1e6,
        "step_median_us_plain": plain.report["step_median_s"] * 1e6,
    }


def _scale(plain: Sample, agent: Sample, folder: str) -> dict[str, Any]:
    series = os.path.join(folder, "prov.series")
    journal = os.path.join(folder, "prov.journal.jsonl")
    memory = agent.report["memory"]
    return {
        "steps": agent.report["steps"],
        "document_mb": os.path.getsize(os.path.join(folder, "prov.json")) / MB,
        "side_files_mb": folder_bytes(series) / MB if os.path.isdir(series) else 0.0,
        "journal_mb": os.path.getsize(journal) / MB if os.path.exists(journal) else 0.0,
        "agent_peak_mb": (agent.report["peak_rss"] - plain.report["peak_rss"]) / MB,
        "agent_growth_mb": _growth(memory) - _growth(plain.report["memory"]),
        "memory_mb": [(step, rss / MB) for step, rss in memory],
        "exit_s": agent.ended - agent.report["end_wall"],
        "exit_s_plain": plain.ended - plain.report["end_wall"],
        "run_wall_s": agent.report["wall"],
        "run_wall_s_plain": plain.report["wall"],
    }


def _growth(memory: list[list[int]]) -> float:
    """Resident memory added from the first tenth of the run to its end: ~0 when memory is flat."""
    first = memory[len(memory) // 10] if len(memory) >= 10 else memory[0]
    return (memory[-1][1] - first[1]) / MB
