"""Losses: training loss through autograd's backward, validation loss through torch.nn's loss functions.

Training thread: keeps a reference to the scalar tensor and nothing else (``loss.item()`` would wait for the
GPU); the collector reads the values. ``Tensor.backward`` calls ``torch.autograd.backward`` through the module
attribute, so wrapping that one function sees both spellings. torch.nn loss modules call the functions in
``torch.nn.functional`` the same way, so wrapping those sees ``nn.MSELoss()(...)`` and ``F.mse_loss(...)``;
a loss computed with grad disabled is a validation loss.

Inside a trainer's loop (``Recorder.trainer``) the trainer owns the losses: it logs them itself, averaged and
scaled as it reports them, so the tensors seen here are not recorded.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto import faults
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


def patch(torch: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit_hot, _grad_enabled, _tensor_type
    _emit_hot, _grad_enabled, _tensor_type = emit_hot, torch.is_grad_enabled, torch.Tensor
    _patches.replace(torch.autograd, "backward", _backward)
    functional = torch.nn.functional
    for name in LOSS_FUNCTIONS:
        if hasattr(functional, name):
            _patches.replace(functional, name, _loss_function)


def unpatch() -> None:
    _patches.undo()


def _backward(original: Any) -> Any:
    """Once per training step: the replacement calls ``original`` itself (no wrapper layer)."""

    def backward(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        try:
            tensors = args[0] if args else kwargs.get("tensors")
            if isinstance(tensors, _tensor_type) and tensors.dim() == 0:
                _emit_hot("loss", tensors)
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
                if isinstance(result, _tensor_type) and result.dim() == 0:
                    _emit_hot("eval_loss", result)
            except Exception as exc:
                faults.caught(NAME, exc)
        return result

    return loss_function


def _value(tensor: Any) -> float | None:
    """Read on the collector; a meta or otherwise unreadable tensor has no value."""
    if tensor.is_meta:
        return None
    return float(tensor.item())


def _on_loss(recorder: Recorder, time: float, tensor: Any) -> None:
    if recorder.trainer is not None:
        return
    value = _value(tensor)
    if value is not None:
        recorder.metric("loss", value, time, step=recorder.global_step + 1)


def _on_eval_loss(recorder: Recorder, time: float, tensor: Any) -> None:
    if recorder.trainer is not None:
        return
    value = _value(tensor)
    if value is not None:
        recorder.metric("eval_loss", value, time)


HANDLERS = {"loss": _on_loss, "eval_loss": _on_eval_loss}
