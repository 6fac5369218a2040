"""System and energy metrics in the document: real CPU trainings and short jobs under the agent.

There is no GPU here: NVML is replaced, through PYTHONPATH, by a stand-in module (three GPUs whose energy
counter follows the clock at 250 W) or by one whose import fails, so the GPU paths, the CUDA_VISIBLE_DEVICES
mapping and the attribution arithmetic run end to end; torch and psutil are real.
"""

from __future__ import annotations

import _ctypes
import csv
import os
import subprocess
import time
from datetime import datetime

import pytest

from prov4ml_auto.document import Document
from prov4ml_auto.files import Hasher
from prov4ml_auto.recorder import Recorder
from prov4ml_auto.system.recording import SystemRecording
from helpers import PYTHON, ROOT, Run, attr, records_of_type, run_script

FAKE_WATTS = 250.0
FAKE_NVML = f'''
"""nvidia-ml-py stand-in: GPU-aaaa (physical 0) fails power and energy queries; every other GPU draws
{FAKE_WATTS} W, so that its energy counter (mJ) is the clock times that power."""
import os, time

NVML_TEMPERATURE_GPU, NVML_CLOCK_SM, NVML_CLOCK_MEM = 0, 1, 2
UUIDS = ["GPU-aaaa0000", "GPU-bbbb1111", "GPU-cccc2222"]


class NVMLError(Exception):
    pass


class Memory:
    total, used = 80 * 2**30, 2**30


class Utilization:
    gpu, memory = 90, 40


class Process:
    pid, usedGpuMemory = os.getpid(), 512 * 2**20


def nvmlInit():
    with open(os.environ["FAKE_NVML_LOG"], "a") as log:
        log.write("init\\n")


def _working(handle):
    if handle == 0:
        raise NVMLError("Not Supported")


def nvmlDeviceGetPowerUsage(handle):
    _working(handle)
    return int({FAKE_WATTS} * 1000)


def nvmlDeviceGetTotalEnergyConsumption(handle):
    _working(handle)
    return int(time.time() * {FAKE_WATTS} * 1000)


nvmlDeviceGetCount = lambda: 3
nvmlDeviceGetHandleByIndex = lambda index: index
nvmlDeviceGetUUID = lambda handle: UUIDS[handle]
nvmlDeviceGetName = lambda handle: "Fake GPU"
nvmlDeviceGetMemoryInfo = lambda handle: Memory
nvmlSystemGetDriverVersion = lambda: "550.54.15"
nvmlSystemGetCudaDriverVersion_v2 = lambda: 12040
nvmlDeviceGetUtilizationRates = lambda handle: Utilization
nvmlDeviceGetTemperature = lambda handle, sensor: 60
nvmlDeviceGetClockInfo = lambda handle, clock: 1980
nvmlDeviceGetComputeRunningProcesses = lambda handle: [Process]
'''
NO_NVML = 'raise ImportError("No module named pynvml")\n'
CPU_SERIES = {"system.process_cpu_percent", "system.process_memory_rss_bytes", "system.host_cpu_percent",
              "system.host_memory_used_bytes", "system.host_memory_percent"}


def _with_module(tmp_path, source: str) -> dict[str, str]:
    """Environment putting a pynvml module of ours first on the path, and a library that loads under NVML's
    name on the loader's path (the agent imports pynvml only where that library loads: a driver is there)."""
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "pynvml.py").write_text(source)
    (folder / "libnvidia-ml.so.1").symlink_to(_ctypes.__file__)  # any shared object loads
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    libraries = os.pathsep.join(p for p in (str(folder), os.environ.get("LD_LIBRARY_PATH", "")) if p)
    return {"PYTHONPATH": path, "LD_LIBRARY_PATH": libraries, "FAKE_NVML_LOG": str(tmp_path / "nvml.log")}


def _train(tmp_path, **env: str) -> tuple[Run, dict]:
    root = str(tmp_path / "runs")
    run = run_script("system_train.py", "--epochs", "2", "--batches", "24", root=root,
                     env={"PROV4ML_SYSTEM_INTERVAL": "0.2", **env})
    assert run.returncode == 0, run.stderr
    return run, run.document()


def _series(run: Run, name: str) -> list[dict[str, str]]:
    with open(os.path.join(run.folder, "prov.series", name + ".csv"), newline="") as handle:
        return list(csv.DictReader(handle))


def _series_names(run: Run) -> set[str]:
    folder = os.path.join(run.folder, "prov.series")
    return {name[:-4] for name in os.listdir(folder) if name.startswith(("system.", "gpu"))}


def _phases(document: dict) -> dict[str, dict]:
    return {**records_of_type(document, "activity", "prov4ml:Epoch"),
            **records_of_type(document, "activity", "prov4ml:Evaluation")}


def _seconds(record: dict) -> float:
    span = datetime.fromisoformat(record["prov:endTime"]) - datetime.fromisoformat(record["prov:startTime"])
    return span.total_seconds()


def _agent_lines_only(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert all(line.startswith(("prov4ml: recording", "prov4ml: wrote")) for line in lines), stderr


def test_training_with_gpus_records_series_aggregates_energy_and_carbon(tmp_path):
    """Series in side files, mean/max on every activity and the run, GPU energy attributed exactly to each
    activity's span, CUDA_VISIBLE_DEVICES mapped by UUID, NVML initialised once, carbon from the given
    intensity, and no estimate unless asked."""
    run, document = _train(tmp_path, **_with_module(tmp_path, FAKE_NVML), CUDA_VISIBLE_DEVICES="GPU-cccc,0",
                           PROV4ML_CARBON_INTENSITY="400")
    _agent_lines_only(run.stderr)
    assert (tmp_path / "nvml.log").read_text() == "init\n"
    environment = document["entity"]["run:environment"]
    assert attr(environment, "gpuCount") == 2
    assert (attr(environment, "gpu0Uuid"), attr(environment, "gpu0PhysicalIndex")) == ("GPU-cccc2222", 2)
    assert (attr(environment, "gpu1Uuid"), attr(environment, "gpu1PhysicalIndex")) == ("GPU-aaaa0000", 0)
    assert attr(environment, "gpu0CudaDriverVersion") == "12.4"
    assert attr(environment, "gpuEnergyMethod") == "nvml-total-energy-counter (not supported on GPU-aaaa0000)"
    assert attr(environment, "carbonIntensityGramsPerKwh") == 400.0
    assert attr(environment, "cpuCoresLogical") >= 1 and attr(environment, "memoryTotalBytes") > 0

    names = _series_names(run)
    assert CPU_SERIES | {"gpu0.power_watts", "gpu0.utilization_percent", "gpu1.memory_used_bytes"} <= names
    assert "gpu1.power_watts" not in names  # the failing query left out, nothing else lost
    rss = _series(run, "system.process_memory_rss_bytes")
    assert len(rss) >= 5 and {row["epoch"] for row in rss} >= {"0", "1"}
    assert all(float(row["value"]) == FAKE_WATTS for row in _series(run, "gpu0.power_watts"))

    phases = _phases(document)
    assert len(phases) == 4
    for ident, phase in phases.items():
        expected = FAKE_WATTS * _seconds(phase)
        assert attr(phase, "gpuEnergyJoules") == pytest.approx(expected, abs=1.0), ident
        assert attr(phase, "energyJoules") >= attr(phase, "gpuEnergyJoules")
        assert attr(phase, "carbonGrams") == pytest.approx(attr(phase, "energyJoules") / 3.6e6 * 400)
        assert attr(phase, "energyMethod").startswith(("cpu: rapl-powercap", "gpu: nvml-total-energy-counter"))
        assert attr(phase, "processMemoryRssBytesMax") >= attr(phase, "processMemoryRssBytesMean") > 0
    for epoch in records_of_type(document, "activity", "prov4ml:Epoch").values():
        assert 0 < attr(epoch, "processCpuPercentMean") <= 100 * attr(environment, "cpuCoresLogical") + 1
        assert attr(epoch, "processCpuPercentMax") > 0 and attr(epoch, "gpu0PowerWattsMax") == FAKE_WATTS

    total = document["activity"]["run:run"]
    host_totals = {"prov4ml:hostCpuPercentMean", "prov4ml:hostDiskReadBytes", "prov4ml:hostNetSentBytes"}
    assert {"prov4ml:hostCpuPercentMean"} <= host_totals & total.keys()  # disks and NICs: where the host has them
    assert all(not host_totals & phase.keys() for phase in phases.values())  # boundaries read no host counters
    assert attr(total, "gpuEnergyJoules") >= sum(attr(p, "gpuEnergyJoules") for p in phases.values())
    assert attr(total, "processCpuPercentMax") == max(float(r["value"]) for r in _series(run, "system.process_cpu_percent"))
    assert attr(total, "processMemoryRssBytesMax") >= max(float(row["value"]) for row in rss)
    entity = document["entity"]["run:series/gpu0.power_watts"]
    assert attr(entity, "value.max") == FAKE_WATTS
    assert not any("EnergyEstimate" in key for record in document["activity"].values() for key in record)


def test_training_without_nvml_says_so_once_and_labels_the_estimate(tmp_path):
    """No NVML library: one statement on the environment, no GPU series or attributes, no warnings; CPU energy
    measured by RAPL where readable, otherwise an estimate only because it was asked for, labelled as one."""
    run, document = _train(tmp_path, **_with_module(tmp_path, NO_NVML), PROV4ML_ENERGY_ESTIMATE="1")
    _agent_lines_only(run.stderr)
    environment = document["entity"]["run:environment"]
    assert attr(environment, "gpuMonitoring") == "unavailable: nvidia-ml-py not installed"
    assert attr(environment, "gpuCount") == 0
    assert not any(name.startswith("gpu") for name in _series_names(run))
    assert CPU_SERIES <= _series_names(run)
    activities = {**_phases(document), "run:run": document["activity"]["run:run"]}
    assert not any(key.startswith("prov4ml:gpu") for record in activities.values() for key in record)
    measured = attr(environment, "cpuEnergyMethod") == "rapl-powercap"
    for ident, record in activities.items():
        assert attr(record, "processMemoryRssBytesMax") > 0, ident
        if measured:
            assert attr(record, "cpuEnergyJoules") >= 0 and "prov4ml:cpuEnergyEstimateJoules" not in record
        else:
            assert attr(record, "cpuEnergyEstimateJoules") > 0, ident
            assert attr(record, "energyMethod") == "cpu: estimate: tdp * cpu share"
            assert "prov4ml:energyJoules" not in record and "prov4ml:cpuEnergyJoules" not in record
    if not measured:
        assert attr(environment, "cpuEnergyMethod") == "estimate: tdp * cpu share"
        assert attr(environment, "cpuEnergyMeasurement").startswith("unavailable: ")


# Shorter than any interval. The first reading comes on the collector's first pass, after NVML's start:
# 0.25-0.4 s on a GPU host seen here (an H200 under gVisor), so the job outlasts that by far.
SHORT_JOB = "import time\ntime.sleep(1.0)\n"


@pytest.mark.parametrize("interval", ["5", "0"])
def test_short_job_gets_start_and_end_samples(tmp_path, interval):
    """A job shorter than one interval still gets a sample at its start and one at its end (no series with 0)
    and its run totals."""
    script = tmp_path / "short.py"
    script.write_text(SHORT_JOB)
    run = run_script(str(script), root=str(tmp_path / "runs"), env={"PROV4ML_SYSTEM_INTERVAL": interval})
    assert run.returncode == 0, run.stderr
    document = run.document()
    if interval == "0":
        assert not os.path.exists(os.path.join(run.folder, "prov.series"))
    else:
        rows = _series(run, "system.process_memory_rss_bytes")
        assert len(rows) == 2 and float(rows[1]["time"]) - float(rows[0]["time"]) > 0.25
        assert len(_series(run, "system.process_cpu_percent")) == 1  # a rate needs two samples
    assert attr(document["activity"]["run:run"], "processMemoryRssBytesMax") > 0
    assert attr(document["activity"]["run:run"], "processCpuPercentMean") >= 0
    assert attr(document["entity"]["run:environment"], "systemSampleIntervalSeconds") == float(interval)


def test_disabled_records_nothing(tmp_path):
    script = tmp_path / "short.py"
    script.write_text(SHORT_JOB)
    run = run_script(str(script), root=str(tmp_path / "runs"), env={"PROV4ML_DISABLE": "system"})
    document = run.document()
    assert "prov4ml:energyMethod" not in document["activity"]["run:run"]
    assert "prov4ml:gpuMonitoring" not in document["entity"]["run:environment"]


def test_psutil_is_not_imported_at_start():
    """The agent's import and install() leave psutil (and NVML) to the collector's first pass."""
    code = ("import sys; from prov4ml_auto import agent; from prov4ml_auto.config import Config; "
            "agent.system_recording.install(agent.Recorder(agent.Document({}), '', None), Config()); "
            "print(sorted({'psutil', 'pynvml'} & set(sys.modules)))")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def _recording(tmp_path, interval: float = 5.0) -> tuple[SystemRecording, Recorder]:
    recorder = Recorder(Document({"run": "https://example.org/", "prov4ml": "https://example.org/ns#"}),
                        str(tmp_path / "prov.series"), Hasher(0, 0))
    recorder.begin_run(time.time(), {}, "tester")
    return SystemRecording(recorder, interval, False, 0.0), recorder


def test_final_pass_is_cheap(tmp_path):
    """Exit waits for the final pass: after the first pass (imports, NVML, host facts) it costs a sample."""
    recording, recorder = _recording(tmp_path)
    recording.tick(recorder, time.time(), False)
    started = time.perf_counter()
    recording.tick(recorder, time.time(), True)
    assert time.perf_counter() - started < 0.05
    assert "prov4ml:processMemoryRssBytesMax" in recorder.doc.get("activity", "run:run")


def test_a_failing_probe_stops_recording_with_one_statement(tmp_path):
    recording, recorder = _recording(tmp_path)
    recording.tick(recorder, time.time(), False)
    assert recording.probes is not None

    def broken(gpus: bool) -> dict:
        raise OSError("psutil lost /proc")

    recording.probes.read = broken  # type: ignore[method-assign]
    for _ in range(3):
        recording.tick(recorder, time.time() + 10, False)
    assert recording.watch(None, time.time(), False) == {}  # type: ignore[arg-type]
    environment = recorder.doc.get("entity", "run:environment")
    assert environment["prov4ml:systemMetrics"] == "stopped: OSError: psutil lost /proc"


def test_a_module_not_found_at_first_is_looked_for_again(tmp_path, monkeypatch):
    """Started from a .pth file, the agent may look for psutil before site has put it on sys.path."""
    from prov4ml_auto.system import recording as module

    recording, recorder = _recording(tmp_path)
    found = module._Probes
    tries = []

    def late(estimate: bool):
        tries.append(estimate)
        if len(tries) < 3:
            raise ModuleNotFoundError("No module named 'psutil'")
        return found(estimate)

    monkeypatch.setattr(module, "_Probes", late)
    for _ in range(3):
        recording.tick(recorder, time.time(), False)
    assert recording.probes is not None and not recording.stopped and len(tries) == 3
    assert "prov4ml:systemMetrics" not in recorder.doc.get("entity", "run:environment")
