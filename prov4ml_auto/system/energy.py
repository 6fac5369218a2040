"""Energy of a job from hardware counters (RAPL for CPU/DRAM, NVML for GPUs).

Readings are cumulative and only their differences (delta) mean anything, so
energy can be attributed to an epoch or to the whole run. Measurements and
estimates use different keys: an estimate is only made when asked for and
when no CPU counter exists, and is always labelled as such.
"""

from __future__ import annotations

import os

import psutil

from .nvml import Nvml
from .rapl import RaplReader

# Fallback TDP for an unknown CPU; the same default CodeCarbon uses.
DEFAULT_CPU_TDP_WATTS = 85.0
ESTIMATE_METHOD = "estimate: tdp * cpu share"
MEASURED_KEYS = ("cpu_energy_joules", "dram_energy_joules", "gpu_energy_joules")
ESTIMATE_KEY = "cpu_energy_estimate_joules"
_JOULES_PER_KWH = 3.6e6


class EnergyMeter:
    """Cumulative CPU, DRAM and GPU energy of this job.

    With estimate=True and no RAPL, CPU energy is estimated as
    cpu_tdp_watts * (this process's CPU seconds, plus its reaped children's,
    / logical cores) under ESTIMATE_KEY; live child processes (e.g. DataLoader
    workers) are counted only once they exit.
    GPU energy sums the driver's counters over the job's GPUs; NVML is only
    touched on the first read/describe so CUDA_VISIBLE_DEVICES set by the
    training script is honoured.
    """

    def __init__(
        self,
        estimate: bool = False,
        cpu_tdp_watts: float | None = None,
        rapl: RaplReader | None = None,
        nvml: Nvml | None = None,
    ) -> None:
        self._rapl = rapl if rapl is not None else RaplReader()
        self._nvml = nvml if nvml is not None else Nvml()
        self._estimate = estimate and not self._rapl.available
        self._tdp_given = cpu_tdp_watts is not None
        self._tdp = cpu_tdp_watts if cpu_tdp_watts is not None else DEFAULT_CPU_TDP_WATTS
        self._cores = psutil.cpu_count(logical=True) or 1
        self._gpu_uuids: frozenset[str] | None = None

    def read(self) -> dict[str, float]:
        """Cumulative joules: cpu_energy_joules, dram_energy_joules, gpu_energy_joules and (estimate mode)
        cpu_energy_estimate_joules, each where available."""
        values = {
            "cpu_energy_joules": self._rapl.read_joules(),
            "dram_energy_joules": self._rapl.read_dram_joules(),
            "gpu_energy_joules": self._gpu_joules(),
            ESTIMATE_KEY: self._estimated_cpu_joules() if self._estimate else None,
        }
        return {k: v for k, v in values.items() if v is not None}

    def describe(self) -> dict[str, str | float]:
        """How each source is obtained: a measurement method, an estimate, or 'unavailable: <reason>'."""
        rapl_reason = self._rapl.unavailable_reason
        desc: dict[str, str | float] = {
            "cpu_energy_method": "rapl-powercap" if not rapl_reason else f"unavailable: {rapl_reason}",
            "dram_energy_method": "rapl-powercap"
            if self._rapl.available and self._rapl.dram
            else f"unavailable: {rapl_reason or 'no dram RAPL subzone'}",
            "gpu_energy_method": self._gpu_method(),
        }
        if self._estimate:
            desc.update(
                cpu_energy_method=ESTIMATE_METHOD,
                cpu_energy_measurement=f"unavailable: {rapl_reason}",
                cpu_tdp_watts=self._tdp,
                cpu_tdp_source="given" if self._tdp_given else "default for unknown CPU",
                cpu_share="process cpu seconds / logical cores",
            )
        return desc

    @staticmethod
    def delta(start: dict[str, float], end: dict[str, float], carbon_intensity: float = 0.0) -> dict[str, float]:
        """Joules spent between two readings, per source present in both, and energy_joules: the sum of the
        measured sources only, so that an estimate never passes for a measurement. With a grid intensity
        (gCO2e/kWh) given, carbon_grams from the measurement and carbon_estimate_grams from measurement plus
        estimate (only when there is an estimate)."""
        out = {key: round(max(0.0, end[key] - start[key]), 6)  # a reset counter must not give negative energy
               for key in (*MEASURED_KEYS, ESTIMATE_KEY) if key in start and key in end}
        measured = [out[key] for key in MEASURED_KEYS if key in out]
        if measured:
            out["energy_joules"] = sum(measured)
        if carbon_intensity and measured:
            out["carbon_grams"] = carbon_grams(out["energy_joules"], carbon_intensity)
        if carbon_intensity and ESTIMATE_KEY in out:
            out["carbon_estimate_grams"] = carbon_grams(sum(measured) + out[ESTIMATE_KEY], carbon_intensity)
        return out

    def _gpu_joules(self) -> float | None:
        """Sum over the job's GPUs; None if a GPU that answered the first time is missing now."""
        counters = self._nvml.energy_joules()
        if self._gpu_uuids is None:
            self._gpu_uuids = frozenset(counters)
        return sum(counters.values()) if counters and frozenset(counters) == self._gpu_uuids else None

    def _gpu_method(self) -> str:
        if not self._nvml.available:
            return f"unavailable: {self._nvml.unavailable_reason}"
        counted = self._nvml.energy_joules()
        if not counted:
            return "unavailable: NVML total energy counter not supported on the job's GPUs"
        missing = [d["uuid"] for d in self._nvml.devices() if d["uuid"] not in counted]
        return "nvml-total-energy-counter" + (f" (not supported on {', '.join(missing)})" if missing else "")

    def _estimated_cpu_joules(self) -> float:
        t = os.times()  # a system call, not a /proc read: energy is read at every phase boundary
        cpu_seconds = t.user + t.system + t.children_user + t.children_system
        return self._tdp * cpu_seconds / self._cores


def carbon_grams(joules: float, intensity_g_per_kwh: float) -> float:
    """CO2-equivalent grams for an amount of energy at a grid intensity in gCO2e/kWh."""
    return joules / _JOULES_PER_KWH * intensity_g_per_kwh
