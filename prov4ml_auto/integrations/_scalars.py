"""One-value tensors (a loss, a logged metric) handed from the training thread to the collector.

The training thread never waits and never lets an event hold the tensor it was given (``taken``): a CPU
tensor's number is read at once (``item()``, nothing to wait for), and any other tensor is detached (reading a
GPU value there would wait for the GPU). An event holding a loss would keep the step's autograd graph alive
while it waits and free it on the collector thread, which measurably slowed both threads. The collector reads
the detached tensors (``read``; ``number`` for any logged value), waiting for their device itself.
"""

from __future__ import annotations

import sys
from typing import Any

# Devices whose values the collector reads; others (meta, lazy/XLA, where a read runs the pending graph) are not.
READ_LATER = ("cuda", "xpu", "mps")


def taken(value: Any) -> Any:
    """Training thread: a tensor's number if it is on the CPU, else the tensor detached; anything else as it is."""
    if getattr(value, "detach", None) is None:
        return value
    return value.item() if value.is_cpu else value.detach()


def read(tensor: Any) -> float | None:
    """Collector: a one-value tensor's number (a CPU tensor's directly); None on a device that is not read."""
    device = tensor.device
    if device.type == "cpu":
        return float(tensor.detach().item())
    if device.type not in READ_LATER:
        return None
    wait_for(device)
    return float(tensor.item())


def number(value: Any) -> float | None:
    """Collector: a logged value as a float: a number (numpy's too) or a one-element tensor; None for anything
    else (a bool, a torchmetrics Metric, a string, a meta tensor)."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        return None
    try:
        return read(value) if hasattr(value, "detach") else float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def wait_for(device: Any) -> None:
    """On CUDA, the collector thread's current device becomes the tensors' own (a device guard restoring the
    thread's default device 0 would otherwise create a CUDA context on GPU 0 in a rank that uses another GPU),
    and the device is synchronised: the read is queued on this thread's default stream, which does not wait
    for a value computed on one of the training's side streams. Only this thread waits."""
    if device.type == "cuda":
        cuda = sys.modules["torch"].cuda
        cuda.set_device(device)
        cuda.synchronize(device)
