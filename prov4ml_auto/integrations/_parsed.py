"""What every command-line parser's hook reports once it has parsed (argparse, click, absl): the values as
hyperparameters, the options whose values are secret (so the run's command hides them), and the existing files
the values name (inputs of the run). The collector's side of these events is the agent's (core events)."""

from __future__ import annotations

from typing import Any, Collection, Mapping

from prov4ml_auto.integrations._files import named_files
from prov4ml_auto.redact import is_secret_name


def report(emit: Any, source: str, values: Mapping[str, Any], secret_options: Collection[str] | None,
           hidden: Collection[str] = (), secret_values: Collection[str] = ()) -> None:
    """``secret_options``: None when another parse of the same command line names them (click's subcommands);
    ``hidden``: names whose values are secret though their names are not (a prompt that hides its input);
    ``secret_values``: the values parsed for secret names, which the command line shows where no option names
    them (a positional ``token``), besides those among ``values``."""
    emit("hyperparameters", source, dict(values))
    if secret_options is not None:
        emit("arguments_parsed", list(secret_options), [*secret_values, *secrets_among(values)])
    files = named_files(value for name, value in values.items() if name not in hidden and not is_secret_name(name))
    if files:
        emit("argument_files", files)


def secrets_among(values: Mapping[str, Any], hidden: Collection[str] = ()) -> list[str]:
    """The text values of secret (or ``hidden``) names, as they would stand on a command line."""
    found = []
    for name, value in values.items():
        if name in hidden or is_secret_name(name):
            found.extend(item for item in (value if isinstance(value, (list, tuple)) else [value])
                         if isinstance(item, str) and item)
    return found
