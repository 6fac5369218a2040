"""patch() / unpatch() in-process: every integration restores exactly what it replaced."""

from __future__ import annotations

import argparse
import gc
import importlib
import random

import torch

from prov4ml_auto import integrations
from prov4ml_auto.config import Config
from prov4ml_auto.events import Buffer


def _snapshot() -> dict[str, object]:
    from torch.optim import lr_scheduler, optimizer
    from torch.utils.data import dataloader

    return {
        "torch.save": torch.save, "torch.serialization.save": torch.serialization.save, "torch.load": torch.load,
        "backward": torch.autograd.backward, "mse_loss": torch.nn.functional.mse_loss,
        "Optimizer.__init__": vars(optimizer.Optimizer)["__init__"],
        "LRScheduler.step": vars(lr_scheduler.LRScheduler)["step"],
        "DataLoader.__iter__": vars(dataloader.DataLoader)["__iter__"],
        "parse_known_args": vars(argparse.ArgumentParser)["parse_known_args"],
        "random.seed": random.seed, "manual_seed": torch.manual_seed,
        "post hooks": len(optimizer._global_optimizer_post_hooks),
    }


def test_patch_then_unpatch_restores_originals():
    before = _snapshot()
    buffer = Buffer(1000)
    config = Config({})
    for target in (argparse, random, torch):
        for path in integrations.MODULES:
            module = importlib.import_module(path)
            if target.__name__ in module.TARGETS:
                integrations._patch(module, target, config, buffer)
    patched = _snapshot()
    assert all(patched[name] is not before[name] for name in before if name != "post hooks")
    assert patched["post hooks"] == before["post hooks"] + 1

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = [model(torch.full((1, 2), float(number))).sum() for number in range(3)]
    losses[0].backward()
    opt.step()  # the step's event carries the loss of the backward before it
    losses[1].backward()
    losses[2].backward()  # two backwards, no step between: each loss an event of its own, in order
    opt.step()
    events = buffer.drain()
    assert [event[1] for event in events] == ["framework", "optimizer", "step", "loss", "loss", "step"]
    step, first, second, last_step = events[2:]
    assert (step[3], first[2], second[2], last_step[3]) == (*(loss.item() for loss in losses), None)
    assert step[2] == last_step[2] == id(opt) and first[0] <= second[0]
    # per-step events hold numbers only, so the garbage collector stops tracking them at the first collection
    # they meet: a fast loop's waiting events are never promoted to the old generation (whose full
    # collections, over torch's heap, stall a step by 100+ ms)
    gc.collect()
    assert not any(gc.is_tracked(event) for event in events[2:])

    integrations.unpatch_all()
    assert _snapshot() == before


class _Pretrained:
    @classmethod
    def from_pretrained(cls, name: str, **options: object) -> tuple[type, str, dict]:
        """Load a thing."""
        return cls, name, options


class _Derived(_Pretrained):
    pass


def test_a_wrapped_classmethod_sees_the_calling_class_and_unwraps_exactly():
    """transformers' from_pretrained is a classmethod called on subclasses: the wrapper gets the original
    bound to the class it was called on, the name and docstring stay, and undo puts back the same object."""
    from prov4ml_auto.integrations._patching import Patches

    original, seen = vars(_Pretrained)["from_pretrained"], []

    def wrapper(wrapped, instance, args, kwargs):
        seen.append(instance)
        return wrapped(*args, **kwargs)

    patches = Patches()
    patches.wrap(_Pretrained, "from_pretrained", wrapper)
    patches.wrap(_Pretrained, "from_pretrained", wrapper)  # a second patch of the same attribute is ignored
    assert _Derived.from_pretrained("bert", revision="main") == (_Derived, "bert", {"revision": "main"})
    assert _Pretrained.from_pretrained("gpt") == (_Pretrained, "gpt", {})
    assert seen == [_Derived, _Pretrained]
    assert (_Pretrained.from_pretrained.__name__, _Pretrained.from_pretrained.__doc__) == (
        "from_pretrained", "Load a thing.")
    patches.undo()
    assert vars(_Pretrained)["from_pretrained"] is original
