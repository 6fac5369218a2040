"""argparse: the parsed namespace becomes the run's hyperparameters."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto import faults
from prov4ml_auto.integrations._patching import Patches

NAME = "argparse"
TARGETS = ("argparse",)
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None
_depth = 0


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(module.ArgumentParser, "parse_known_args", _parse_known_args)


def unpatch() -> None:
    _patches.undo()


def _parse_known_args(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Only the outermost parse is recorded: subparsers call parse_known_args again, on part of argv."""
    global _depth
    _depth += 1
    try:
        result = wrapped(*args, **kwargs)
    finally:
        _depth -= 1
    if _depth == 0:
        try:
            _emit("hyperparameters", "argparse", dict(vars(result[0])))
        except Exception as exc:
            faults.caught(NAME, exc)
    return result


HANDLERS: dict = {}  # "hyperparameters" is a core event (agent.py)
