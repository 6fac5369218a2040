"""TensorBoard: every scalar the script already writes through torch.utils.tensorboard's SummaryWriter."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto import faults
from prov4ml_auto.integrations._patching import Patches
from prov4ml_auto.recorder import Recorder

NAME = "tensorboard"
TARGETS = ("torch.utils.tensorboard",)
SUPPORTED: dict = {}

_patches = Patches()
_emit_hot: Any = None
_emit: Any = None


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit, _emit_hot
    _emit, _emit_hot = emit, emit_hot
    writer = module.SummaryWriter
    _patches.wrap(writer, "add_scalar", _add_scalar)
    _patches.wrap(writer, "add_scalars", _add_scalars)
    _patches.wrap(writer, "add_hparams", _add_hparams)


def unpatch() -> None:
    _patches.undo()


def _argument(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _add_scalar(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    result = wrapped(*args, **kwargs)
    try:
        _emit_hot("tb_scalar", _argument(args, kwargs, 0, "tag"), _argument(args, kwargs, 1, "scalar_value"),
                  _argument(args, kwargs, 2, "global_step"))
    except Exception as exc:
        faults.caught(NAME, exc)
    return result


def _add_scalars(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    result = wrapped(*args, **kwargs)
    try:
        main_tag = _argument(args, kwargs, 0, "main_tag")
        step = _argument(args, kwargs, 2, "global_step")
        for tag, value in dict(_argument(args, kwargs, 1, "tag_scalar_dict")).items():
            _emit_hot("tb_scalar", f"{main_tag}/{tag}", value, step)
    except Exception as exc:
        faults.caught(NAME, exc)
    return result


def _add_hparams(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    result = wrapped(*args, **kwargs)
    try:
        _emit("hyperparameters", "tensorboard", dict(_argument(args, kwargs, 0, "hparam_dict")))
    except Exception as exc:
        faults.caught(NAME, exc)
    return result


def _on_scalar(recorder: Recorder, time: float, tag: Any, value: Any, step: Any) -> None:
    number = float(value.item() if hasattr(value, "item") else value)
    recorder.metric(f"tensorboard/{tag}", number, time, step=int(step) if step is not None else None)



HANDLERS = {"tb_scalar": _on_scalar}
