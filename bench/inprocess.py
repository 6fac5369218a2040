"""Section 2, second view: the tight loop's overhead measured inside one process, hooks on and off.

Separate processes on a shared machine differ by several percent from each other (CPU placement, caches,
neighbours), which drowns a 1-3% effect even as a median of a dozen pairs. Here one process, started with the
agent on, trains bench/workload.py's model in short segments with the integrations patched and unpatched in
turn (order alternating), so both variants share the interpreter, the heap and the machine's state: per
round, the training thread's CPU time on over off; and the same for the loop as most scripts write it, reading
``loss.item()`` each step (the agent's own read of the loss then finds it in the caches: most of what the
hooks cost in a loop that never reads its loss is that first touch).

The collector's share is measured apart, in one continuous stretch with the hooks on (segments would charge
it a wake-up and a re-patching each): its thread's CPU clock from the stretch's start until it has drained
the stretch's events, per step, ticks included. The whole agent's ratio is the training thread's median
ratio plus the collector's time per step over a plain step's. That sum assumes that nothing overlaps; what
the user waits for is wall time, where the collector's work runs beside the training thread's time inside
torch (which releases the GIL): the wall ratio is the median over rounds of continuous stretches, on over
off, the collector's draining of each stretch's events included. Run it with the agent on; the last stdout
line is JSON.
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


def thread_seconds(loop, steps: int, on: bool, log=None) -> float:
    set_hooks(on)
    before = time.thread_time()
    train(*loop, steps=steps, log=log)
    return time.thread_time() - before


def logging_loss(loss, step: int) -> None:
    """What most loops do each step (``running_loss += loss.item()``, a progress bar's postfix)."""
    loss.item()


def collector_seconds(loop, steps: int) -> float:
    """The collector's CPU time for ``steps`` steps with the hooks on, until it has handled their events."""
    set_hooks(True)
    clock = time.pthread_getcpuclockid(agent.current().collector.ident)
    time.sleep(0.3)  # the re-patching's events are handled before the clock starts
    before = time.clock_gettime(clock)
    train(*loop, steps=steps)
    return drained(clock) - before


def drained(clock: int) -> float:
    """Wake the collector and wait until the buffer is empty and its CPU clock stands still; that clock."""
    collector = agent.current().collector
    collector.buffer.ready.set()
    while True:
        last = time.clock_gettime(clock)
        time.sleep(0.002)
        if not collector.buffer.queue and time.clock_gettime(clock) == last:
            return last


def wall_seconds(loop, steps: int, on: bool) -> float:
    """What the user waits for: wall time of ``steps`` steps, with the hooks on until the collector has also
    handled their events (its work overlaps the training thread's only while that thread is inside torch,
    without the GIL). The previous segment's events are handled before the clock starts."""
    set_hooks(on)
    clock = time.pthread_getcpuclockid(agent.current().collector.ident)
    drained(clock)
    before = time.perf_counter()
    train(*loop, steps=steps)
    if on:
        drained(clock)
    return time.perf_counter() - before


def main() -> None:
    rounds, steps, wall_rounds, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    args = arguments(["--steps", str(steps), "--device", device])
    loop = build(args)
    train(*loop, steps=steps)  # warm-up: the first pass's one-off work (dataset facts, imports)
    thread, plain, logging = [], [], []
    for number in range(rounds):
        order = (False, True) if number % 2 == 0 else (True, False)
        seconds = {on: thread_seconds(loop, steps, on) for on in order}
        thread.append(seconds[True] / seconds[False])
        plain.append(seconds[False] / steps)
        seconds = {on: thread_seconds(loop, steps, on, logging_loss) for on in order}
        logging.append(seconds[True] / seconds[False])
    continuous = steps * 30
    collector_per_step = collector_seconds(loop, continuous) / continuous
    whole = statistics.median(thread) + collector_per_step / statistics.median(plain)
    wall = []
    for number in range(wall_rounds):
        seconds = {on: wall_seconds(loop, continuous, on) for on in ((False, True) if number % 2 else (True, False))}
        wall.append(seconds[True] / seconds[False])
    print(json.dumps({"thread_ratios": thread, "logging_loop_thread_ratios": logging,
                      "collector_us_per_step": collector_per_step * 1e6,
                      "plain_step_us": statistics.median(plain) * 1e6, "cpu_ratio": whole, "wall_ratios": wall}),
          flush=True)


if __name__ == "__main__":
    main()
