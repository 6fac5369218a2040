"""patch() / unpatch() in-process: every integration restores exactly what it replaced."""

from __future__ import annotations

import argparse
import gc
import importlib
import random
import time

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from prov4ml_auto import collector, faults, integrations
from prov4ml_auto.collector import Collector
from prov4ml_auto.config import Config
from prov4ml_auto.document import Document, format_time, typed
from prov4ml_auto.events import Buffer
from prov4ml_auto.files import Hasher
from prov4ml_auto.integrations import _scalars, torch_data, torch_loss, torch_optim
from prov4ml_auto.recorder import Recorder


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
        "GradScaler.scale": vars(torch.amp.GradScaler)["scale"],
        "GradScaler.__init__": vars(torch.amp.GradScaler)["__init__"],
        "post hooks": len(optimizer._global_optimizer_post_hooks), "batch tasks": len(collector.batch_tasks),
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
    counts = ("post hooks", "batch tasks")
    assert all(patched[name] is not before[name] for name in before if name not in counts)
    assert (patched["post hooks"], patched["batch tasks"]) == (before["post hooks"] + 1, before["batch tasks"] + 1)

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


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backwards_replacement_passes_every_argument_on_as_torch_takes_them():
    """The replacement spells out torch's parameters (to be inlined): gradients, graphs kept or built and
    ``inputs`` reach torch as given, positionally or by name; a backward given a gradient is not a loss."""

    def gradients(call) -> list:
        weight = torch.tensor([1.0, 2.0], requires_grad=True)
        bias = torch.tensor(0.5, requires_grad=True)
        out = (weight * weight).sum() * bias
        call(out, weight, bias)
        first = [None if t.grad is None else t.grad.clone() for t in (weight, bias)]
        return first + [out.grad_fn is not None]

    calls = [
        lambda out, weight, bias: out.backward(),
        lambda out, weight, bias: out.backward(torch.tensor(3.0), True),
        lambda out, weight, bias: out.backward(inputs=[bias]),
        lambda out, weight, bias: out.backward(create_graph=True, inputs=[weight]),
        lambda out, weight, bias: torch.autograd.backward([out], grad_tensors=[torch.tensor(2.0)],
                                                          retain_graph=True),
        lambda out, weight, bias: torch.autograd.backward(out, None, None, False, None, [weight, bias]),
    ]
    plain = [gradients(call) for call in calls]
    buffer = Buffer(1000)
    integrations._patch(torch_loss, torch, Config({}), buffer)
    try:
        hooked = [gradients(call) for call in calls]
        recorded = [event[2] for event in buffer.drain() if event[1] == "loss"] + buffer_carried()
    finally:
        integrations.unpatch_all()
    assert len(hooked) == len(plain) and all(
        all(torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b for a, b in zip(h, p))
        for h, p in zip(hooked, plain))
    assert recorded == [2.5] * 4  # the four calls given no gradient


def buffer_carried() -> list:
    from prov4ml_auto.events import carried

    taken = list(carried)
    carried.clear()
    return taken


def test_a_backward_with_parameters_of_another_torch_is_left_alone_visibly(monkeypatch):
    def backward(tensors, gradient=None):  # not torch 2.x's parameters: wrapping it could break calls
        return None

    monkeypatch.setattr(torch.autograd, "backward", backward)
    monkeypatch.setattr(faults, "strict", False)
    before = faults.counts[torch_loss.NAME]
    integrations._patch(torch_loss, torch, Config({}), Buffer(10))
    try:
        assert torch.autograd.backward is backward
        assert faults.counts[torch_loss.NAME] == before + 1
        assert "training losses are not recorded" in faults.last_error[torch_loss.NAME]
    finally:
        integrations.unpatch_all()
        faults.counts[torch_loss.NAME] = before


def test_a_scaler_subclass_with_its_own_scale_records_the_users_loss():
    """FSDP's ShardedGradScaler scales in its own ``scale``: it is wrapped at its first instance, and undone."""
    from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

    own_scale = vars(ShardedGradScaler)["scale"]
    buffer = Buffer(1000)
    integrations._patch(importlib.import_module("prov4ml_auto.integrations.torch_loss"), torch, Config({}), buffer)
    try:
        scaler = ShardedGradScaler(device="cpu")
        model = torch.nn.Linear(2, 1)
        losses = [model(torch.full((1, 2), float(number))).sum() for number in (1, 2)]
        for loss in losses:
            scaler.scale(loss).backward()
        events = buffer.drain(final=True)  # the final drain takes the second loss, which no step took
        assert [event[1:] for event in events] == [("loss", loss.item()) for loss in losses]
    finally:
        integrations.unpatch_all()
    assert vars(ShardedGradScaler)["scale"] is own_scale


def test_a_batchs_device_losses_are_read_at_once_into_their_events(monkeypatch):
    """The collector's batched read, with the CPU standing in for a GPU: every loss an event carries (a step's,
    one alone, a validation loss; any dtype or one-value shape) becomes its float, in place; the rest stays."""
    monkeypatch.setattr(_scalars, "READ_LATER", ("cpu",))
    monkeypatch.setattr(torch_loss, "_device_losses_seen", True)
    monkeypatch.setattr(torch_loss, "_torch", torch)
    monkeypatch.setattr(torch_loss, "_tensor_type", torch.Tensor)
    other = torch.tensor(4.0)
    events = [(1.0, "step", 7, torch.tensor(0.5), 0.1), (2.0, "loss", torch.tensor([1.5])),
              (3.0, "eval_loss", torch.tensor(2.25, dtype=torch.float64)), (4.0, "step", 7, None, 0.1),
              (5.0, "checkpoint", other), (6.0, "step", 7, torch.tensor(0.75, dtype=torch.bfloat16), 0.2)]
    torch_loss._read_device_losses(_recorder(), events)
    assert events == [(1.0, "step", 7, 0.5, 0.1), (2.0, "loss", 1.5), (3.0, "eval_loss", 2.25),
                      (4.0, "step", 7, None, 0.1), (5.0, "checkpoint", other), (6.0, "step", 7, 0.75, 0.2)]
    assert all(type(event[3]) is float for event in events if event[1] == "step" and event[3] is not None)


def test_a_long_batch_is_handled_in_turns_that_hand_the_gil_over(monkeypatch, tmp_path):
    """Between turns the collector sleeps (giving the training thread the GIL), except in the final drain;
    every event is still handled, in order."""
    seen, sleeps = [], []
    monkeypatch.setitem(collector.handlers, "tick", lambda recorder, time, number: seen.append(number))
    monkeypatch.setattr(collector.time, "sleep", sleeps.append)
    buffer = Buffer(10_000)
    for number in range(2 * collector._EVENTS_PER_TURN + 1):
        buffer.emit_hot((time.time(), "tick", number))
    handler = Collector(buffer, _recorder(tmp_path), None, str(tmp_path / "prov.json"), 1.0)
    handler._pump()
    assert seen == list(range(2 * collector._EVENTS_PER_TURN + 1))
    assert sleeps == [collector._HAND_OVER_SECONDS] * 2
    for number in range(2 * collector._EVENTS_PER_TURN):
        buffer.emit_hot((time.time(), "tick", number))
    handler._pump(final=True)  # the final drain, after the training: nothing to hand over to
    assert len(seen) == 4 * collector._EVENTS_PER_TURN + 1 and len(sleeps) == 2


def test_a_pass_begun_under_an_abandoned_iterators_id_ends_that_pass(monkeypatch, tmp_path):
    """An iterator left unfinished (zip, break) and freed: the next iterator made, over another loader, may get
    its id(). The abandoned pass ends there, incomplete, and the new one is a pass of its own."""
    monkeypatch.setattr(torch_data, "_open", {})
    recorder = _recorder(tmp_path)
    training, evaluation = DataLoader(range(8), batch_size=4), DataLoader(range(4), batch_size=4)
    torch_data._on_pass_begin(recorder, 1.0, training, 12345, True, str(tmp_path), 1, False)
    recorder.training_seen(1.5)  # a training step in it: an epoch
    torch_data._on_pass_begin(recorder, 2.0, evaluation, 12345, False, str(tmp_path), 1, False)
    torch_data._on_pass_end(recorder, 3.0, 12345, 1)
    activities = recorder.doc.records("activity")
    assert activities["run:epoch/0"]["prov4ml:complete"] == typed(False)
    assert activities["run:epoch/0"]["prov:endTime"] == format_time(2.0)
    assert activities["run:evaluation/0"]["prov4ml:complete"] == typed(True)
    assert activities["run:evaluation/0"]["prov:endTime"] == format_time(3.0)


def test_a_trainers_steps_are_no_tail_of_the_plain_pass_before_it(tmp_path):
    """Steps after a pass ended are its tail (a loader reading ahead), unless a trainer's loop took over."""
    recorder = _recorder(tmp_path)
    recorder.begin_pass("plain", 1.0, True, {}, ())
    recorder.training_seen(1.5)
    recorder.global_step = 1
    recorder.end_pass("plain", 2.0, True, {"complete": True})
    recorder.claim_trainer("transformers")
    recorder.training_seen(3.0)
    recorder.global_step = 5
    recorder.release_trainer()
    recorder.end_all_phases(4.0)
    epoch = recorder.doc.records("activity")["run:epoch/0"]
    assert (epoch["prov4ml:steps"], epoch["prov:endTime"]) == (typed(1), format_time(2.0))


def test_a_loader_is_described_by_the_sampler_that_orders_its_samples(tmp_path):
    """A resumed Hugging Face epoch iterates a loader whose batch sampler is accelerate's SkipBatchSampler
    around the real one: the loader's own sampler is a SequentialSampler it never uses."""
    accelerate_data = pytest.importorskip("accelerate.data_loader")
    data = list(range(12))
    batches = BatchSampler(RandomSampler(data), batch_size=4, drop_last=False)
    loader = DataLoader(data, batch_sampler=accelerate_data.SkipBatchSampler(batches, skip_batches=1))
    recorder = _recorder(tmp_path)
    ident, _ = torch_data.describe_loader(recorder, loader)
    entity = recorder.doc.get("entity", ident)
    assert (entity["prov4ml:sampler"], entity["prov4ml:batchSampler"]) == ("RandomSampler", "SkipBatchSampler")
    assert (entity["prov4ml:shuffle"], entity["prov4ml:batchSize"]) == (typed(True), typed(4))


def test_a_state_load_is_a_resume_only_with_per_parameter_state():
    """accelerate's optimizer wrapper loads a fresh optimizer's own state into it; a resume brings momentum."""
    buffer = Buffer(1000)
    torch_optim.patch(torch, buffer.emit, buffer.emit_hot)
    try:
        model = torch.nn.Linear(2, 1)
        fresh = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        fresh.load_state_dict(fresh.state_dict())
        model(torch.ones(1, 2)).sum().backward()
        fresh.step()
        resumed = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        resumed.load_state_dict(fresh.state_dict())
    finally:
        torch_optim.unpatch()
    assert [event[-1] for event in buffer.drain() if event[1] == "optimizer_settings"] == \
        ["settings_loaded", "state_loaded"]


def _recorder(folder: object = ".") -> Recorder:
    return Recorder(Document({}), str(folder), Hasher(0, 0))


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
