"""argparse: the parsed namespace becomes the run's hyperparameters, and the options whose values are secret
(by their names: ``-p/--password``) are redacted from the run's command line too. Values that name existing
files (``--train-file data/train.csv``, ``--config cfg.yaml``) are inputs the run used, hashed by content: a
configuration file by its suffix, any other a data file (a checkpoint the script then loads is a checkpoint).
Folders are not (an output folder that exists already is no input), nor the files of secret options
(``--token-file``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._files import as_setting
from prov4ml_auto.integrations._parsed import report
from prov4ml_auto.integrations._patching import Patches, guarded, outermost
from prov4ml_auto.redact import is_secret_name

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
    report(_emit, "argparse", {name: as_setting(value) for name, value in vars(result[0]).items()},
           [option for action in instance._actions if is_secret_name(action.dest)
            or any(is_secret_name(option) for option in action.option_strings) for option in action.option_strings])


HANDLERS: dict = {}  # its events ("hyperparameters", "arguments_parsed", "argument_files") are core ones (agent.py)
