"""Losses: training loss through autograd's backward, validation loss through torch.nn's loss functions.

A training loss is the tensor ``backward()`` is called on with no gradient given: torch has then checked that it
holds one value (a scalar, or a tensor of shape [1]). A CPU loss is read at once on the training thread
(``item()``, 150 ns, nothing to wait for); any other loss is detached and read by the collector (reading a GPU
value here would wait for the GPU). The loss waits in ``events.carried`` for the optimizer step that follows,
whose event carries it (torch_optim): one event a step. A second backward before any step (gradient
accumulation, hand-written updates) sends its loss as an event of its own, after the waiting one. The training
thread never hands over the loss tensor itself: the collector holding it would keep the step's autograd graph
alive and free it on the other thread, which measurably slowed both threads. Only plain ``torch.Tensor``
losses count: a tensor subclass may be a tracing stand-in (torch.compile's fake tensors) or a distributed
tensor whose read would be a collective. ``Tensor.backward`` calls ``torch.autograd.backward`` through the
module attribute, so wrapping that one function sees both spellings. torch.nn loss modules call the functions
in ``torch.nn.functional`` the same way, so wrapping those sees ``nn.MSELoss()(...)`` and ``F.mse_loss(...)``;
a loss computed with grad disabled is a validation loss.

Inside a trainer's loop (``Recorder.trainer``) the trainer owns the losses: it logs them itself, averaged and
scaled as it reports them, so the tensors seen here are not recorded.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto import faults
from prov4ml_auto.events import carried
from prov4ml_auto.integrations._patching import Patches
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
_cuda: Any = None  # torch.cuda

# Devices whose scalars the collector reads; others (meta, lazy/XLA, where a read runs the pending graph)
# are not read.
_READ_LATER = ("cuda", "xpu", "mps")


def patch(torch: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit_hot, _grad_enabled, _tensor_type, _cuda
    _emit_hot, _grad_enabled, _tensor_type, _cuda = emit_hot, torch.is_grad_enabled, torch.Tensor, torch.cuda
    _patches.replace(torch.autograd, "backward", _backward)
    functional = torch.nn.functional
    for name in LOSS_FUNCTIONS:
        if hasattr(functional, name):
            _patches.replace(functional, name, _loss_function)


def unpatch() -> None:
    _patches.undo()


def _backward(original: Any) -> Any:
    """Once per training step: the replacement calls ``original`` itself (no wrapper layer)."""

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(tensors, *args, **kwargs)
        try:
            # no gradient given: torch has just checked that the tensor holds one value (no call needed here)
            if type(tensors) is _tensor_type and (args[0] if args else kwargs.get("grad_tensors")) is None:
                loss = tensors.item() if tensors.is_cpu else tensors.detach()
                if carried:  # no step took the previous backward's loss: this one follows it into the queue
                    _emit_hot("loss", loss)
                else:
                    carried.append(loss)
        except Exception as exc:
            faults.caught(NAME, exc)
        return result

    return backward


def _loss_function(original: Any) -> Any:
    """Once per training step too, where it costs only the grad mode check."""

    def loss_function(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not _grad_enabled():
            try:
                if type(result) is _tensor_type and result.dim() == 0:
                    _emit_hot("eval_loss", result.item() if result.is_cpu else result.detach())
            except Exception as exc:
                faults.caught(NAME, exc)
        return result

    return loss_function


def _value(loss: Any) -> float | None:
    """A detached device tensor, read here. On CUDA, the collector thread's current device becomes the
    tensor's own (a device guard restoring the thread's default device 0 would otherwise create a CUDA
    context on GPU 0 in a rank that uses another GPU), and the device is synchronised first: the read is
    queued on this thread's default stream, which does not wait for a loss computed on one of the training's
    side streams. Only this thread waits."""
    if loss.device.type not in _READ_LATER:
        return None
    if loss.device.type == "cuda":
        _cuda.set_device(loss.device)
        _cuda.synchronize(loss.device)
    return float(loss.item())


def _on_loss(recorder: Recorder, time: float, loss: float | Any) -> None:
    """A loss no step has taken yet: it feeds the run's next step."""
    record_loss(recorder, time, loss, recorder.global_step + 1)


def record_loss(recorder: Recorder, time: float, loss: float | Any, step: int) -> None:
    """Once per training step (torch_optim calls it with the step that took the loss): a CPU loss arrives as a
    float, recorded with no further call."""
    if recorder.trainer is None:
        value = loss if type(loss) is float else _value(loss)
        if value is not None:
            recorder.metric("loss", value, time, step=step)


def _on_eval_loss(recorder: Recorder, time: float, loss: float | Any) -> None:
    if recorder.trainer is None:
        value = loss if type(loss) is float else _value(loss)
        if value is not None:
            recorder.metric("eval_loss", value, time)


HANDLERS = {"loss": _on_loss, "eval_loss": _on_eval_loss}
