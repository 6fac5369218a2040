"""CPU package (and DRAM) energy from the Linux powercap RAPL counters.

The counters are cumulative microjoules that wrap at max_energy_range_uj, so
they must be read more often than one wrap period (minutes to hours at full
load); the collector's periodic sampling provides that.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

_PACKAGE_ZONE = re.compile(r"intel-rapl:\d+")  # AMD CPUs are exposed under the same name

NO_ZONES = "no powercap/RAPL zones (VM or non-Intel/AMD CPU)"
PERMISSION_DENIED = "permission denied reading energy_uj (needs root or a udev rule)"


class _Zone:
    """One energy counter, accumulated across wraparounds since construction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._max_uj = int((path / "max_energy_range_uj").read_text())
        self._last_uj = self._read_uj()
        self._total_uj = 0

    def _read_uj(self) -> int:
        return int((self.path / "energy_uj").read_text())

    def joules(self) -> float:
        now = self._read_uj()
        delta = now - self._last_uj
        self._total_uj += delta if delta >= 0 else delta + self._max_uj
        self._last_uj = now
        return self._total_uj / 1e6


class RaplReader:
    """Cumulative energy of all CPU packages (and, separately, their DRAM subzones).

    Availability is decided once, at construction; a later read error (e.g. a
    zone disappearing) makes the read return None instead of raising.
    """

    def __init__(self, root: str | Path = "/sys/class/powercap") -> None:
        self._lock = threading.Lock()
        self.packages: list[_Zone] = []
        self.dram: list[_Zone] = []
        self.unavailable_reason = ""
        try:
            package_dirs = _package_dirs(Path(root))
            self.packages = [_Zone(d) for d in package_dirs]
            self.dram = [_Zone(s) for d in package_dirs for s in _subzones(d, "dram")]
        except PermissionError:
            self.unavailable_reason = PERMISSION_DENIED
        except (OSError, ValueError) as exc:
            self.unavailable_reason = f"cannot read RAPL counters: {exc}"
        if not self.packages and not self.unavailable_reason:
            self.unavailable_reason = NO_ZONES

    @property
    def available(self) -> bool:
        return not self.unavailable_reason

    def read_joules(self) -> float | None:
        """Joules used by all CPU packages since construction, or None if unavailable."""
        return self._sum(self.packages)

    def read_dram_joules(self) -> float | None:
        """Joules used by DRAM since construction, or None when no dram subzone is readable."""
        return self._sum(self.dram)

    def _sum(self, zones: list[_Zone]) -> float | None:
        if not zones or not self.available:
            return None
        with self._lock:
            try:
                return sum(z.joules() for z in zones)
            except (OSError, ValueError):
                return None


def _package_dirs(root: Path) -> list[Path]:
    """Top-level intel-rapl:N zones named package-*; 'psys' zones would double count."""
    if not root.is_dir():
        return []
    zones = [d for d in sorted(root.iterdir()) if _PACKAGE_ZONE.fullmatch(d.name)]
    return [d for d in zones if _zone_name(d).startswith("package")]


def _subzones(package: Path, name: str) -> list[Path]:
    return [d for d in sorted(package.glob(f"{package.name}:*")) if _zone_name(d) == name]


def _zone_name(zone: Path) -> str:
    try:
        return (zone / "name").read_text().strip()
    except OSError:
        return ""
