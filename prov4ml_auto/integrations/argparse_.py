"""argparse: the parsed namespace becomes the run's hyperparameters."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._patching import Patches, guarded, outermost

NAME = "argparse"
TARGETS = ("argparse",)
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(module.ArgumentParser, "parse_known_args", outermost(_parsed))


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _parsed(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    _emit("hyperparameters", "argparse", dict(vars(result[0])))


HANDLERS: dict = {}  # "hyperparameters" is a core event (agent.py)
