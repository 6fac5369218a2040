"""System and energy metrics in the run's document: sample series, per-activity summaries, run totals, host facts.

Runs on the collector only, as one periodic task and one phase watcher; psutil and NVML are imported and
initialised on the collector's first pass, never at interpreter start.

A reading holds cumulative counters (CPU seconds, bytes, joules) and gauges (memory, GPU load; their keys are
series names, with a dot). Samples, taken at the first pass, every PROV4ML_SYSTEM_INTERVAL seconds and at the
final pass, read everything and become the series. At phase boundaries only the energy counters and this
process's CPU time are read (a few microseconds; a whole sample is about 0.3 ms of /proc reads, which in a job
of short epochs was the collector's largest recurring cost). A counter's value at a boundary's own time is
interpolated between the reads around it (events reach the collector up to a tick late), so the energy and
CPU share of an epoch cover the epoch's span; host-wide counters (host CPU, disk, network) are totalled for
the run only. The gauges give each activity the mean and max of the samples taken while it was open.
"""

from __future__ import annotations

import collections
import functools
import time
from typing import TYPE_CHECKING, Any, Mapping

from prov4ml_auto import collector, faults
from prov4ml_auto.config import Config
from prov4ml_auto.recorder import RUN, Phase, Recorder
from prov4ml_auto.series import Aggregate

if TYPE_CHECKING:
    from prov4ml_auto.system.energy import EnergyMeter
    from prov4ml_auto.system.nvml import Nvml
    from prov4ml_auto.system.sampler import ProcessSampler

Reading = dict[str, float]

_MIN_RATE_SECONDS = 0.1  # CPU times tick every 10 ms: a shorter window gives no meaningful percentage
_UPKEEP_SECONDS = 60.0  # counters are read at least this often, so that no RAPL wraparound is missed
_KEPT_READINGS = 16  # a drain adds at most one boundary reading: the few latest bracket every queued event
_IMPORT_TRIES = 25  # passes (a few seconds) that a module not found yet may still appear

# Series computed from two readings: name -> (counter, denominator counter or None for seconds, scale).
_RATES: dict[str, tuple[str, str | None, float]] = {
    "system.process_cpu_percent": ("process_cpu_seconds", None, 100.0),
    "system.host_cpu_percent": ("host_cpu_busy_seconds", "host_cpu_seconds", 100.0),
    "system.cpu_power_watts": ("cpu_energy_joules", None, 1.0),
    "system.dram_power_watts": ("dram_energy_joules", None, 1.0),
}
# Host-wide byte counters: series hold the bytes since the previous sample, activities the bytes during them.
_DELTAS = ("host_disk_read_bytes", "host_disk_write_bytes", "host_net_sent_bytes", "host_net_received_bytes")

PER_PROCESS = ("process* (CPU, memory): this process, not its child processes; gpuN.process_memory_bytes: this "
               "process's memory on GPU N; cpuEnergyEstimateJoules: this process and its exited children")
PER_DEVICE = ("host*: the whole machine, shared with every job on it; cpuEnergyJoules, dramEnergyJoules, "
              "cpu/dram power: whole CPU packages (RAPL); gpuN.* except process_memory_bytes, and "
              "gpuEnergyJoules: whole GPUs, shared with any other process on them (ranks of one job that see "
              "the same GPUs each count them)")
ATTRIBUTION = ("energy and process CPU: counter differences between an activity's start and end, read at every "
               "sample and phase boundary and interpolated linearly to the boundary's time; host-wide counters "
               "(host CPU, disk, network): run totals only, and per-sample series; gauges: the samples taken "
               "while an activity was open and the one before it; run totals span the agent's first to last "
               "reading")


def install(recorder: Recorder, config: Config) -> None:
    """Called once by the agent at start: registers the collector task and the phase watcher (nothing more,
    so that nothing heavy runs at interpreter start). PROV4ML_DISABLE=system leaves it all off."""
    if not config.integration_enabled("system"):
        return
    recording = SystemRecording(recorder, config.system_interval, config.energy_estimate,  # type: ignore[attr-defined]
                                config.carbon_intensity)  # type: ignore[attr-defined]
    collector.periodic.insert(0, recording.tick)  # first, so that the start sample is not behind other tasks
    recorder.phase_watchers.append(recording.watch)


class _Probes:
    """psutil, RAPL and NVML readers, built on the collector thread: this is where psutil is first imported."""

    def __init__(self, estimate: bool) -> None:
        from prov4ml_auto.system.energy import EnergyMeter
        from prov4ml_auto.system.nvml import Nvml
        from prov4ml_auto.system.sampler import GAUGES, ProcessSampler, process_cpu_seconds

        self.nvml: Nvml = Nvml()
        self.energy: EnergyMeter = EnergyMeter(estimate, nvml=self.nvml)
        self.process: ProcessSampler = ProcessSampler()
        self.gauges = GAUGES
        self.process_cpu_seconds = process_cpu_seconds

    def read(self, gpus: bool) -> Reading:
        """Every counter and host gauge (about 0.3 ms); ``gpus`` adds the GPU gauges (a few NVML calls per GPU)."""
        reading = self.read_counters()
        for key, value in self.process.read().items():
            reading[f"system.{key}" if key in self.gauges else key] = value
        if gpus:
            for number, sample in enumerate(self.nvml.sample()):
                reading.update({f"gpu{number}.{key}": value for key, value in sample.items()})
        return reading

    def read_counters(self) -> Reading:
        """The counters attributed at phase boundaries: energy and this process's CPU seconds (no file read
        but RAPL's). Stamped with the middle of the energy read: joules are what is attributed most finely."""
        before = time.time()
        energy = self.energy.read()
        return {"time": (before + time.time()) / 2, **energy, "process_cpu_seconds": self.process_cpu_seconds()}

    def facts(self) -> dict[str, Any]:
        """Host facts, GPU facts and the energy methods, for the environment entity."""
        from prov4ml_auto.system.host import host_facts

        facts = {_camel(key): value for key, value in host_facts().items()}
        devices = self.nvml.devices()
        facts["gpuCount"] = len(devices)
        facts["gpuMonitoring"] = "nvml" if devices else f"unavailable: {self.nvml.unavailable_reason}"
        for number, device in enumerate(devices):
            facts.update({_camel(f"gpu{number}_{key}"): value for key, value in device.items()})
        facts.update({_camel(key): value for key, value in self.energy.describe().items()})
        return facts


class _Window:
    """An activity's share of the readings: the counters at its start, the gauges and rates seen since."""

    def __init__(self, start: Reading) -> None:
        self.start = start
        self.values: dict[str, Aggregate] = {}

    def feed(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.values.setdefault(name, Aggregate()).extend((value,))

    def summary(self, end: Reading) -> dict[str, Any]:
        """Max of every series seen; mean of the gauges, and of the rates from the counters (exact, where a
        mean of samples would weigh unequal windows equally); bytes moved. Energy is added by the caller."""
        out: dict[str, Any] = {}
        for name, aggregate in self.values.items():
            out[_camel(name) + "Max"] = aggregate.high
            if name not in _RATES and aggregate.finite:
                out[_camel(name) + "Mean"] = round(aggregate.total / aggregate.finite, 3)
        out.update({_camel(name) + "Mean": value for name, value in _rates(self.start, end).items()})
        out.update({_camel(key): value for key, value in _deltas(self.start, end).items()})
        return out


class SystemRecording:
    """Samples, windows and totals of one run. Any failure of a probe stops it, said once in the document."""

    def __init__(self, recorder: Recorder, interval: float, estimate: bool, carbon_intensity: float) -> None:
        self.recorder = recorder
        self.interval = interval
        self.estimate = estimate
        self.carbon_intensity = carbon_intensity
        self.probes: _Probes | None = None
        self.readings: collections.deque[Reading] = collections.deque(maxlen=_KEPT_READINGS)
        self.last_full: Reading = {}  # the latest sample (or, with no interval, the first or final reading)
        self.windows: dict[str, _Window] = {}
        self.energy_method = ""
        self.stopped = False
        self.import_tries = 0

    # --- collector task and phase watcher ------------------------------------------------------------
    def tick(self, recorder: Recorder, now: float, final: bool) -> None:
        """A sample at the first pass, every interval and at the final pass; run totals at the final pass."""
        if self.stopped:
            return
        try:
            self._tick(now, final)
        except Exception as exc:
            self._failed(exc, final)

    def watch(self, phase: Phase, time: float, ending: bool) -> dict[str, Any]:
        """Open a window when a phase begins; its summary when it ends."""
        if self.stopped:
            return {}
        try:
            return self._watch(phase.ident, time, ending)
        except Exception as exc:
            self._failed(exc, False)
            return {}

    def _tick(self, now: float, final: bool) -> None:
        if self.probes is None:
            self._open()
        elif self.interval and (final or now - self.last_full["time"] >= self.interval):
            self._sample()
        elif final:
            self._read(full=True)  # no samples: the run's host totals still need a full reading at the end
        elif now - self.readings[-1]["time"] >= _UPKEEP_SECONDS:
            self._read(full=False)
        if final:
            self.recorder.update_run(self._close(RUN, self.readings[-1]["time"]))

    def _watch(self, key: str, time: float, ending: bool) -> dict[str, Any]:
        if self.probes is None:
            self._open()
        if self.readings[-1]["time"] < time:
            self._read(full=False)
        if not ending:
            self._begin(key, time)
            return {}
        return self._close(key, time) if key in self.windows else {}

    # --- readings ------------------------------------------------------------------------------------
    def _open(self) -> None:
        """First use: the probes, the environment's facts and statements, the first reading, the run's window."""
        self.probes = _Probes(self.estimate)
        facts = self.probes.facts()
        self.energy_method = _energy_method(facts)
        statements = {"systemSampleIntervalSeconds": self.interval, "systemMetricsPerProcess": PER_PROCESS,
                      "systemMetricsPerDevice": PER_DEVICE, "energyAttribution": ATTRIBUTION,
                      "carbonIntensityGramsPerKwh": self.carbon_intensity or None}
        self.recorder.environment({**facts, **statements})
        first = self._sample() if self.interval else self._read(full=True)
        self._begin(RUN, first["time"])

    def _read(self, full: bool, gpus: bool = False) -> Reading:
        """``full``: every counter and gauge, whose gauges count for the open windows; otherwise the
        boundary counters only."""
        assert self.probes is not None
        reading = self.probes.read(gpus) if full else self.probes.read_counters()
        self.readings.append(reading)
        if full:
            self.last_full = reading
            gauges = _gauges(reading)
            for window in self.windows.values():
                window.feed(gauges)
        return reading

    def _sample(self) -> Reading:
        """A full reading, written to the series; its rates also count for the open windows' maxima."""
        previous, reading = self.last_full, self._read(full=True, gpus=True)
        rates = _rates(previous, reading) if previous else {}
        deltas = {f"system.{key}": value for key, value in _deltas(previous, reading).items()} if previous else {}
        for name, value in {**_gauges(reading), **rates, **deltas}.items():
            self.recorder.metric(name, value, reading["time"], per_phase=False)
        for window in self.windows.values():
            window.feed(rates)
        return reading

    # --- windows -------------------------------------------------------------------------------------
    def _begin(self, key: str, time: float) -> None:
        """Host-wide counters are totalled for the run only: a phase's boundaries read just its own counters."""
        start = _interpolate(self.readings, time)
        if key != RUN:
            start = {name: value for name, value in start.items() if not name.startswith("host_")}
        window = self.windows[key] = _Window(start)
        window.feed(_gauges(self.last_full))

    def _close(self, key: str, time: float) -> dict[str, Any]:
        assert self.probes is not None
        end = _interpolate(self.readings, time)
        window = self.windows.pop(key)
        energy = self.probes.energy.delta(window.start, end, self.carbon_intensity)
        return {**window.summary(end), **{_camel(key): value for key, value in energy.items()},
                "energyMethod": self.energy_method}

    def _failed(self, exc: Exception, final: bool) -> None:
        """A probe that failed once would fail at every pass: say so once, in the document, and stop. Except
        a module not found yet, for a few seconds: started from a .pth file, the agent may look for psutil
        before site's later .pth files or directories have put it on sys.path (prov4ml-auto installed with
        ``pip install --user``, psutil in the system's site-packages)."""
        if isinstance(exc, ImportError) and self.probes is None and not final and self.import_tries < _IMPORT_TRIES:
            self.import_tries += 1
            return
        self._stop(exc)

    def _stop(self, exc: Exception) -> None:
        self.stopped = True
        faults.caught("system", exc, reraise=False)
        self.recorder.environment({"systemMetrics": f"stopped: {type(exc).__name__}: {exc}"[:500]})


def _gauges(reading: Reading) -> Reading:
    return {key: value for key, value in reading.items() if "." in key}


def _interpolate(readings: collections.deque[Reading], at: float) -> Reading:
    """The counters at time ``at``: linear between the last reading at or before it and the first at or after
    it (clamped to the readings' span, which is then the time returned)."""
    after = next((r for r in readings if r["time"] >= at), readings[-1])
    before = next((r for r in reversed(readings) if r["time"] <= at), readings[0])
    span = after["time"] - before["time"]
    share = (at - before["time"]) / span if span > 0 else 1.0
    counters = {key: before[key] + share * (after[key] - before[key])
                for key in after if key in before and key != "time" and "." not in key}
    return {"time": min(max(at, before["time"]), after["time"]), **counters}


def _rates(start: Reading, end: Reading) -> dict[str, float]:
    seconds = end["time"] - start["time"]
    if seconds < _MIN_RATE_SECONDS:
        return {}
    out = {}
    for name, (counter, per, scale) in _RATES.items():
        span = seconds if per is None else end.get(per, 0.0) - start.get(per, 0.0)
        if counter in start and counter in end and span > 0:
            out[name] = round(scale * max(0.0, end[counter] - start[counter]) / span, 3)
    return out


def _deltas(start: Reading, end: Reading) -> dict[str, int]:
    """Bytes between two readings; a counter that went back (a NIC reset) gives 0, not a negative."""
    return {key: round(max(0.0, end[key] - start[key])) for key in _DELTAS if key in start and key in end}


def _energy_method(facts: Mapping[str, Any]) -> str:
    """What energyJoules (and an estimate) rest on, for every activity: the usable sources and their methods."""
    methods = {source: str(facts[f"{source}EnergyMethod"]) for source in ("cpu", "dram", "gpu")}
    used = [f"{source}: {method}" for source, method in methods.items() if not method.startswith("unavailable")]
    return "; ".join(used) or "unavailable (reasons on the environment entity)"


@functools.lru_cache(maxsize=1024)  # the same few dozen names at every phase boundary
def _camel(name: str) -> str:
    """Series or probe key to attribute name: system.process_cpu_percent -> processCpuPercent,
    gpu0.power_watts -> gpu0PowerWatts, cpu_energy_joules -> cpuEnergyJoules."""
    words = name.removeprefix("system.").replace(".", "_").split("_")
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])
