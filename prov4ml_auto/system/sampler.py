"""Periodic CPU, memory, disk and network samples of the training process and its host."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil

# System-wide cumulative counters turned into per-sample deltas: psutil reader -> {field: key}.
_COUNTERS: dict[str, dict[str, str]] = {
    "disk_io_counters": {"read_bytes": "disk_read_bytes", "write_bytes": "disk_write_bytes"},
    "net_io_counters": {"bytes_sent": "net_sent_bytes", "bytes_recv": "net_recv_bytes"},
}


class ProcessSampler:
    """Samples this process plus host-wide load.

    CPU percentages cover the time since the previous sample (or construction),
    like psutil's interval=None, but the system figure is computed from this
    object's own state: psutil.cpu_percent() keeps per-thread module state that
    user code calling it would disturb. Safe to call from several threads.
    """

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)
        self._last_cpu_times = psutil.cpu_times()
        self._last_counters: dict[str, int] | None = None
        self._lock = threading.Lock()

    def sample(self) -> dict[str, int | float]:
        """Return one sample; disk/net keys are byte deltas since the previous sample (first: 0).

        Keys: time, process_cpu_percent (100 = one core), system_cpu_percent (0-100),
        process_rss_bytes, system_memory_used_bytes, system_memory_percent, and when
        the host exposes them disk_read_bytes, disk_write_bytes, net_sent_bytes,
        net_recv_bytes (system-wide, not per process).
        """
        with self._lock:
            with self._proc.oneshot():
                out: dict[str, int | float] = {
                    "time": time.time(),
                    "process_cpu_percent": self._proc.cpu_percent(None),
                    "process_rss_bytes": self._proc.memory_info().rss,
                }
            out["system_cpu_percent"] = self._system_cpu_percent()
            mem = psutil.virtual_memory()
            out["system_memory_used_bytes"] = mem.used
            out["system_memory_percent"] = mem.percent
            out.update(self._counter_deltas())
        return out

    def _system_cpu_percent(self) -> float:
        now = psutil.cpu_times()
        busy, total = _busy_total(now)
        last_busy, last_total = _busy_total(self._last_cpu_times)
        self._last_cpu_times = now
        if total <= last_total:
            return 0.0
        return round(min(100.0, max(0.0, 100.0 * (busy - last_busy) / (total - last_total))), 1)

    def _counter_deltas(self) -> dict[str, int]:
        """Deltas of the counters readable now; a reset counter yields 0, not a negative."""
        current = _read_counters()
        previous = self._last_counters if self._last_counters is not None else current
        self._last_counters = current
        return {k: max(0, v - previous[k]) for k, v in current.items() if k in previous}


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
