"""Static facts about the host a job ran on, including container limits.

Physical core count and RAM say little about what a containerised or
Slurm-confined job could actually use, so the cgroup CPU quota and memory
limit are reported next to them when one is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

# cgroup v1 writes "unlimited" as LONG_MAX rounded down to a page (2**63 - 4096);
# anything this large is not a real limit.
_V1_UNLIMITED_BYTES = 2**62


def host_facts(
    cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
    proc_cgroup: str | os.PathLike = "/proc/self/cgroup",
) -> dict[str, int | float | str]:
    """Describe the CPU, memory and effective container limits of this host.

    Keys: cpu_model, cpu_cores_physical, cpu_cores_logical, cpu_affinity_cores,
    memory_total_bytes, and when a cgroup filesystem is found cgroup_version plus,
    if limited, cgroup_cpu_limit_cores (float) and cgroup_memory_limit_bytes.
    A key is omitted when its value cannot be determined.
    """
    facts: dict[str, int | float | str] = {
        "cpu_cores_logical": psutil.cpu_count(logical=True) or 0,
        "memory_total_bytes": psutil.virtual_memory().total,
    }
    optional = {
        "cpu_model": _cpu_model(),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_affinity_cores": _affinity_cores(),
    }
    facts.update({k: v for k, v in optional.items() if v})
    facts.update(cgroup_limits(Path(cgroup_root), _self_cgroups(Path(proc_cgroup))))
    return facts


def _cpu_model() -> str | None:
    """/proc/cpuinfo names the marketing model; else the ISA (platform.processor() would run ``uname -p``,
    see facts.py)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return os.uname().machine or None


def _affinity_cores() -> int | None:
    """taskset/Slurm pinning restricts a job below the logical core count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _self_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """Map controller -> this process's cgroup path ('' is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    for line in _read(proc_cgroup, "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def cgroup_limits(root: Path, self_cgroups: dict[str, str]) -> dict[str, int | float]:
    """Effective CPU/memory limits: the tightest one on the path from our cgroup to the root.

    In a container the path recorded in /proc/self/cgroup usually does not exist
    under the mount and only the mount root counts; on a Slurm node it does.
    """
    if (root / "cgroup.controllers").exists():
        version, cpu, mem = 2, *_v2_limits(root, self_cgroups.get("", "/"))
    elif _v1_cpu_mount(root) or (root / "memory").is_dir():
        version, cpu, mem = 1, *_v1_limits(root, self_cgroups)
    else:
        return {}
    found: dict[str, int | float] = {"cgroup_version": version}
    cpu_limits = [c for c in cpu if c is not None]
    mem_limits = [m for m in mem if m is not None]
    if cpu_limits:
        found["cgroup_cpu_limit_cores"] = min(cpu_limits)
    if mem_limits:
        found["cgroup_memory_limit_bytes"] = min(mem_limits)
    return found


def _v2_limits(root: Path, rel: str) -> tuple[list[float | None], list[int | None]]:
    """Unified hierarchy: cpu.max is '<quota> <period>' or 'max <period>'; memory.max a number or 'max'."""
    dirs = _ancestors(root, rel)
    cpu = [_v2_cores(_read(d / "cpu.max", "max")) for d in dirs]
    mem = [_bytes_limit(_read(d / "memory.max", "max")) for d in dirs]
    return cpu, mem


def _v1_limits(root: Path, self_cgroups: dict[str, str]) -> tuple[list[float | None], list[int | None]]:
    """Per-controller mounts: cfs_quota_us is -1 when unlimited, memory 'unlimited' is a huge number."""
    cpu_dirs = _ancestors(_v1_cpu_mount(root) or root / "cpu", self_cgroups.get("cpu", "/"))
    mem_dirs = _ancestors(root / "memory", self_cgroups.get("memory", "/"))
    cpu = [_cores(_read(d / "cpu.cfs_quota_us", "-1"), _read(d / "cpu.cfs_period_us", "")) for d in cpu_dirs]
    mem = [_bytes_limit(_read(d / "memory.limit_in_bytes", "")) for d in mem_dirs]
    return cpu, mem


def _ancestors(base: Path, rel: str) -> list[Path]:
    """base/rel and each parent up to base; limits on any of them constrain us."""
    parts = [p for p in rel.split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v1_cpu_mount(root: Path) -> Path | None:
    """Distributions mount the v1 cpu controller as cpu, cpu,cpuacct or cpuacct,cpu."""
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        if (root / name / "cpu.cfs_quota_us").exists():
            return root / name
    return None


def _v2_cores(cpu_max: str) -> float | None:
    quota, _, period = cpu_max.partition(" ")
    return _cores(quota, period)


def _cores(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _bytes_limit(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:  # 'max', empty or missing
        return None
    return value if 0 < value < _V1_UNLIMITED_BYTES else None


def _read(path: Path, default: str) -> str:
    """Missing or unreadable control files simply mean 'no information'."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return default
