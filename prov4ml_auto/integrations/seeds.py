"""Random seeds: random.seed, numpy.random.seed, torch.manual_seed and torch.cuda.manual_seed(_all).

Only the calls the script made: torch.manual_seed seeds CUDA by calling torch.cuda.manual_seed_all itself,
which records nothing then (the wrappers share one ``Nesting``). A seed per sample (torchvision's FakeData
seeds every ``__getitem__``) would grow the document with the data: past the first ``_LISTED`` calls of a
function, calls are only counted, on the run (``seedCallsNotListed``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto import collector
from prov4ml_auto.document import QName, local_name
from prov4ml_auto.integrations._patching import Nesting, Patches, guarded, outermost
from prov4ml_auto.recorder import Recorder

NAME = "seeds"
TARGETS = ("random", "numpy", "torch")
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None
_seeding = Nesting()
_LISTED = 1000  # a script's own seeds (one a step in some loops) are listed: this bounds a seed a sample
_calls: dict[str, int] = {}  # function -> calls seen (collector)


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    if _report_unlisted not in collector.periodic:
        collector.periodic.append(_report_unlisted)
    if module.__name__ == "random":
        _patches.wrap(module, "seed", _recorder_for("random.seed"))
    elif module.__name__ == "numpy":
        _patches.wrap(module.random, "seed", _recorder_for("numpy.random.seed"))
    else:
        _patches.wrap(module, "manual_seed", _recorder_for("torch.manual_seed"))
        _patches.wrap(module.cuda, "manual_seed", _recorder_for("torch.cuda.manual_seed"))
        _patches.wrap(module.cuda, "manual_seed_all", _recorder_for("torch.cuda.manual_seed_all"))


def unpatch() -> None:
    _patches.undo()
    if _report_unlisted in collector.periodic:
        collector.periodic.remove(_report_unlisted)


def _recorder_for(function: str):
    @guarded(NAME)
    def record(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
        value = args[0] if args else kwargs.get("seed", kwargs.get("a"))
        _emit("seed", function, value if isinstance(value, (int, float, str)) else repr(value))
    return outermost(record, _seeding)


def _on_seed(recorder: Recorder, time: float, function: str, value: Any) -> None:
    _calls[function] = calls = _calls.get(function, 0) + 1
    if calls > _LISTED:
        return
    recorder.used_entity(
        recorder.numbered(f"seed/{local_name(function)}"),
        {"prov:type": QName("prov4ml:Seed"), "function": function, "prov:value": value}, time,
    )


def _report_unlisted(recorder: Recorder, now: float, final: bool) -> None:
    """Each tick and at the end, not at every call: each record update is a journal line."""
    unlisted = sum(max(0, calls - _LISTED) for calls in _calls.values())
    if unlisted != _reported[0]:
        _reported[0] = unlisted
        recorder.update_run({"seedCallsNotListed": unlisted})


_reported = [0]
HANDLERS = {"seed": _on_seed}
