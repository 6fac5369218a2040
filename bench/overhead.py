"""Sections 2 and 3: the agent's overhead on a tight training loop and on a whole short job.

Both run ``bench/workload.py`` (a CPU MLP on one torch thread) as interleaved pairs, plain and with the agent,
the order alternating. The tight loop compares the loop alone (the child times it: its process CPU time,
which includes the collector thread, and its wall time), and is also measured inside one process, hooks on
and off in turn (``bench/inprocess.py``), which is far less noisy than comparing processes; the whole job
compares everything a user waits for, under ``prov4ml-run`` against plain ``python`` (the children's CPU
time, and wall time).
"""

from __future__ import annotations

from typing import Any, Callable

from bench.common import (INPROCESS, LAUNCHER, PYTHON, WORKLOAD, Sample, agent_env, clean_env, differences,
                          interleaved, ratios, run_child, scratch, summary)


def tight_loop(smoke: bool, device: str = "cpu") -> dict[str, Any]:
    pairs, steps, rounds, segment, wall_rounds = (1, 30, 2, 20, 2) if smoke else (12, 3000, 150, 100, 20)
    command = [PYTHON, WORKLOAD, "--steps", str(steps), "--device", device]
    with scratch("loop") as root:
        runs = interleaved(pairs, lambda: run_child(command, clean_env(), root),
                           lambda: run_child(command, agent_env(root), root))
        in_process = run_child([PYTHON, INPROCESS, str(rounds), str(segment), str(wall_rounds), device],
                               agent_env(root), root).report
    return {
        "device": device,
        "steps": steps,
        "step_ms_plain": min(a.report["loop_wall"] for a, _ in runs) / steps * 1e3,
        "cpu_ratio": ratios(runs, lambda sample: sample.report["loop_cpu"]),
        "cpu_ratio_of_minimums": _ratio_of_minimums(runs, lambda sample: sample.report["loop_cpu"]),
        "wall_ratio": ratios(runs, lambda sample: sample.report["loop_wall"]),
        "training_thread_cpu_ratio": ratios(runs, lambda sample: sample.report["loop_thread_cpu"]),
        "other_threads_us_per_step": differences(runs, lambda sample: _other_threads(sample) / steps * 1e6),
        "in_process_cpu_ratio": in_process["cpu_ratio"],
        "in_process_training_thread_ratio": summary(in_process["thread_ratios"]),
        "in_process_training_thread_ratio_loop_reading_its_loss": summary(in_process["logging_loop_thread_ratios"]),
        "in_process_collector_us_per_step": in_process["collector_us_per_step"],
        "in_process_plain_step_us": in_process["plain_step_us"],
        # what the user waits for: 3000-step stretches' wall time, on over off, the collector's work included
        "in_process_wall_ratio": summary(in_process["wall_ratios"]),
    }


def _other_threads(sample: Sample) -> float:
    """CPU seconds of every thread but the training one during the loop (the collector, with the agent)."""
    return sample.report["loop_cpu"] - sample.report["loop_thread_cpu"]


def _ratio_of_minimums(runs: list[tuple[Sample, Sample]], value: Callable[[Sample], float]) -> float:
    """Contention on a shared machine only ever adds CPU time: the fastest run of each is the cleanest."""
    return min(value(b) for _, b in runs) / min(value(a) for a, _ in runs)


def whole_job(smoke: bool) -> dict[str, Any]:
    pairs, steps = (1, 10) if smoke else (12, 300)
    with scratch("job") as root:
        command = [PYTHON, WORKLOAD, "--steps", str(steps), "--save", "checkpoint.pt"]
        runs = interleaved(pairs, lambda: run_child(command, clean_env(), root),
                           lambda: run_child([LAUNCHER, *command], clean_env(PROV4ML_QUIET="1", PROV4ML_DIR=root),
                                             root))
    return {
        "steps": steps,
        "job_s_plain": min(a.wall for a, _ in runs),
        "cpu_ratio": ratios(runs, lambda sample: sample.cpu),
        "cpu_ratio_of_minimums": _ratio_of_minimums(runs, lambda sample: sample.cpu),
        "wall_ratio": ratios(runs, lambda sample: sample.wall),
    }
