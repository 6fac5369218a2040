"""A script that ends with sys.exit(code), as argparse-driven tools do; or, given "caught", one that catches
argparse's exit (as a notebook kernel does when parse_args meets the kernel's own argv), trains on and ends
normally; given "interrupted", one stopped by Ctrl-C; given "exit-on-interrupt", one that answers Ctrl-C with
sys.exit(1), as Lightning's Trainer does; given "not-ok", one that ends with ``sys.exit(not ok)``; given
"thread-fails", one whose training thread dies of an exception while the main thread ends normally (exit 0);
given "own-excepthook", one that fails after setting an excepthook of its own that does not call the one before
it (as typer's and rich's pretty tracebacks do)."""

import sys


def train_after_a_caught_exit() -> None:
    import argparse

    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    try:
        args = parser.parse_args(["-f", "kernel.json"])
    except SystemExit:
        args = parser.parse_args([])
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for _ in range(3):
        model(torch.ones(4, 2)).pow(2).mean().backward()
        optimizer.step()
    print("trained on")


def train_in_a_thread_that_fails() -> None:
    import threading

    import torch

    def train() -> None:
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(3):
            model(torch.ones(4, 2)).pow(2).mean().backward()
            optimizer.step()
        raise FloatingPointError(f"loss diverged at step {step}")

    worker = threading.Thread(target=train, name="trainer")
    worker.start()
    worker.join()
    print("main thread done")


if sys.argv[1:] == ["caught"]:
    train_after_a_caught_exit()
elif sys.argv[1:] == ["interrupted"]:
    import time

    time.sleep(1.0)  # a while into the job (see tests/test_core.py)
    raise KeyboardInterrupt  # as Ctrl-C does
elif sys.argv[1:] == ["thread-fails"]:
    train_in_a_thread_that_fails()
elif sys.argv[1:] == ["own-excepthook"]:
    sys.excepthook = lambda kind, value, tb: print(f"logged: {kind.__name__}: {value}", file=sys.stderr)
    raise ValueError("bad batch shape")
elif sys.argv[1:] == ["not-ok"]:
    ok = False
    sys.exit(not ok)  # a bool: Python exits with 1
elif sys.argv[1:] == ["exit-on-interrupt"]:
    try:
        raise KeyboardInterrupt  # as Ctrl-C does
    except KeyboardInterrupt:
        print("shutting down")
        sys.exit(1)
else:
    print("about to exit")
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
