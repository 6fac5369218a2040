"""A training loop that ends the ways real jobs end: killed, terminated, os._exit, abort, or its own
SIGTERM handler (exit; carry on requeue-style, calling the previous handler first as Lightning does;
restore the previous handler and re-raise).

Each step reseeds ``random`` with the step number (as augmentation pipelines do), so the tests can tell
from the document exactly which steps reached it, and prints ``step N TIME`` so they know how far it got, and when.
"""

import argparse
import os
import random
import signal
import sys
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3000, help="steps before ending normally (30 s or more)")
parser.add_argument("--end", choices=["normal", "os_exit", "abort"], default="normal")
parser.add_argument("--sigterm", choices=["default", "exit", "requeue", "reraise"], default="default")
parser.add_argument("--pause", type=float, default=0.01, help="seconds per step")
args = parser.parse_args()

stop = False
previous = signal.getsignal(signal.SIGTERM)


def on_sigterm(signum, frame):
    """The user's own handler, in one of the styles real training scripts use."""
    global stop
    print("got SIGTERM", flush=True)
    if args.sigterm == "exit":
        sys.exit(7)
    if args.sigterm == "requeue" and callable(previous):
        previous(signum, frame)
    if args.sigterm == "reraise":
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    stop = True  # requeue: finish this step cleanly (a checkpoint, a requeue request), then leave


if args.sigterm != "default":
    signal.signal(signal.SIGTERM, on_sigterm)

torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(args.steps):
    random.seed(step)
    loss = model(torch.randn(16, 8)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step} {time.time():.6f}", flush=True)
    if stop:
        print("stopping after a clean step", flush=True)
        break
    time.sleep(args.pause)

if args.end == "os_exit":
    os._exit(3)
if args.end == "abort":
    os.abort()
print("done", flush=True)
