"""Section 2, second view: the tight loop's overhead measured inside one process, hooks on and off.

Separate processes on a shared machine differ by several percent from each other (CPU placement, caches,
neighbours), which drowns a 1-3% effect even as a median of a dozen pairs. Here one process, started with the
agent on, trains bench/workload.py's model in short segments with the integrations patched and unpatched in
turn (order alternating), so both variants share the interpreter, the heap and the machine's state.

Per segment: the training thread's CPU time and, for a segment with the hooks on, the collector's: its
thread's CPU clock from the segment's start until it has drained the segment's events (the bench wakes it
and waits), so its work is charged to the segment that caused it, ticks included. Run it with the agent on;
the last stdout line is JSON: per round, the training thread's ratio on/off and the whole agent's
(training thread and collector) ratio on/off.
"""

import json
import sys
import time

from workload import arguments, build, train

from prov4ml_auto import agent, integrations

_LEFT_ALONE = ("argparse", "seeds")  # no per-step hooks; argparse has done its work already


def set_hooks(on: bool) -> None:
    current = agent.current()
    for module, target in integrations.patched:
        if module.NAME not in _LEFT_ALONE:
            module.unpatch()
            if on:
                module.patch(sys.modules[target], current.buffer.emit, current.buffer.emit_hot)


def drained(collector, clock: int) -> None:
    """Wake the collector; return once the buffer is empty and the collector's CPU clock stands still."""
    collector.buffer.ready.set()
    while True:
        before = time.clock_gettime(clock)
        time.sleep(0.002)
        if not collector.buffer.queue and time.clock_gettime(clock) == before:
            return


def segment(loop, steps: int, on: bool, collector_clock: int) -> tuple[float, float]:
    """(training thread CPU seconds, collector CPU seconds) of one segment."""
    set_hooks(on)
    collector_before, before = time.clock_gettime(collector_clock), time.thread_time()
    train(*loop, steps=steps)
    thread = time.thread_time() - before
    if on:
        drained(agent.current().collector, collector_clock)
    return thread, time.clock_gettime(collector_clock) - collector_before if on else 0.0


def main() -> None:
    rounds, steps = int(sys.argv[1]), int(sys.argv[2])
    args = arguments(["--steps", str(steps)])
    loop = build(args)
    train(*loop, steps=steps)  # warm-up: the first pass's one-off work (dataset facts, imports)
    clock = time.pthread_getcpuclockid(agent.current().collector.ident)
    thread, whole, collector_us = [], [], []
    for number in range(rounds):
        seconds = {on: segment(loop, steps, on, clock) for on in ((False, True) if number % 2 == 0 else (True, False))}
        (on_thread, on_collector), (off_thread, _) = seconds[True], seconds[False]
        thread.append(on_thread / off_thread)
        whole.append((on_thread + on_collector) / off_thread)
        collector_us.append(on_collector / steps * 1e6)
    print(json.dumps({"thread_ratios": thread, "cpu_ratios": whole, "collector_us_per_step": collector_us}),
          flush=True)


if __name__ == "__main__":
    main()
