"""Section 2, second view: the tight loop's overhead measured inside one process, hooks on and off.

Separate processes on a shared machine differ by several percent from each other (CPU placement, caches,
neighbours), which drowns a 1-3% effect even as a median of a dozen pairs. Here one process, started with the
agent on, trains bench/workload.py's model in short segments with the integrations patched and unpatched in
turn (order alternating), so both variants share the interpreter, the heap and the machine's state; the
collector runs throughout. Per segment: the training thread's CPU time and the process's (the collector's
work for the segment's events included, give or take a drain that spills into the next segment).
Run it with the agent on; the last stdout line is JSON: the per-round ratios on/off.
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


def main() -> None:
    rounds = int(sys.argv[1])
    args = arguments(["--steps", "300"])
    loop = build(args)
    train(*loop, steps=args.steps)  # warm-up: the first pass's one-off work (dataset facts, imports)
    thread, process = [], []
    for number in range(rounds):
        seconds = {}
        for on in ((False, True) if number % 2 == 0 else (True, False)):
            set_hooks(on)
            before = (time.thread_time(), time.process_time())
            train(*loop, steps=args.steps)
            seconds[on] = (time.thread_time() - before[0], time.process_time() - before[1])
        thread.append(seconds[True][0] / seconds[False][0])
        process.append(seconds[True][1] / seconds[False][1])
    print(json.dumps({"thread_ratios": thread, "cpu_ratios": process}), flush=True)


if __name__ == "__main__":
    main()
