"""argparse: the parsed namespace becomes the run's hyperparameters, and the options whose values are secret
(by their names: ``-p/--password``) are redacted from the run's command line too. Values that name existing
files (``--train-file data/train.csv``, ``--config cfg.yaml``) are inputs the run used, hashed by content: a
configuration file by its suffix, any other a data file (a checkpoint the script then loads is a checkpoint).
Folders are not (an output folder that exists already is no input), nor the files of secret options
(``--token-file``)."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._files import Version, file_version
from prov4ml_auto.integrations._patching import Patches, guarded, outermost
from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import is_secret_name

NAME = "argparse"
TARGETS = ("argparse",)
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".conf", ".py")
_MAX_FILES = 64


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(module.ArgumentParser, "parse_known_args", outermost(_parsed))


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _parsed(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    _emit("hyperparameters", "argparse", dict(vars(result[0])))
    _emit("arguments_parsed", [option for action in instance._actions if is_secret_name(action.dest)
                               or any(is_secret_name(option) for option in action.option_strings)
                               for option in action.option_strings])
    files = _named_files(value for name, value in vars(result[0]).items() if not is_secret_name(name))
    if files:
        _emit("argument_files", files)


def _named_files(values: Any) -> list[tuple[str, Version]]:
    """Existing regular files named by string or path values (or lists of them), with their versions."""
    items = (item for value in values for item in (value if isinstance(value, (list, tuple)) else [value]))
    found = (file_version(item) for item in items if isinstance(item, (str, os.PathLike)))
    return [named for named in found if named is not None][:_MAX_FILES]


def _on_argument_files(recorder: Recorder, time: float, files: list[tuple[str, Version]]) -> None:
    for path, version in files:
        recorder.file_read(path, input_kind(path), time, version)


def input_kind(path: str) -> str:
    """A file an argument names: a configuration file by its suffix (a ``.py`` one too, as nanoGPT's and
    mmdetection's configs are; the script itself is not among them), else data."""
    return "prov4ml:ConfigFile" if path.lower().endswith(CONFIG_SUFFIXES) else "prov4ml:DataFile"


HANDLERS = {"argument_files": _on_argument_files}  # "hyperparameters" is a core event (agent.py)
