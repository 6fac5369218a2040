"""NVIDIA GPU facts, samples and energy counters through NVML (nvidia-ml-py).

NVML is initialised at most once per process, on first use, and never shut
down: the collector may query it until interpreter exit, and repeated
init/shutdown cycles are slow. Only the GPUs this job can see
(CUDA_VISIBLE_DEVICES, read at first use) are reported.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

_init_lock = threading.Lock()
_init_state: dict[str, Any] = {"done": False, "module": None, "reason": ""}
_LIBRARY = "libnvidia-ml.so.1"  # the library pynvml loads on Linux


def _init_nvml() -> tuple[Any, str]:
    """Return (pynvml module or None, unavailable reason), initialising once per process."""
    with _init_lock:
        if not _init_state["done"]:
            _init_state["done"] = True
            _init_state["module"], _init_state["reason"] = _load()
        return _init_state["module"], _init_state["reason"]


def _load() -> tuple[Any, str]:
    if "pynvml" not in sys.modules and not _driver_library_loads():
        return None, f"no NVIDIA driver ({_LIBRARY} not found)"
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses, or OSError from ctypes
        return None, f"NVML could not initialise: {exc}"
    return pynvml, ""


def _driver_library_loads() -> bool:
    """Whether NVIDIA's driver library loads, by the same dlopen that pynvml's init would do. Importing pynvml
    costs 15-20 ms (it defines hundreds of ctypes structures), which a machine without the driver, where init
    can only fail, need not pay; a pynvml already imported (torch.cuda imports it) is used as it is."""
    if sys.platform != "linux":
        return True
    import ctypes

    try:
        ctypes.CDLL(_LIBRARY)
    except OSError:
        return False
    return True


def select_visible(
    cuda_visible_devices: str | None, physical: list[tuple[int, str]]
) -> list[tuple[int, str]]:
    """Map a CUDA_VISIBLE_DEVICES value onto (physical NVML index, uuid) pairs, in CUDA order.

    None means all GPUs (MIG instances excluded, as their parent GPU is listed);
    '' means none. Entries are indices or (unique prefixes of) 'GPU-'/'MIG-' UUIDs;
    MIG entries in `physical` carry their parent GPU's index. As CUDA does, the
    first invalid or ambiguous entry ends the list; a repeated device counts once.
    """
    gpus = [p for p in physical if not p[1].startswith("MIG-")]
    if cuda_visible_devices is None:
        return gpus
    selected: list[tuple[int, str]] = []
    for token in (t.strip() for t in cuda_visible_devices.split(",")):
        matches = _match(token, gpus, physical)
        if len(matches) != 1:
            break
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected


def _match(token: str, gpus: list[tuple[int, str]], physical: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if token.isdigit():
        return [g for g in gpus if g[0] == int(token)]
    if token.startswith(("GPU-", "MIG-")):
        return [p for p in physical if p[1].startswith(token)]
    return []


def _text(value: Any) -> str:
    """Older nvidia-ml-py releases return bytes for strings."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Nvml:
    """Per-job view of NVML. Every query that fails just leaves its key out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = False
        self._nvml: Any = None
        self._reason = ""
        self._handles: list[tuple[int, str, Any]] = []  # (physical index, uuid, handle)

    @property
    def available(self) -> bool:
        return bool(self._setup())

    @property
    def unavailable_reason(self) -> str:
        self._setup()
        return self._reason

    def devices(self) -> list[dict[str, Any]]:
        """Static facts per job GPU, in CUDA order: physical_index (NVML's), uuid, name, memory_total_bytes,
        driver_version, cuda_driver_version ('12.4'), power_limit_watts."""
        handles = self._setup()
        driver = self._q("nvmlSystemGetDriverVersion")
        cuda = self._q("nvmlSystemGetCudaDriverVersion_v2")
        facts = []
        for index, uuid, h in handles:
            d: dict[str, Any] = {"physical_index": index, "uuid": uuid}
            self._put(d, "name", self._q("nvmlDeviceGetName", h), _text)
            self._put(d, "memory_total_bytes", self._q("nvmlDeviceGetMemoryInfo", h), lambda m: m.total)
            self._put(d, "driver_version", driver, _text)
            self._put(d, "cuda_driver_version", cuda, lambda v: f"{v // 1000}.{v % 1000 // 10}")
            limit_mw = self._q("nvmlDeviceGetEnforcedPowerLimit", h)
            self._put(d, "power_limit_watts", limit_mw, lambda mw: mw / 1000)
            facts.append(d)
        return facts

    def sample(self) -> list[dict[str, float]]:
        """Current load per job GPU, in CUDA order: utilization_percent, memory_utilization_percent,
        memory_used_bytes, power_watts, temperature_c, sm_clock_mhz, memory_clock_mhz (all whole-device) and
        process_memory_bytes (this process only, when NVML lists its pid; not inside a PID namespace)."""
        handles = self._setup()
        nvml = self._nvml
        samples = []
        for _, _, h in handles:
            s: dict[str, float] = {}
            util = self._q("nvmlDeviceGetUtilizationRates", h)
            self._put(s, "utilization_percent", util, lambda u: u.gpu)
            self._put(s, "memory_utilization_percent", util, lambda u: u.memory)
            self._put(s, "memory_used_bytes", self._q("nvmlDeviceGetMemoryInfo", h), lambda m: m.used)
            self._put(s, "power_watts", self._q("nvmlDeviceGetPowerUsage", h), lambda mw: mw / 1000)
            self._put(s, "temperature_c", self._q("nvmlDeviceGetTemperature", h, nvml.NVML_TEMPERATURE_GPU))
            self._put(s, "sm_clock_mhz", self._q("nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_SM))
            self._put(s, "memory_clock_mhz", self._q("nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_MEM))
            processes = self._q("nvmlDeviceGetComputeRunningProcesses", h)
            self._put(s, "process_memory_bytes", processes, _own_memory)
            samples.append(s)
        return samples

    def energy_joules(self) -> dict[str, float]:
        """Joules per job GPU uuid since the driver loaded (cumulative; diff two readings).
        GPUs without the counter (pre-Volta, MIG instances) are left out."""
        out = {}
        for _, uuid, h in self._setup():
            mj = self._q("nvmlDeviceGetTotalEnergyConsumption", h)
            if mj is not None:
                out[uuid] = mj / 1000
        return out

    def _setup(self) -> list[tuple[int, str, Any]]:
        """Initialise NVML and pick the job's GPUs once; returns them (empty when unavailable)."""
        with self._lock:
            if not self._ready:
                self._ready = True
                self._nvml, self._reason = _init_nvml()
                if self._nvml is not None:
                    self._handles = self._job_handles()
                    if not self._handles:
                        self._reason = _no_gpu_reason()
            return self._handles

    def _job_handles(self) -> list[tuple[int, str, Any]]:
        physical = self._physical()
        handles = {uuid: h for _, uuid, h in physical}
        visible = select_visible(os.environ.get("CUDA_VISIBLE_DEVICES"), [(i, u) for i, u, _ in physical])
        return [(index, uuid, handles[uuid]) for index, uuid in visible]

    def _physical(self) -> list[tuple[int, str, Any]]:
        """All GPUs in NVML index order, followed by each GPU's MIG instances."""
        found = []
        for index in range(self._q("nvmlDeviceGetCount") or 0):
            h = self._q("nvmlDeviceGetHandleByIndex", index)
            uuid = self._uuid(h)
            if uuid is not None:
                found.append((index, uuid, h))
                found += [(index, mig_uuid, mh) for mig_uuid, mh in self._mig_instances(h)]
        return found

    def _mig_instances(self, h: Any) -> list[tuple[str, Any]]:
        mode = self._q("nvmlDeviceGetMigMode", h)
        if not mode or mode[0] != self._nvml.NVML_DEVICE_MIG_ENABLE:
            return []
        found = []
        for slot in range(self._q("nvmlDeviceGetMaxMigDeviceCount", h) or 0):
            mh = self._q("nvmlDeviceGetMigDeviceHandleByIndex", h, slot)  # empty slots raise
            uuid = self._uuid(mh)
            if uuid is not None:
                found.append((uuid, mh))
        return found

    def _uuid(self, h: Any) -> str | None:
        uuid = self._q("nvmlDeviceGetUUID", h) if h is not None else None
        return None if uuid is None else _text(uuid)

    def _q(self, name: str, *args: Any) -> Any:
        """Call an NVML function; any failure (unsupported, lost GPU, old binding) gives None."""
        try:
            return getattr(self._nvml, name)(*args)
        except Exception:
            return None

    @staticmethod
    def _put(out: dict[str, Any], key: str, value: Any, convert: Callable[[Any], Any] | None = None) -> None:
        """Store value (converted) unless the query or the conversion yielded None."""
        if value is not None and convert is not None:
            value = convert(value)
        if value is not None:
            out[key] = value


def _no_gpu_reason() -> str:
    """Say so when CUDA_VISIBLE_DEVICES, not the machine, is why there is no GPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "no GPU" if visible is None else f"no GPU (CUDA_VISIBLE_DEVICES={visible!r})"


def _own_memory(processes: list[Any]) -> int | None:
    """GPU memory NVML attributes to this pid; None (key dropped) if not listed or not reported."""
    pid = os.getpid()
    used = [p.usedGpuMemory for p in processes if p.pid == pid and p.usedGpuMemory is not None]
    return sum(used) if used else None
