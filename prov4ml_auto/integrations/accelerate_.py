"""Hugging Face Accelerate: ``Accelerator.backward(loss)`` divides the loss by its gradient accumulation steps
(and may scale it for mixed precision) before backpropagating it, so the tensor autograd's backward sees is not
the user's loss. The replacement names the user's loss to torch_loss for the backward inside it, as torch_loss
does itself for a GradScaler's ``scale``. Inside a Hugging Face Trainer the Trainer owns the losses anyway."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto.integrations import torch_loss
from prov4ml_auto.integrations._patching import Patches, hide_our_frames

NAME = "accelerate"
TARGETS = ("accelerate",)
SUPPORTED = {"accelerate": ("0.20", "2")}
HANDLERS: dict = {}

_patches = Patches()


def patch(accelerate: ModuleType, emit: Any, emit_hot: Any) -> None:
    _patches.replace(accelerate.Accelerator, "backward", _backward)


def unpatch() -> None:
    _patches.undo()


def _backward(original: Any) -> Any:
    """Once per training step of an Accelerate loop."""

    def backward(self: Any, loss: Any, **kwargs: Any) -> Any:
        torch_loss.given_loss[:] = (loss,)
        try:
            return original(self, loss, **kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        finally:
            torch_loss.given_loss.clear()  # a path with no autograd backward (Megatron-LM's) leaves it unused

    return backward
