"""Losses: training loss through autograd's backward, validation loss through torch.nn's loss functions.

A training loss is the tensor ``backward()`` is called on with no gradient given: torch has then checked that it
holds one value (a scalar, or a tensor of shape [1]). It is taken as ``_scalars`` says (a CPU loss read at
once: ``item()``, about 1,600 instructions; any other detached), inline here, on the hottest path; the
collector reads a drained batch's GPU losses all at once. The loss waits in ``events.carried`` for the
optimizer step that follows, whose event carries it (torch_optim): one event a step. A second backward before
any step (gradient accumulation, hand-written updates) sends its loss as an event of its own, after the waiting
one. Only plain ``torch.Tensor`` losses count: a tensor subclass may be a tracing stand-in (torch.compile's
fake tensors) or a distributed tensor whose read would be a collective. ``Tensor.backward`` calls
``torch.autograd.backward`` through the module attribute, so wrapping that one function sees both spellings.
torch.nn loss modules call the functions in ``torch.nn.functional`` the same way, so wrapping those sees
``nn.MSELoss()(...)`` and ``F.mse_loss(...)``; a loss computed with grad disabled is a validation loss.

Mixed precision: ``GradScaler.scale(loss).backward()`` runs backward on the loss times the scale (65536 at
first, changing as the scaler adapts), a number nobody logs (nor the loss Accelerate divides for gradient
accumulation: see accelerate_). The scaler's ``scale`` is wrapped to remember the
scaled tensor it returned and the user's loss it came from, and backward on that tensor records the user's loss.
A subclass with a ``scale`` of its own (FSDP's ShardedGradScaler) has it wrapped when its first instance is made.

Inside a trainer's loop (``Recorder.trainer``) the trainer owns the losses: it logs them itself, averaged and
scaled as it reports them, so the tensors seen here are not recorded.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from prov4ml_auto import collector, faults
from prov4ml_auto.events import carried, now
from prov4ml_auto.integrations import _scalars
from prov4ml_auto.integrations._patching import Patches, after, guarded, hide_our_frames
from prov4ml_auto.recorder import Recorder

NAME = "torch.loss"
TARGETS = ("torch",)
SUPPORTED = {"torch": ("2.0", "3")}

LOSS_FUNCTIONS = (
    "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss", "margin_ranking_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "ctc_loss",
)

_patches = Patches()
_emit_hot: Any = None
_grad_enabled: Any = None
_tensor_type: Any = None
_torch: Any = None
_scaled: list[Any] = []  # the last GradScaler.scale's (scaled, user's loss), until a backward takes it
given_loss: list[Any] = []  # the user's loss while a library backpropagates a scaled copy (accelerate_)

# torch.autograd.backward's parameters in every torch 2.x: the replacement has them too
_BACKWARD_PARAMETERS = ("tensors", "grad_tensors", "retain_graph", "create_graph", "grad_variables", "inputs")
_LOSS_AT = {"step": 3, "loss": 2, "eval_loss": 2}  # where each event kind carries a loss (torch_optim: "step")
_device_losses_seen = False  # the collector's first device loss turns on the batched reads


def patch(torch: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit_hot, _grad_enabled, _tensor_type, _torch
    _emit_hot, _grad_enabled, _tensor_type, _torch = emit_hot, torch.is_grad_enabled, torch.Tensor, torch
    if tuple(inspect.signature(torch.autograd.backward).parameters) == _BACKWARD_PARAMETERS:
        _patches.replace(torch.autograd, "backward", _backward)
    else:
        faults.caught(NAME, TypeError("torch.autograd.backward's parameters are not torch 2.x's: training losses "
                                      "are not recorded"))
    functional = torch.nn.functional
    for name in LOSS_FUNCTIONS:
        if hasattr(functional, name):
            _patches.replace(functional, name, _loss_function)
    for scaler in _grad_scalers(torch):
        _patches.replace(scaler, "scale", _scale)
        _patches.wrap(scaler, "__init__", after(_wrap_own_scale))
    collector.batch_tasks.append(_read_device_losses)


def unpatch() -> None:
    _patches.undo()
    _scaled.clear()
    given_loss.clear()
    if _read_device_losses in collector.batch_tasks:
        collector.batch_tasks.remove(_read_device_losses)


def _grad_scalers(torch: ModuleType) -> list[type]:
    """The GradScaler classes with a ``scale`` of their own: torch.amp's (torch 2.3+, torch.cuda.amp's is its
    subclass) and, before 2.3, torch.cuda.amp's."""
    found = []
    for amp in (getattr(torch, "amp", None), getattr(torch.cuda, "amp", None)):
        scaler = getattr(amp, "GradScaler", None)
        if isinstance(scaler, type) and "scale" in vars(scaler):
            found.append(scaler)
    return found


@guarded(NAME)
def _wrap_own_scale(scaler: Any, args: tuple, kwargs: dict, result: Any) -> None:
    """A scaler's construction: the ``scale`` of its class and of the classes between it and GradScaler, if
    they define one (already wrapped ones are left as they are)."""
    for cls in type(scaler).__mro__:
        if "scale" in vars(cls):
            _patches.replace(cls, "scale", _scale)


def _backward(original: Any) -> Any:
    """Once per training step: the replacement calls ``original`` itself (no wrapper layer), with torch's own
    parameters (``_BACKWARD_PARAMETERS``, checked when patching): forwarding ``*args, **kwargs`` instead cost
    about 1 µs a step, as such a call is not inlined by the interpreter."""

    def backward(tensors: Any, grad_tensors: Any = None, retain_graph: Any = None, create_graph: bool = False,
                 grad_variables: Any = None, inputs: Any = None) -> Any:
        try:
            result = original(tensors, grad_tensors, retain_graph, create_graph, grad_variables, inputs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        try:
            # no gradient given: torch has just checked that the tensor holds one value (no call needed here)
            if grad_tensors is None and grad_variables is None and type(tensors) is _tensor_type:
                if _scaled:  # mixed precision: the user's loss, not the scaled one
                    if tensors is _scaled[0]:
                        tensors = _scaled[1]
                    _scaled.clear()
                if given_loss:  # Accelerate's backward of the loss divided for gradient accumulation
                    tensors = given_loss.pop()
                loss = tensors.item() if tensors.is_cpu else tensors.detach()
                if carried:  # no step took the previous backward's loss: this one follows it into the queue
                    _emit_hot((now(), "loss", loss))
                else:
                    carried.append(loss)
        except Exception as exc:
            faults.caught(NAME, exc)
        return result

    return backward


def _scale(original: Any) -> Any:
    """Once per mixed-precision step. The pair is held until the next backward (or scale), which the scaled
    tensor's own graph outlives anyway."""

    def scale(self: Any, outputs: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            scaled = original(self, outputs, *args, **kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        if type(scaled) is _tensor_type and scaled is not outputs:
            _scaled[:] = (scaled, outputs)
        return scaled

    return scale


def _loss_function(original: Any) -> Any:
    """Once per training step too, where it costs only the grad mode check."""

    def loss_function(*args: Any, **kwargs: Any) -> Any:
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        if not _grad_enabled():
            try:
                if type(result) is _tensor_type and result.dim() == 0:
                    _emit_hot((now(), "eval_loss", _scalars.taken(result)))
            except Exception as exc:
                faults.caught(NAME, exc)
        return result

    return loss_function


def _read_device_losses(recorder: Recorder, events: list[tuple]) -> None:
    """Collector, each drained batch once a device loss has been seen: the batch's device losses, read with one
    synchronisation and one copy per device and dtype and put back into their events as floats. Read one by
    one, a GPU loop of millisecond steps would have this thread wait on the GPU, and take the GIL back from
    the training thread, thousands of times a second."""
    if not _device_losses_seen or recorder.trainer is not None:
        return
    groups: dict[tuple[Any, Any], list[tuple[int, int]]] = {}
    for index, event in enumerate(events):
        at = _LOSS_AT.get(event[1])
        if at is not None and len(event) > at and type(event[at]) is _tensor_type:
            loss = event[at]
            if loss.device.type in _scalars.READ_LATER:
                groups.setdefault((loss.device, loss.dtype), []).append((index, at))
    for (device, _), places in groups.items():
        _scalars.wait_for(device)
        values = _torch.cat([events[index][at].reshape(1) for index, at in places]).tolist()
        for (index, at), value in zip(places, values):
            event = events[index]
            events[index] = (*event[:at], value, *event[at + 1:])


def _device_loss(loss: Any) -> float | None:
    """The first device loss, read alone: it turns on the batched reads for the batches after it."""
    global _device_losses_seen
    _device_losses_seen = True
    return _scalars.read(loss)


def _on_loss(recorder: Recorder, time: float, loss: float | Any) -> None:
    """A loss no step has taken yet: it feeds the run's next step."""
    record_losses(recorder, [(recorder.global_step + 1, time, loss)])


def record_losses(recorder: Recorder, losses: list[tuple[int, float, float | Any]], series: str = "loss") -> None:
    """Training losses as (step fed, time, loss), a run of steps' at once (torch_optim's run of step events):
    a CPU loss arrives as a float, recorded with no further call. ``series``: see torch_optim._leads."""
    if recorder.trainer is not None:
        return
    recorder.training_seen(losses[-1][1])
    epoch = recorder.epoch_index
    rows = [(step, epoch, time, loss if type(loss) is float else _device_loss(loss)) for step, time, loss in losses]
    recorder.metric_rows(series, [row for row in rows if row[3] is not None])


def _on_eval_loss(recorder: Recorder, time: float, loss: float | Any) -> None:
    if recorder.trainer is None:
        value = loss if type(loss) is float else _device_loss(loss)
        if value is not None:
            recorder.evaluation_seen(time)
            recorder.metric("eval_loss", value, time)


HANDLERS = {"loss": _on_loss, "eval_loss": _on_eval_loss}
