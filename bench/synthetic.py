"""A synthetic long run: every training-thread event of a real loop, at a fraction of a real step's cost.

Per step: one real ``DataLoader`` batch, one real ``backward`` (on a leaf scalar holding a random loss value,
so the loss series has realistic digits) and one real optimizer step (of an optimizer whose step does
nothing); an epoch every ``--epoch`` steps, a checkpoint every ten epochs. Run with the agent on or off.

What it measures from inside: the longest step (a stall: the collector held the GIL, the garbage collector
ran, or the machine paused the process) and how many steps took over 10 ms; the same for the steps in which
no full garbage collection ran (one takes 100-160 ms here, over torch's heap, in plain runs too: whether one
falls inside a timed step or between two is chance), with the full collections' count and longest; the
resident memory as the run goes on, and with the agent on, the collector's throughput (events it turned into
records per second of its own thread's CPU time). A real step is far slower than the collector's cost per step; this
one is not, so the loop yields whenever the agent's buffer is half full rather than let it drop events.
Its last stdout line is JSON.
"""

import time

FIRST_LINE = time.time()

import argparse
import array
import gc
import json
import os
import random
import resource

import torch
from torch.utils.data import DataLoader

_POOL = 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")
_BIN = 10e-6  # step durations are counted in 10 us bins up to 100 ms (a list of 1M floats would be 32 MB)
_BINS = 10_000


class NullOptimizer(torch.optim.Optimizer):
    """torch runs the step hooks around this step; the step itself does nothing."""

    def step(self, closure=None):
        return None


def identity(value):
    return value


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE


class FullCollections:
    """Counts the garbage collector's full (generation 2) collections and their longest duration."""

    def __init__(self) -> None:
        self.count, self.longest, self._started = 0, 0.0, 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)


class Backpressure:
    """With the agent on: wait for the collector whenever its buffer is half full (never with it off)."""

    def __init__(self) -> None:
        try:
            from prov4ml_auto import agent

            current = agent.current()
        except ImportError:
            current = None
        self.agent = current
        self.waited = 0.0

    def wait(self) -> None:
        if self.agent is None:
            return
        started = time.perf_counter()
        while len(self.agent.buffer.queue) > self.agent.buffer.capacity // 2:
            time.sleep(0.002)
        self.waited += time.perf_counter() - started

    def collector_figures(self) -> dict:
        """Drain what is left, then read the collector thread's own CPU time and event count."""
        if self.agent is None or self.agent.collector is None:
            return {}
        while self.agent.buffer.queue:
            time.sleep(0.01)
        time.sleep(0.2)  # the last drained batch is dispatched
        collector = self.agent.collector
        cpu = time.clock_gettime(time.pthread_getcpuclockid(collector.ident))
        return {"collector_events": collector.events_seen, "collector_cpu": cpu,
                "dropped": self.agent.buffer.dropped}


def warm_up(model, optimizer, loss, folder: str) -> None:
    """What torch does once, before the timed loop: its first backward, step and save import some 800
    modules (sympy among them), whose objects trigger full garbage collections (100-160 ms each) for a second
    or two; then collect, so that start-up's garbage is not the loop's."""
    loss.backward()
    optimizer.step()
    torch.save(model.state_dict(), os.path.join(folder, "checkpoint.pt"))
    time.sleep(0.5)  # the agent's collector handles the warm-up's events (hashing the checkpoint)
    gc.collect()


def run(steps: int, epoch: int, folder: str) -> dict:
    torch.set_num_threads(1)
    random.seed(0)
    model = torch.nn.Linear(16, 1)
    optimizer = NullOptimizer(model.parameters(), {"lr": 0.01})
    losses = [torch.tensor(random.random(), requires_grad=True) for _ in range(_POOL)]
    loader = DataLoader(range(epoch), batch_size=None, collate_fn=identity)
    pressure = Backpressure()
    warm_up(model, optimizer, losses[0], folder)
    collections = FullCollections()
    durations, memory, longest, longest_without_gc = array.array("Q", bytes(8 * _BINS)), [], 0.0, 0.0
    step, epochs, started = 0, 0, time.perf_counter()
    while step < steps:
        for _ in loader:
            began, full_collections = time.perf_counter(), collections.count
            losses[step % _POOL].backward()
            optimizer.step()
            took = time.perf_counter() - began
            durations[min(int(took / _BIN), _BINS - 1)] += 1
            longest = max(longest, took)
            if collections.count == full_collections:
                longest_without_gc = max(longest_without_gc, took)
            step += 1
            if step % 1000 == 0:
                pressure.wait()
            if step % max(1, steps // 20) == 0:
                memory.append((step, resident_bytes()))
            if step == steps:
                break
        epochs += 1
        if epochs % 10 == 0:
            torch.save(model.state_dict(), os.path.join(folder, "checkpoint.pt"))
    wall = time.perf_counter() - started
    report = {"steps": step, "epochs": epochs, "wall": wall, "waited": pressure.waited,
              "step_median_s": _quantile(durations, 0.5), "step_p999_s": _quantile(durations, 0.999),
              "step_max_s": longest, "step_max_without_full_gc_s": longest_without_gc,
              "full_gcs": collections.count, "full_gc_max_s": collections.longest,
              "steps_over_10ms": sum(durations[int(10e-3 / _BIN):]), "memory": memory,
              "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    report.update(pressure.collector_figures())
    report["end_wall"] = time.time()
    return report


def _quantile(bins: array.array, fraction: float) -> float:
    """The upper edge of the bin holding that fraction of the steps."""
    wanted, seen = fraction * sum(bins), 0
    for number, count in enumerate(bins):
        seen += count
        if seen >= wanted:
            return (number + 1) * _BIN
    return _BINS * _BIN


def main() -> None:
    parser = argparse.ArgumentParser(description="synthetic long run")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--epoch", type=int, default=10_000, help="steps per epoch")
    parser.add_argument("--folder", default=".", help="where checkpoints go")
    options = parser.parse_args()
    print(json.dumps({"first_wall": FIRST_LINE, **run(options.steps, options.epoch, options.folder)}), flush=True)


if __name__ == "__main__":
    main()
