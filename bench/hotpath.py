"""Section 1: what each hook adds on the training thread, against the unwrapped call in the same process.

Runs as a child (``python -m bench.hotpath``) that patches torch as the agent does, emitting into a buffer
that no collector drains: the bench empties it between batches, outside the timed part, so every call takes
the full path (never the cheaper drop path). Each case times a batch of calls hooked, then a batch with the
originals put back, the order alternating over rounds; the figure is the median of the per-round
differences in thread CPU nanoseconds per call. The per-step figure adds the cases a training step pays.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

from bench.common import PYTHON, ROOT, clean_env, run_child

Restore = Callable[[], ContextManager[None]]


@dataclass
class Case:
    """One event kind: the call with the agent's hook, the call without it, and how to remove the hook."""

    name: str
    hooked: Callable[[], Any]
    plain: Callable[[], Any]
    restore: Restore = contextlib.nullcontext
    calls: int = 2000
    per_step: bool = False


def measure(smoke: bool) -> dict[str, Any]:
    """Run the cases in a fresh process, so that the harness itself is never patched."""
    rounds, scale = ("3", "0.1") if smoke else ("151", "1")
    sample = run_child([PYTHON, "-m", "bench.hotpath", "--rounds", rounds, "--scale", scale], clean_env(), ROOT)
    return sample.report


# --- the child ---------------------------------------------------------------------------------------
def _original(owner: Any, name: str) -> Restore:
    """Put the unwrapped function back on ``owner`` for the duration (both wrappers keep ``__wrapped__``)."""

    @contextlib.contextmanager
    def swapped() -> Iterator[None]:
        wrapper = vars(owner)[name]
        setattr(owner, name, wrapper.__wrapped__)
        try:
            yield
        finally:
            setattr(owner, name, wrapper)

    return swapped


@contextlib.contextmanager
def _no_step_hooks() -> Iterator[None]:
    """The optimizer integration uses torch's global step post hook: take it off, then register it again."""
    from torch.optim import optimizer

    from prov4ml_auto.integrations import torch_optim

    while torch_optim._hook_handles:
        torch_optim._hook_handles.pop().remove()
    try:
        yield
    finally:
        torch_optim._hook_handles.append(optimizer.register_optimizer_step_post_hook(torch_optim._after_step))


def _per_step_cases(emit_hot: Callable[..., None], scale: float) -> list[Case]:
    """What one training step pays, measured precisely: each hook of the agent's installed on a stand-in that
    does nothing (so torch's own run-to-run spread, microseconds, cannot hide it), against the stand-in
    alone; the optimizer's hooks on an optimizer whose step does nothing, since torch's dispatch of global
    hooks is part of their cost. The stand-ins take the hooks exactly as the integrations install them."""
    import torch

    from prov4ml_auto.integrations import _patching, torch_data, torch_loss

    loss, lrs = torch.zeros((), requires_grad=True), (0.1,)
    loss_module = types.SimpleNamespace(backward=_stand_in, mse_loss=_stand_in)
    patches = _patching.Patches()
    _install(patches, loss_module, "backward", torch_loss._backward)
    _install(patches, loss_module, "mse_loss", torch_loss._loss_function)
    plain_batches, hooked_batches = _Batches(), type("_HookedBatches", (_Batches,), {})()
    _install(patches, type(hooked_batches), "__next__", torch_data._iterator_next)
    optimizer = _null_optimizer_class()([loss], {"lr": 0.1})

    def step(backward: Callable[..., Any]) -> None:
        """A training step's pair: its loss waits for the step, whose event carries it (events.carried)."""
        backward(loss, None, None, False, inputs=None)
        optimizer.step()

    return [
        Case("buffer append (emit_hot)", lambda: emit_hot((time.time(), "step", id(optimizer), *lrs)),
             lambda: _stand_in("step", id(optimizer), *lrs), calls=_scaled(5000, scale)),
        Case("optimizer step hook", optimizer.step, optimizer.step, _no_step_hooks, _scaled(1000, scale)),
        Case("backward, then the optimizer step carrying its loss", lambda: step(loss_module.backward),
             lambda: step(_stand_in), _no_step_hooks, _scaled(1000, scale), per_step=True),
        Case("loss function (training)", lambda: loss_module.mse_loss(loss, loss), lambda: _stand_in(loss, loss),
             calls=_scaled(4000, scale), per_step=True),
        Case("DataLoader next (per batch)", lambda: next(hooked_batches), lambda: next(plain_batches),
             calls=_scaled(4000, scale), per_step=True),
    ]


def _real_cases(folder: str, scale: float) -> list[Case]:
    """The real calls, hooked and with the originals put back: the same figures in situ, where torch's own
    spread (microseconds on a shared machine) blurs them; and the hooks a step does not pay."""
    import torch
    from torch.nn import functional
    from torch.utils.data import DataLoader, dataloader

    weight = torch.zeros(4, requires_grad=True)
    opt = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    weight.grad = torch.zeros(4)
    prediction, target = torch.randn(8, requires_grad=True), torch.randn(8)
    loss_fn = torch.nn.MSELoss()
    batches = iter(DataLoader(range(10**9), batch_size=None, collate_fn=_stand_in))
    small_loader = DataLoader(range(4), batch_size=2)
    state, path = {"weight": torch.zeros(16)}, os.path.join(folder, "ckpt.pt")
    torch.save(state, path)

    def backward() -> None:
        (weight * 2.0).sum().backward()

    def evaluation() -> Any:
        with torch.no_grad():
            return loss_fn(prediction, target)

    return [
        Case("SGD step", opt.step, opt.step, _no_step_hooks, _scaled(100, scale)),
        Case("backward", backward, backward, _original(torch.autograd, "backward"), _scaled(100, scale)),
        Case("nn.MSELoss (training)", lambda: loss_fn(prediction, target), lambda: loss_fn(prediction, target),
             _original(functional, "mse_loss"), _scaled(200, scale)),
        Case("DataLoader next (per batch)", lambda: next(batches), lambda: next(batches),
             _original(dataloader._BaseDataLoaderIter, "__next__"), _scaled(400, scale)),
        Case("nn.MSELoss (evaluation)", evaluation, evaluation, _original(functional, "mse_loss"), _scaled(200, scale)),
        Case("DataLoader iter (per pass)", lambda: iter(small_loader), lambda: iter(small_loader),
             _original(DataLoader, "__iter__"), _scaled(400, scale)),
        Case("torch.save (per checkpoint)", lambda: torch.save(state, path), lambda: torch.save(state, path),
             _original(torch, "save"), _scaled(10, scale)),
        Case("torch.load (per load)", lambda: torch.load(path), lambda: torch.load(path),
             _original(torch, "load"), _scaled(10, scale)),
    ]


def _install(patches: Any, owner: Any, name: str, hook: Callable[..., Any]) -> None:
    """As the integration does: a one-argument hook is a factory (``replace``), else a wrapper (``wrap``)."""
    if len(inspect.signature(hook).parameters) == 1:
        patches.replace(owner, name, hook)
    else:
        patches.wrap(owner, name, hook)


def _scaled(count: int, scale: float) -> int:
    return max(5, int(count * scale))


def _stand_in(*args: Any, **kwargs: Any) -> Any:
    """Does nothing; returns its first argument (a loss function's stand-in returns the loss)."""
    return args[0] if args else None


class _Batches:
    """A loader iterator's stand-in: endless batches, counted as torch's iterators count them."""

    _num_yielded = 0

    def __iter__(self) -> "_Batches":
        return self

    def __next__(self) -> int:
        return 1


def _null_optimizer_class() -> type:
    import torch

    class NullOptimizer(torch.optim.Optimizer):
        """A real optimizer (torch runs the global step hooks around its step) whose step does nothing."""

        def step(self, closure: Any = None) -> None:
            return None

    return NullOptimizer


def _batch(call: Callable[[], Any], count: int, clear: Callable[[], None]) -> float:
    """Thread CPU nanoseconds per call over ``count`` calls; the buffer is emptied outside the timing."""
    clear()
    started = time.thread_time_ns()
    for _ in range(count):
        call()
    return (time.thread_time_ns() - started) / count


def _compare(case: Case, rounds: int, clear: Callable[[], None]) -> dict[str, Any]:
    hooked, plain = [], []
    for number in range(rounds):
        for with_hook in ((True, False) if number % 2 == 0 else (False, True)):
            if with_hook:
                hooked.append(_batch(case.hooked, case.calls, clear))
            else:
                with case.restore():
                    plain.append(_batch(case.plain, case.calls, clear))
    added = [a - b for a, b in zip(hooked, plain)]
    return {"plain_ns": statistics.median(plain), "hooked_ns": statistics.median(hooked),
            "added_ns": statistics.median(added), "added_min_ns": min(hooked) - min(plain),
            "per_step": case.per_step, "calls": case.calls, "rounds": rounds}


def _child(rounds: int, scale: float) -> dict[str, Any]:
    import torch

    from prov4ml_auto import faults, integrations
    from prov4ml_auto.config import Config
    from prov4ml_auto.events import Buffer, carried

    torch.set_num_threads(1)
    faults.strict = True  # a hook that fails would look cheap: make it fail the bench instead
    buffer = Buffer(capacity=1 << 22)
    integrations.install(Config({}), buffer)

    def clear() -> None:
        buffer.queue.clear()
        carried.clear()

    with tempfile.TemporaryDirectory(prefix="prov4ml-bench-hot-") as folder:
        isolated = {case.name: _compare(case, rounds, clear) for case in _per_step_cases(buffer.emit_hot, scale)}
        in_situ = {case.name: _compare(case, rounds, clear) for case in _real_cases(folder, scale)}
    per_step = sum(result["added_ns"] for result in isolated.values() if result["per_step"])
    return {"isolated": isolated, "in_situ": in_situ, "per_step_added_ns": per_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=151)
    parser.add_argument("--scale", type=float, default=1.0)
    options = parser.parse_args()
    print(json.dumps(_child(options.rounds, options.scale)))


if __name__ == "__main__":
    sys.exit(main())
