"""CPU, memory, disk and network readings of the training process and its host."""

from __future__ import annotations

import os
from typing import Any

import psutil

# Instantaneous values; every other key of ProcessSampler.read() is a cumulative counter.
GAUGES = ("process_memory_rss_bytes", "host_memory_used_bytes", "host_memory_percent")

# Host-wide cumulative byte counters: psutil reader -> {field: key}.
_COUNTERS: dict[str, dict[str, str]] = {
    "disk_io_counters": {"read_bytes": "host_disk_read_bytes", "write_bytes": "host_disk_write_bytes"},
    "net_io_counters": {"bytes_sent": "host_net_sent_bytes", "bytes_recv": "host_net_received_bytes"},
}


class ProcessSampler:
    """Reads cumulative counters (CPU seconds, bytes) and current gauges (memory) in well under a millisecond.

    Counters rather than percentages: the difference of two reads gives the CPU share or the bytes of any
    window (two samples, or an epoch's start and end), and no state is kept between reads; psutil's own
    cpu_percent() keeps module state that user code calling it would disturb.
    """

    def __init__(self) -> None:
        self._proc = psutil.Process()

    def read(self) -> dict[str, float]:
        """Keys: process_cpu_seconds (user + system, this process only), process_memory_rss_bytes,
        host_cpu_busy_seconds and host_cpu_seconds (all cores), host_memory_used_bytes, host_memory_percent,
        and when the host exposes them host_disk_read_bytes, host_disk_write_bytes, host_net_sent_bytes,
        host_net_received_bytes."""
        busy, total = _busy_total(psutil.cpu_times())
        memory = psutil.virtual_memory()
        return {
            "process_cpu_seconds": process_cpu_seconds(),
            "process_memory_rss_bytes": self._proc.memory_info().rss,
            "host_cpu_busy_seconds": busy,
            "host_cpu_seconds": total,
            "host_memory_used_bytes": memory.used,
            "host_memory_percent": memory.percent,
            **_read_counters(),
        }


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process's threads (not its children): one system call, no file
    read, so that it can be read at every phase boundary; the same clock ticks psutil reads from /proc."""
    times = os.times()
    return times.user + times.system


def _busy_total(times: Any) -> tuple[float, float]:
    """Same accounting as psutil: guest time is already inside user time, idle and iowait are not busy."""
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def _read_counters() -> dict[str, int]:
    """psutil returns None (no disks/NICs) or raises on some kernels/containers: skip those keys."""
    values: dict[str, int] = {}
    for reader, fields in _COUNTERS.items():
        try:
            snapshot = getattr(psutil, reader)()
        except (OSError, RuntimeError, psutil.Error):
            snapshot = None
        if snapshot is not None:
            values.update({key: getattr(snapshot, field) for field, key in fields.items()})
    return values
