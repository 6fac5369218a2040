"""``python -m bench`` / ``python bench/run.py``: run the sections, print the figures against the budget,
write them as JSON.

  --smoke        every section tiny (seconds): proves the harness works; its figures mean nothing
  --only A,B     just these sections (hotpath, loop, job, startup, longrun, peer)
  --device D     the tight loop's torch device (default cpu; the budget is the CPU's): ``--only loop
                 --device cuda`` measures the same loop on a GPU
  --out PATH     where the JSON goes (default bench/results.json; a smoke run's goes to the temp folder)

The budget is a floor, not a goal; a figure over it is printed as OVER, and the exit status stays 0 (the
figures depend on the machine; CI runs the smoke mode only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any, Callable

if __package__ in (None, ""):  # run as a script: make ``bench`` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import hotpath, longrun, overhead, peer, startup  # noqa: E402
from bench.common import BENCH  # noqa: E402

SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "hotpath": lambda options: {"per_event": hotpath.measure(options.smoke)},
    "loop": lambda options: {"tight_loop": overhead.tight_loop(options.smoke, options.device)},
    "job": lambda options: {"whole_job": overhead.whole_job(options.smoke)},
    "startup": lambda options: {"startup": startup.measure(options.smoke)},
    "longrun": lambda options: longrun.measure(options.smoke),
    "peer": lambda options: {"peer": peer.measure(options.smoke)},
}


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    chosen = options.only.split(",") if options.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        sys.stderr.write(f"bench: unknown sections {unknown}; known: {', '.join(SECTIONS)}\n")
        return 2
    results: dict[str, Any] = {"meta": _meta(options.smoke)}
    for name in chosen:
        started = time.perf_counter()
        sys.stderr.write(f"bench: {name}...\n")
        results.update(SECTIONS[name](options))
        results["meta"]["seconds"][name] = round(time.perf_counter() - started, 1)
    results["budget"] = budget(results)
    out = options.out or (os.path.join(tempfile.gettempdir(), "prov4ml-bench-smoke.json") if options.smoke
                          else os.path.join(BENCH, "results.json"))
    with open(out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(report(results))
    print(f"\nwrote {out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="prov4ml-auto performance harness")
    parser.add_argument("--smoke", action="store_true", help="every section tiny; the figures mean nothing")
    parser.add_argument("--only", default="", help=f"comma list of sections: {', '.join(SECTIONS)}")
    parser.add_argument("--out", default="", help="JSON output path")
    parser.add_argument("--device", default="cpu", help="the tight loop's torch device (cpu, cuda)")
    return parser


def _meta(smoke: bool) -> dict[str, Any]:
    return {"smoke": smoke, "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": {}}


# --- the budget --------------------------------------------------------------------------------------
def budget(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each budget line: the figure measured, its limit, and whether it is within."""
    lines = []
    for name, path, limit, unit in _BUDGET:
        value = _lookup(results, path)
        interval = _lookup(results, (*path[:-1], "ci95")) if path[-1] == "median" else None
        lines.append({"item": name, "value": value, "limit": limit, "unit": unit, "ci95": interval,
                      "ok": None if value is None else value <= limit})
    return lines


_BUDGET: tuple[tuple[str, tuple[str, ...], float, str], ...] = (
    ("per-step added cost (hooks, isolated)", ("per_event", "per_step_added_ns"), 2000, "ns"),
    ("tight-loop CPU ratio", ("tight_loop", "cpu_ratio", "median"), 1.03, "x"),
    ("tight-loop CPU ratio, in one process", ("tight_loop", "in_process_cpu_ratio"), 1.03, "x"),
    ("300-step job CPU ratio", ("whole_job", "cpu_ratio", "median"), 1.10, "x"),
    ("dormant start-up (.pth line)", ("startup", "dormant", "pth_us"), 1000, "us"),
    ("agent-on start-up to first line (CPU)", ("startup", "agent_on", "first_line_cpu_ms", "median"), 50, "ms"),
    ("agent-on python -c pass (CPU)", ("startup", "agent_on", "whole_cpu_ms", "median"), 50, "ms"),
    ("longest stall on the training thread", ("collector", "stall_ms"), 10, "ms"),
    ("agent peak memory", ("scale", "agent_peak_mb"), 50, "MB"),
    ("agent memory growth (10%..100% of the run)", ("scale", "agent_growth_mb"), 5, "MB"),
    ("document size", ("scale", "document_mb"), 2, "MB"),
)


def _lookup(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


# --- the printed report ------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    lines = ["SMOKE RUN: figures mean nothing" if results["meta"]["smoke"] else "", "Budget"]
    for line in results["budget"]:
        verdict = {True: "ok", False: "OVER", None: "n/a"}[line["ok"]]
        interval = f"  (95% CI {_number(line['ci95'][0])}-{_number(line['ci95'][1])})" if line["ci95"] else ""
        lines.append(f"  {line['item']:46s} {_number(line['value']):>10s} {line['unit']:3s} "
                     f"<= {_number(line['limit'])} {verdict}{interval}")
    if "per_event" in results:
        lines += ["", "Per event on the training thread (ns added per call; median of paired rounds)"]
        for group in ("isolated", "in_situ"):
            for name, case in results["per_event"][group].items():
                lines.append(f"  {group:9s} {name:32s} {_number(case['plain_ns']):>10s} plain "
                             f"{_number(case['added_ns']):>9s} added")
    for key in ("tight_loop", "whole_job", "startup", "collector", "scale", "peer"):
        if key in results:
            lines += ["", key.replace("_", " ").capitalize(), *_flat(results[key], "  ")]
    return "\n".join(lines).lstrip("\n")


def _flat(value: Any, indent: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{indent}{_number(value)}"]
    lines = []
    for key, item in value.items():
        if isinstance(item, dict) and "median" in item:
            interval = f"95% CI {_number(item['ci95'][0])}-{_number(item['ci95'][1])}, " if item["ci95"] else ""
            lines.append(f"{indent}{key:28s} median {_number(item['median'])} "
                         f"({interval}min {_number(item['min'])}, max {_number(item['max'])}, n {item['n']})")
        elif isinstance(item, dict):
            lines += [f"{indent}{key}", *_flat(item, indent + "  ")]
        elif isinstance(item, list):
            lines.append(f"{indent}{key:28s} {len(item)} values")
        else:
            lines.append(f"{indent}{key:28s} {_number(item)}")
    return lines


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
