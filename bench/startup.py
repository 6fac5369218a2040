"""Section 3b: interpreter start-up, with the package installed but dormant and with the agent on.

Dormant, the only cost is site processing our ``.pth`` line (it tests one environment variable): measured
in-process as ``site.addpackage`` on that file, and checked end to end (``-X importtime`` must show no module
of ours). With the agent on (torch never imported): the time until the user's first line runs (its CPU
time then, and its moment since the spawn) and the whole ``python -c`` run, as interleaved pairs against the
same command plain; the figures are medians of the per-pair differences.
"""

from __future__ import annotations

import os
import site
import statistics
import subprocess
import time
from typing import Any

from bench.common import PYTHON, Sample, agent_env, clean_env, differences, interleaved, run_child, scratch

PTH = "prov4ml_auto.pth"
FIRST_LINE = "import time; print('{\"first_wall\": %r, \"first_cpu\": %r}' % (time.time(), time.process_time()))"


def measure(smoke: bool) -> dict[str, Any]:
    return {"dormant": dormant(smoke), "agent_on": agent_on(smoke)}


def dormant(smoke: bool) -> dict[str, Any]:
    folder = next((path for path in site.getsitepackages() if os.path.exists(os.path.join(path, PTH))), None)
    if folder is None:
        return {"pth_found": False}
    saved = os.environ.pop("PROV4ML_ENABLE", None)
    try:
        runs = [_addpackage_us(folder) for _ in range(20 if smoke else 2000)]
    finally:
        if saved is not None:
            os.environ["PROV4ML_ENABLE"] = saved
    imports = subprocess.run([PYTHON, "-X", "importtime", "-c", "pass"], env=clean_env(), capture_output=True,
                             text=True, check=True).stderr
    return {"pth_found": True, "pth_us": statistics.median(runs), "modules_imported": "prov4ml" in imports}


def _addpackage_us(folder: str) -> float:
    started = time.perf_counter()
    site.addpackage(folder, PTH, set())
    return (time.perf_counter() - started) * 1e6


def agent_on(smoke: bool) -> dict[str, Any]:
    command = [PYTHON, "-c", FIRST_LINE]
    with scratch("start") as root:
        runs = interleaved(2 if smoke else 30, lambda: run_child(command, clean_env(), root),
                           lambda: run_child(command, agent_env(root), root))
    return {
        "first_line_cpu_ms": _ms(differences(runs, lambda sample: sample.report["first_cpu"])),
        "first_line_wall_ms": _ms(differences(runs, _first_line_delay)),
        "whole_cpu_ms": _ms(differences(runs, lambda sample: sample.cpu)),
        "whole_wall_ms": _ms(differences(runs, lambda sample: sample.wall)),
        "plain_whole_wall_ms": min(a.wall for a, _ in runs) * 1e3,
    }


def _first_line_delay(sample: Sample) -> float:
    """Seconds from the spawn to the first line: the child's clock then, minus when the run began."""
    return sample.report["first_wall"] - (sample.ended - sample.wall)


def _ms(figures: dict[str, Any]) -> dict[str, Any]:
    """A summary's seconds as milliseconds (its count stays a count)."""
    return {key: value if key == "n" or value is None else [bound * 1e3 for bound in value] if key == "ci95"
            else value * 1e3 for key, value in figures.items()}
