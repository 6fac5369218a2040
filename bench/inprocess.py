"""Section 2, second view: the tight loop's overhead measured inside one process, hooks on and off.

Separate processes on a shared machine differ by several percent from each other (CPU placement, caches,
neighbours), which drowns a 1-3% effect even as a median of a dozen pairs. Here one process, started with the
agent on, trains bench/workload.py's model in short segments with the integrations patched and unpatched in
turn (order alternating), so both variants share the interpreter, the heap and the machine's state: per
round, the training thread's CPU time on over off.

The collector's share is measured apart, in one continuous stretch with the hooks on (segments would charge
it a wake-up and a re-patching each): its thread's CPU clock from the stretch's start until it has drained
the stretch's events, per step, ticks included. The whole agent's ratio is the training thread's median
ratio plus the collector's time per step over a plain step's. Run it with the agent on; the last stdout line
is JSON.
"""

import json
import statistics
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


def thread_seconds(loop, steps: int, on: bool) -> float:
    set_hooks(on)
    before = time.thread_time()
    train(*loop, steps=steps)
    return time.thread_time() - before


def collector_seconds(loop, steps: int) -> float:
    """The collector's CPU time for ``steps`` steps with the hooks on, until it has handled their events."""
    set_hooks(True)
    collector = agent.current().collector
    clock = time.pthread_getcpuclockid(collector.ident)
    time.sleep(0.3)  # the re-patching's events are handled before the clock starts
    before = time.clock_gettime(clock)
    train(*loop, steps=steps)
    collector.buffer.ready.set()
    while True:  # until the buffer is empty and the collector's clock stands still
        last = time.clock_gettime(clock)
        time.sleep(0.002)
        if not collector.buffer.queue and time.clock_gettime(clock) == last:
            return last - before


def main() -> None:
    rounds, steps = int(sys.argv[1]), int(sys.argv[2])
    args = arguments(["--steps", str(steps)])
    loop = build(args)
    train(*loop, steps=steps)  # warm-up: the first pass's one-off work (dataset facts, imports)
    thread, plain = [], []
    for number in range(rounds):
        seconds = {on: thread_seconds(loop, steps, on) for on in ((False, True) if number % 2 == 0 else (True, False))}
        thread.append(seconds[True] / seconds[False])
        plain.append(seconds[False] / steps)
    continuous = steps * 30
    collector_per_step = collector_seconds(loop, continuous) / continuous
    whole = statistics.median(thread) + collector_per_step / statistics.median(plain)
    print(json.dumps({"thread_ratios": thread, "collector_us_per_step": collector_per_step * 1e6,
                      "plain_step_us": statistics.median(plain) * 1e6, "cpu_ratio": whole}), flush=True)


if __name__ == "__main__":
    main()
