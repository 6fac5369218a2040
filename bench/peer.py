"""Section 6: the peer, yProv4ML (PyPI ``yprov4ml``), on the same short job, logging the loss every step.

yProv4ML needs code in the script (``start_run``, one ``log_metric`` per step, ``end_run``): the workload's
``--peer`` switch holds it. It runs in its own environment (``bench/peer_setup.sh`` makes one, with the
local fix Python < 3.12 needs), named by ``BENCH_PEER_PYTHON``; the plain baseline runs in that same
interpreter. Where it cannot be imported, the section says why and quotes our earlier measurement.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from bench.common import PYTHON, ROOT, WORKLOAD, clean_env, interleaved, ratios, run_child, scratch

PEERS_MD = os.path.join(os.path.dirname(ROOT), "shared", "PEERS.md")


def measure(smoke: bool) -> dict[str, Any]:
    python = os.environ.get("BENCH_PEER_PYTHON", PYTHON)
    problem = _import_problem(python)
    if problem is not None:
        return {"available": False, "python": python, "reason": problem, "earlier_measurement": _quote()}
    if smoke:
        return {"available": True, "python": python, "ran": False}
    steps = "300"
    with scratch("peer") as root:
        plain = [python, WORKLOAD, "--steps", steps]
        runs = interleaved(3, lambda: run_child(plain, clean_env(), root),
                           lambda: run_child([*plain, "--peer", os.path.join(root, "yprov")], clean_env(), root))
    return {
        "available": True, "python": python, "ran": True, "steps": int(steps),
        "loop_cpu_ratio": ratios(runs, lambda sample: sample.report["loop_cpu"]),
        "loop_wall_ratio": ratios(runs, lambda sample: sample.report["loop_wall"]),
        "job_cpu_ratio": ratios(runs, lambda sample: sample.cpu),
        "job_wall_ratio": ratios(runs, lambda sample: sample.wall),
        "job_s_plain": min(a.wall for a, _ in runs),
        "job_s_peer": min(b.wall for _, b in runs),
    }


def _import_problem(python: str) -> str | None:
    done = subprocess.run([python, "-c", "import yprov4ml"], env=clean_env(), capture_output=True, text=True,
                          check=False)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["no output"])[-1]


def _quote() -> str:
    """The measured table in PEERS.md (made on this kind of machine), when that file is at hand."""
    if not os.path.exists(PEERS_MD):
        return "PEERS.md not found"
    with open(PEERS_MD, encoding="utf-8") as handle:
        text = handle.read()
    start = text.find("Measured here")
    end = text.find("Bugs reproduced", start)
    return text[start:end].strip() if start >= 0 else "no measurement in PEERS.md"
