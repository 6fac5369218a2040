"""TensorBoard: every scalar the script already writes through torch.utils.tensorboard's SummaryWriter.

A scalar given as a tensor (often the loss itself, graph and all) travels as ``_scalars`` says: a CPU tensor's
number (SummaryWriter has just read it too), or a GPU tensor detached, which the collector reads.

Inside a trainer's loop (``Recorder.trainer``), the writer is the trainer's logger (Lightning's default one,
Hugging Face's ``report_to="tensorboard"``) passing on values and arguments the trainer integration records
already: they are left out rather than recorded twice.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto.events import now
from prov4ml_auto.integrations import _scalars
from prov4ml_auto.integrations._patching import Patches, after, argument, guarded
from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import redact_mapping

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
    _patches.wrap(writer, "add_scalar", after(_add_scalar))
    _patches.wrap(writer, "add_scalars", after(_add_scalars))
    _patches.wrap(writer, "add_hparams", after(_add_hparams))


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _add_scalar(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    value = _scalars.taken(argument(args, kwargs, 1, "scalar_value"))
    _emit_hot((now(), "tb_scalar", argument(args, kwargs, 0, "tag"), value, argument(args, kwargs, 2, "global_step")))


@guarded(NAME)
def _add_scalars(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    main_tag = argument(args, kwargs, 0, "main_tag")
    step = argument(args, kwargs, 2, "global_step")
    for tag, value in dict(argument(args, kwargs, 1, "tag_scalar_dict")).items():
        _emit_hot((now(), "tb_scalar", f"{main_tag}/{tag}", _scalars.taken(value), step))


@guarded(NAME)
def _add_hparams(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    _emit("tb_hparams", dict(argument(args, kwargs, 0, "hparam_dict")))


def _on_scalar(recorder: Recorder, time: float, tag: Any, value: Any, step: Any) -> None:
    number = _scalars.number(value)
    if number is None or recorder.trainer is not None:
        return
    recorder.metric(f"tensorboard/{tag}", number, time, step=int(step) if step is not None else None)


def _on_hparams(recorder: Recorder, time: float, values: dict) -> None:
    if recorder.trainer is None:
        recorder.hyperparameters("tensorboard", redact_mapping(values), time)


HANDLERS = {"tb_scalar": _on_scalar, "tb_hparams": _on_hparams}
