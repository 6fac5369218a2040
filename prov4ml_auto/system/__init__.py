"""System metrics for provenance: host facts, process samples, GPU (NVML) and energy.

Everything here returns plain dicts and reports missing hardware, files or
permissions as data (an 'unavailable: <reason>' value or an absent key)
instead of raising, because it runs inside someone else's training job.
"""

from .energy import EnergyMeter, carbon_grams
from .host import host_facts
from .nvml import Nvml, select_visible
from .rapl import RaplReader
from .sampler import ProcessSampler

__all__ = [
    "EnergyMeter",
    "Nvml",
    "ProcessSampler",
    "RaplReader",
    "carbon_grams",
    "host_facts",
    "select_visible",
]
