"""Shared by the sections: child processes, their CPU time, interleaved pairs and robust summaries.

The bench machine is shared (two cores here): wall-clock ratios of two identical runs spread 0.6-1.1.
So every comparison runs the two variants as interleaved pairs, the order alternating, and reports the
median of the per-pair ratios of CPU time (``os.times()`` of the waited children), with wall time beside it.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORKLOAD = os.path.join(BENCH, "workload.py")
INPROCESS = os.path.join(BENCH, "inprocess.py")
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)
LAUNCHER = os.path.join(BIN, "prov4ml-run")


@dataclass
class Sample:
    """One finished child: its CPU and wall seconds, when it ended (Unix time) and the JSON its last stdout
    line held (if any)."""

    cpu: float
    wall: float
    ended: float
    report: dict[str, Any] = field(default_factory=dict)


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any PROV4ML_* switch, so 'plain' really is plain; and with bytecode
    caching on, as in an installed package (pip compiles at install): with PYTHONDONTWRITEBYTECODE set, every
    process would compile the agent's modules from source, some 50 ms that no user pays."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PROV4ML_") and key != "PYTHONDONTWRITEBYTECODE"}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env.update(extra)
    return env


def agent_env(folder: str, **extra: str) -> dict[str, str]:
    """The agent on (as the .pth sees it), quiet, writing below ``folder``."""
    return clean_env(PROV4ML_ENABLE="1", PROV4ML_QUIET="1", PROV4ML_DIR=folder, **extra)


def run_child(command: list[str], env: dict[str, str], cwd: str | None = None, timeout: float = 900) -> Sample:
    """Run to completion; CPU time is the children's user+system time that this wait added."""
    before, started = os.times(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    wall, after, ended = time.perf_counter() - started, os.times(), time.time()
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}:\n{done.stderr.decode(errors='replace')[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return Sample(cpu, wall, ended, _last_json(done.stdout.decode(errors="replace")))


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def interleaved(pairs: int, first: Callable[[], Sample], second: Callable[[], Sample]) -> list[tuple[Sample, Sample]]:
    """``pairs`` runs of each, the order alternating so that drift in machine load hits both alike; with more
    than one pair, one untimed run of each first (bytecode caches, the page cache)."""
    if pairs > 1:
        first()
        second()
    out = []
    for number in range(pairs):
        if number % 2 == 0:
            a = first()
            b = second()
        else:
            b = second()
            a = first()
        out.append((a, b))
    return out


def ratios(pairs: list[tuple[Any, Any]], value: Callable[[Any], float]) -> dict[str, Any]:
    """Median, spread and count of second/first over the pairs."""
    values = [value(b) / value(a) for a, b in pairs if value(a) > 0]
    return summary(values)


def differences(pairs: list[tuple[Any, Any]], value: Callable[[Any], float]) -> dict[str, Any]:
    """Median, spread and count of second-first over the pairs."""
    return summary([value(b) - value(a) for a, b in pairs])


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "ci95": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "ci95": median_interval(values)}


def median_interval(values: list[float]) -> list[float] | None:
    """A distribution-free interval holding the true median with at least 95% confidence: the k-th smallest
    and k-th largest values, k the largest rank with P(Binomial(n, 1/2) < k) <= 2.5%. On a shared machine
    run-to-run noise is several percent; this says whether a median differs from a limit or only seems to.
    None under 6 values (no such interval exists)."""
    n = len(values)
    below, k = 0.0, 0
    while below + math.comb(n, k) / 2 ** n <= 0.025:
        below += math.comb(n, k) / 2 ** n
        k += 1
    if k == 0:
        return None
    ordered = sorted(values)
    return [ordered[k - 1], ordered[n - k]]


def scratch(section: str) -> tempfile.TemporaryDirectory:
    """A folder for one section's runs (documents, checkpoints), removed when the section ends."""
    return tempfile.TemporaryDirectory(prefix=f"prov4ml-bench-{section}-")


def run_folder(root: str) -> str:
    """The one run folder the agent made below ``root``."""
    folders = [os.path.join(root, name) for name in os.listdir(root) if os.path.isdir(os.path.join(root, name))]
    if len(folders) != 1:
        raise RuntimeError(f"expected one run folder in {root}, found {folders}")
    return folders[0]


def folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(top, name)) for top, _, names in os.walk(path) for name in names)
