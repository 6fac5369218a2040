"""Tests for prov4ml_auto.system: real samples of this process, fake sysfs trees, fake NVML."""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path

import pytest

from prov4ml_auto.system import nvml as nvml_module
from prov4ml_auto.system.energy import EnergyMeter, carbon_grams
from prov4ml_auto.system.host import host_facts
from prov4ml_auto.system.nvml import Nvml, select_visible
from prov4ml_auto.system.rapl import RaplReader
from prov4ml_auto.system.sampler import GAUGES, ProcessSampler
from prov4ml_auto.system.rapl import NO_ZONES, PERMISSION_DENIED

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- ProcessSampler -------------------------------------------------------------------------

COUNTER_KEYS = {"host_disk_read_bytes", "host_disk_write_bytes", "host_net_sent_bytes", "host_net_received_bytes"}
ALWAYS = {"process_cpu_seconds", "host_cpu_busy_seconds", "host_cpu_seconds", *GAUGES}


def test_sampler_counts_a_busy_interval():
    sampler = ProcessSampler()
    first = sampler.read()
    _busy(0.3)
    second = sampler.read()
    for reading in (first, second):
        assert ALWAYS <= reading.keys() and set(reading) - ALWAYS <= COUNTER_KEYS
        assert reading["process_memory_rss_bytes"] > 0 and reading["host_memory_used_bytes"] > 0
        assert 0 <= reading["host_memory_percent"] <= 100
        assert 0 <= reading["host_cpu_busy_seconds"] <= reading["host_cpu_seconds"]
    assert all(second[k] >= first[k] for k in ALWAYS - set(GAUGES))
    assert second["process_cpu_seconds"] - first["process_cpu_seconds"] > 0.1
    assert second["host_cpu_busy_seconds"] > first["host_cpu_busy_seconds"]


def test_sampler_omits_unavailable_counters(monkeypatch):
    def broken():
        raise RuntimeError("couldn't find any physical disk")

    monkeypatch.setattr("psutil.disk_io_counters", broken)
    monkeypatch.setattr("psutil.net_io_counters", lambda: None)
    assert not COUNTER_KEYS & ProcessSampler().read().keys()


def test_sampler_is_cheap():
    sampler = ProcessSampler()
    start = time.perf_counter()
    for _ in range(50):
        sampler.read()
    assert (time.perf_counter() - start) / 50 < 0.002


# --- host_facts -----------------------------------------------------------------------------


def test_host_facts_on_this_machine():
    facts = host_facts()
    assert facts["cpu_cores_logical"] >= 1
    assert facts["memory_total_bytes"] > 0
    assert facts.get("cpu_cores_physical", 1) >= 1
    assert all(isinstance(v, (int, float, str)) for v in facts.values())


def test_host_facts_cgroup_v2(tmp_path):
    root = _write(
        tmp_path, {"cgroup.controllers": "cpu memory", "cpu.max": "150000 100000", "memory.max": "4294967296"}
    )
    facts = host_facts(root, tmp_path / "no-proc-file")
    assert facts["cgroup_version"] == 2
    assert facts["cgroup_cpu_limit_cores"] == 1.5
    assert facts["cgroup_memory_limit_bytes"] == 4294967296


def test_host_facts_cgroup_v2_unlimited(tmp_path):
    root = _write(tmp_path, {"cgroup.controllers": "cpu", "cpu.max": "max 100000", "memory.max": "max"})
    facts = host_facts(root, tmp_path / "no-proc-file")
    assert facts["cgroup_version"] == 2
    assert "cgroup_cpu_limit_cores" not in facts
    assert "cgroup_memory_limit_bytes" not in facts


def test_host_facts_cgroup_v2_tightest_ancestor_wins(tmp_path):
    root = _write(
        tmp_path / "fs",
        {
            "cgroup.controllers": "cpu memory",
            "job/cpu.max": "200000 100000",
            "job/step/cpu.max": "max 100000",
            "job/step/memory.max": "1000",
        },
    )
    proc = _write(tmp_path, {"cgroup": "0::/job/step\n"}) / "cgroup"
    facts = host_facts(root, proc)
    assert facts["cgroup_cpu_limit_cores"] == 2.0
    assert facts["cgroup_memory_limit_bytes"] == 1000


def test_host_facts_cgroup_v1(tmp_path):
    root = _write(
        tmp_path,
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "150000",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "2147483648",
        },
    )
    facts = host_facts(root, tmp_path / "no-proc-file")
    assert facts["cgroup_version"] == 1
    assert facts["cgroup_cpu_limit_cores"] == 1.5
    assert facts["cgroup_memory_limit_bytes"] == 2147483648


def test_host_facts_cgroup_v1_unlimited(tmp_path):
    root = _write(
        tmp_path,
        {
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "9223372036854771712",
        },
    )
    facts = host_facts(root, tmp_path / "no-proc-file")
    assert facts["cgroup_version"] == 1
    assert "cgroup_cpu_limit_cores" not in facts
    assert "cgroup_memory_limit_bytes" not in facts


def test_host_facts_without_cgroup_fs(tmp_path):
    facts = host_facts(tmp_path / "missing", tmp_path / "no-proc-file")
    assert not any(k.startswith("cgroup") for k in facts)


# --- RAPL -----------------------------------------------------------------------------------

MAX_UJ = 1_000_000


def _zone(name: str, energy_uj: int) -> dict[str, str]:
    return {"name": name, "energy_uj": str(energy_uj), "max_energy_range_uj": str(MAX_UJ)}


def _powercap(root: Path, zones: dict[str, dict[str, str]]) -> Path:
    return _write(root, {f"{zone}/{f}": text for zone, files in zones.items() for f, text in files.items()})


def test_rapl_two_packages_with_wraparound(tmp_path):
    root = _powercap(
        tmp_path,
        {
            "intel-rapl:0": _zone("package-0", 900_000),
            "intel-rapl:1": _zone("package-1", 100_000),
            "intel-rapl:0/intel-rapl:0:0": _zone("core", 5),
            "intel-rapl:0/intel-rapl:0:1": _zone("dram", 10_000),
            "intel-rapl:2": _zone("psys", 0),
            "intel-rapl-mmio:0": _zone("package-0", 0),
        },
    )
    rapl = RaplReader(root)
    assert rapl.available and rapl.unavailable_reason == ""
    assert rapl.read_joules() == 0
    (root / "intel-rapl:0/energy_uj").write_text("100000")  # wrapped: +200_000 uJ
    (root / "intel-rapl:1/energy_uj").write_text("400000")  # +300_000 uJ
    (root / "intel-rapl:0/intel-rapl:0:1/energy_uj").write_text("60000")
    assert rapl.read_joules() == pytest.approx(0.5)
    assert rapl.read_dram_joules() == pytest.approx(0.05)
    assert rapl.read_joules() == pytest.approx(0.5)  # cumulative, not a delta


def test_rapl_empty_tree_is_unavailable(tmp_path):
    rapl = RaplReader(tmp_path)
    assert not rapl.available
    assert rapl.unavailable_reason == NO_ZONES
    assert rapl.read_joules() is None and rapl.read_dram_joules() is None


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_rapl_permission_denied(tmp_path):
    root = _powercap(tmp_path, {"intel-rapl:0": _zone("package-0", 1)})
    (root / "intel-rapl:0/energy_uj").chmod(0)
    try:
        rapl = RaplReader(root)
        assert not rapl.available
        assert rapl.unavailable_reason == PERMISSION_DENIED
        assert rapl.read_joules() is None
    finally:
        (root / "intel-rapl:0/energy_uj").chmod(0o644)


def test_rapl_on_this_machine_is_consistent():
    rapl = RaplReader()
    assert rapl.available != bool(rapl.unavailable_reason)
    assert (rapl.read_joules() is not None) == rapl.available


# --- select_visible -------------------------------------------------------------------------

PHYSICAL = [
    (0, "GPU-abc11111"),
    (1, "GPU-def22222"),
    (2, "GPU-abd33333"),
    (2, "MIG-7777aaaa"),
    (2, "MIG-8888bbbb"),
]


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, [(0, "GPU-abc11111"), (1, "GPU-def22222"), (2, "GPU-abd33333")]),
        ("", []),
        ("1,0", [(1, "GPU-def22222"), (0, "GPU-abc11111")]),
        (" 2 , 0 ", [(2, "GPU-abd33333"), (0, "GPU-abc11111")]),
        ("GPU-abc", [(0, "GPU-abc11111")]),
        ("GPU-def22222,0", [(1, "GPU-def22222"), (0, "GPU-abc11111")]),
        ("GPU-ab", []),  # ambiguous prefix is invalid
        ("0,7,1", [(0, "GPU-abc11111")]),  # invalid index truncates
        ("1,foo,0", [(1, "GPU-def22222")]),
        ("-1", []),
        ("0,0", [(0, "GPU-abc11111")]),
        ("MIG-8888", [(2, "MIG-8888bbbb")]),
        ("MIG-7777aaaa,MIG-8888bbbb", [(2, "MIG-7777aaaa"), (2, "MIG-8888bbbb")]),
    ],
)
def test_select_visible(value, expected):
    assert select_visible(value, PHYSICAL) == expected


# --- Nvml -----------------------------------------------------------------------------------


@pytest.fixture
def fresh_nvml_state(monkeypatch):
    """Forget any NVML initialisation done by earlier tests."""
    monkeypatch.setattr(nvml_module, "_init_state", {"done": False, "module": None, "reason": ""})


class _NVMLError(Exception):
    pass


def _fake_pynvml(init_error: str | None = None, gpus: int = 0) -> tuple[types.ModuleType, list[int]]:
    """A pynvml stand-in with `gpus` devices; GPU 1 fails power and energy queries and
    GPU 0 is in MIG mode with one instance (handle 100) in slot 0 of 2."""
    calls: list[int] = []
    m = types.ModuleType("pynvml")
    m.NVML_TEMPERATURE_GPU, m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM, m.NVML_DEVICE_MIG_ENABLE = 0, 1, 2, 1

    def fail(message):
        raise _NVMLError(message)

    def init():
        calls.append(1)
        if init_error:
            fail(init_error)

    def failing_on_1(value):
        def call(h):
            if h == 1:
                raise _NVMLError("Not Supported")
            return value

        return call

    ns = types.SimpleNamespace
    m.nvmlInit = init
    m.nvmlDeviceGetCount = lambda: gpus
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetUUID = lambda h: f"GPU-{h}000" if h < 100 else f"MIG-{h}"
    m.nvmlDeviceGetMigMode = lambda h: [1, 1] if h == 0 else [0, 0]
    m.nvmlDeviceGetMaxMigDeviceCount = lambda h: 2
    m.nvmlDeviceGetMigDeviceHandleByIndex = lambda h, slot: 100 if slot == 0 else fail("Not Found")
    m.nvmlDeviceGetName = lambda h: b"Fake H100"
    m.nvmlDeviceGetMemoryInfo = lambda h: ns(total=80 * 2**30, used=2**30, free=0)
    m.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    m.nvmlSystemGetCudaDriverVersion_v2 = lambda: 12040
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000
    m.nvmlDeviceGetUtilizationRates = lambda h: ns(gpu=90, memory=40)
    m.nvmlDeviceGetPowerUsage = failing_on_1(350_000)
    m.nvmlDeviceGetTemperature = lambda h, sensor: 60
    m.nvmlDeviceGetClockInfo = lambda h, clock: 1980 if clock == 1 else 2619
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        ns(pid=os.getpid(), usedGpuMemory=512),
        ns(pid=-5, usedGpuMemory=99),
    ]
    m.nvmlDeviceGetTotalEnergyConsumption = failing_on_1(123_456)
    return m, calls


def test_nvml_on_this_machine_answers_consistently():
    gpu = Nvml()
    assert gpu.available != bool(gpu.unavailable_reason)
    if not gpu.available:
        reasons = ("nvidia-ml-py not installed", "NVML could not initialise", "no GPU", "no NVIDIA driver")
        assert gpu.unavailable_reason.startswith(reasons)
        assert gpu.devices() == [] and gpu.sample() == [] and gpu.energy_joules() == {}


def test_nvml_init_failure_attempted_once(monkeypatch, fresh_nvml_state):
    fake, calls = _fake_pynvml(init_error="NVML Shared Library Not Found")
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    first, second = Nvml(), Nvml()
    assert not first.available and not second.available
    assert first.unavailable_reason == "NVML could not initialise: NVML Shared Library Not Found"
    assert second.sample() == [] and second.devices() == []
    assert len(calls) == 1


def test_without_the_driver_library_pynvml_is_never_imported(monkeypatch, fresh_nvml_state):
    """Importing pynvml costs 15-50 ms; where NVIDIA's library does not load, NVML can only fail, so the
    import is skipped (and the reason says why)."""
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(nvml_module, "_LIBRARY", "libprov4ml-absent.so.0")
    gpu = Nvml()
    assert not gpu.available and gpu.unavailable_reason == "no NVIDIA driver (libprov4ml-absent.so.0 not found)"
    assert "pynvml" not in sys.modules


def test_nvml_not_installed(monkeypatch, fresh_nvml_state):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    gpu = Nvml()
    assert not gpu.available
    assert gpu.unavailable_reason == "nvidia-ml-py not installed"


def test_nvml_no_gpu(monkeypatch, fresh_nvml_state):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(gpus=0)[0])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpu = Nvml()
    assert not gpu.available and gpu.unavailable_reason == "no GPU"


def test_nvml_all_gpus_hidden(monkeypatch, fresh_nvml_state):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(gpus=2)[0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    gpu = Nvml()
    assert not gpu.available and gpu.unavailable_reason == "no GPU (CUDA_VISIBLE_DEVICES='-1')"


def test_nvml_reports_job_gpus_and_drops_failing_keys(monkeypatch, fresh_nvml_state):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(gpus=3)[0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,1")
    gpu = Nvml()
    assert gpu.available
    devices = gpu.devices()
    assert [d["physical_index"] for d in devices] == [2, 1]
    assert devices[0] == {
        "physical_index": 2,
        "uuid": "GPU-2000",
        "name": "Fake H100",
        "memory_total_bytes": 80 * 2**30,
        "driver_version": "550.54.15",
        "cuda_driver_version": "12.4",
        "power_limit_watts": 700.0,
    }
    on2, on1 = gpu.sample()
    assert on2["power_watts"] == 350.0 and "power_watts" not in on1
    assert on2["utilization_percent"] == 90 and on2["memory_utilization_percent"] == 40
    assert on2["memory_used_bytes"] == 2**30 and on2["temperature_c"] == 60
    assert (on2["sm_clock_mhz"], on2["memory_clock_mhz"]) == (1980, 2619)
    assert on2["process_memory_bytes"] == 512
    assert gpu.energy_joules() == {"GPU-2000": pytest.approx(123.456)}


def test_energy_meter_names_gpus_without_energy_counter(monkeypatch, fresh_nvml_state, tmp_path):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(gpus=3)[0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,1")
    meter = EnergyMeter(rapl=RaplReader(tmp_path), nvml=Nvml())
    assert meter.describe()["gpu_energy_method"] == "nvml-total-energy-counter (not supported on GPU-1000)"
    assert meter.read() == {"gpu_energy_joules": pytest.approx(123.456)}


@pytest.mark.parametrize(
    "visible, expected", [(None, ["GPU-0000", "GPU-1000", "GPU-2000"]), ("MIG-1", ["MIG-100"])]
)
def test_nvml_mig_instances(monkeypatch, fresh_nvml_state, visible, expected):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(gpus=3)[0])
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [d["uuid"] for d in Nvml().devices()] == expected


# --- EnergyMeter ----------------------------------------------------------------------------


class _NoGpu:
    available = False
    unavailable_reason = "no GPU"

    def energy_joules(self) -> dict[str, float]:
        return {}


def test_energy_meter_without_counters(tmp_path):
    meter = EnergyMeter(rapl=RaplReader(tmp_path), nvml=_NoGpu())
    desc = meter.describe()
    assert desc["cpu_energy_method"] == f"unavailable: {NO_ZONES}"
    assert desc["gpu_energy_method"] == "unavailable: no GPU"
    assert all(v.startswith("unavailable") for v in desc.values())
    assert meter.read() == {}
    assert EnergyMeter.delta({}, meter.read(), carbon_intensity=400.0) == {}


def test_energy_meter_on_this_machine_never_raises():
    meter = EnergyMeter()
    assert all(v >= 0 for v in meter.read().values())
    assert {"cpu_energy_method", "gpu_energy_method"} <= meter.describe().keys()


def test_energy_meter_estimate_is_labelled(tmp_path):
    meter = EnergyMeter(estimate=True, cpu_tdp_watts=100.0, rapl=RaplReader(tmp_path), nvml=_NoGpu())
    desc = meter.describe()
    assert desc["cpu_energy_method"] == "estimate: tdp * cpu share"
    assert desc["cpu_tdp_watts"] == 100.0
    start = meter.read()
    _busy(0.1)
    end = meter.read()
    assert "cpu_energy_joules" not in end  # never presented as a measurement
    delta = EnergyMeter.delta(start, end, carbon_intensity=400.0)
    assert delta["cpu_energy_estimate_joules"] > 0
    assert "energy_joules" not in delta and "carbon_grams" not in delta  # the measured total stays absent
    assert delta["carbon_estimate_grams"] == pytest.approx(carbon_grams(delta["cpu_energy_estimate_joules"], 400.0))


def test_energy_meter_prefers_rapl_over_estimate(tmp_path):
    root = _powercap(tmp_path, {"intel-rapl:0": _zone("package-0", 0)})
    meter = EnergyMeter(estimate=True, rapl=RaplReader(root), nvml=_NoGpu())
    assert meter.describe()["cpu_energy_method"] == "rapl-powercap"
    start = meter.read()
    (root / "intel-rapl:0/energy_uj").write_text("800000")
    delta = EnergyMeter.delta(start, meter.read(), carbon_intensity=3.6e6)
    assert delta["cpu_energy_joules"] == delta["energy_joules"] == pytest.approx(0.8)
    assert delta["carbon_grams"] == pytest.approx(0.8)
    assert "cpu_energy_estimate_joules" not in delta and "carbon_estimate_grams" not in delta


def test_carbon_grams():
    assert carbon_grams(3.6e6, 400.0) == pytest.approx(400.0)
    assert carbon_grams(0.0, 400.0) == 0.0
