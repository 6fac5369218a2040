"""click, and typer (which vendors its own copy of click as ``typer._click``): a command's parsed parameters
become the run's hyperparameters, as argparse's namespace does (source ``click``; a group's and the subcommand's
parameters alike), and the values naming existing files (``click.Path``, ``click.File``) are inputs the run used.

``Command.parse_args(ctx, args)`` fills ``ctx.params``; a group's own ``parse_args`` calls it too, and each
subcommand's context is parsed the same way, later. The options whose values are secret, by their names or
because their prompt hides its input (``hide_input=True``), are redacted from the run's command line, and so
are the values parsed for them (a positional ``token``): the command line is recorded at the parse of the
command that runs (a group's subcommand), with the secrets of every parse before it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Iterator

from prov4ml_auto.integrations._files import as_setting
from prov4ml_auto.integrations._parsed import report, secrets_among
from prov4ml_auto.integrations._patching import Patches, after, argument, guarded
from prov4ml_auto.redact import REDACTED, is_secret_name

NAME = "click"
TARGETS = ("click.core", "typer._click.core")
SUPPORTED: dict = {}  # click 8.2+ has no ``__version__``; ``Command.parse_args`` filling ``ctx.params`` is 7.x-8.x's

_patches = Patches()
_emit: Any = None
_secret_values: list[str] = []  # those of every parse so far: the command line is recorded at the subcommand's


def patch(core: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(core.Command, "parse_args", after(_parsed))


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _parsed(command: Any, args: tuple, kwargs: dict, result: Any) -> None:
    ctx = argument(args, kwargs, 0, "ctx")
    if getattr(ctx, "resilient_parsing", False):  # shell completion parses without running anything
        return
    hidden = {param.name for param in command.params if _is_secret(param)}
    _secret_values.extend(secrets_among(ctx.params, hidden))
    values = {name: REDACTED if name in hidden else as_setting(value) for name, value in ctx.params.items()}
    if hasattr(command, "commands"):  # a group: its subcommand's parse comes next
        report(_emit, NAME, values, None, hidden)
        return
    root = ctx.find_root().command
    report(_emit, NAME, values, [option for param in _all_params(root) if _is_secret(param)
                                 for option in (*param.opts, *param.secondary_opts)], hidden, _secret_values)


def _is_secret(param: Any) -> bool:
    return bool(getattr(param, "hide_input", False) or is_secret_name(param.name or "")
                or any(is_secret_name(option) for option in param.opts))


def _all_params(command: Any) -> Iterator[Any]:
    """The parameters of a command and of every subcommand below it (a group's ``commands``)."""
    yield from command.params
    for sub in getattr(command, "commands", {}).values():
        yield from _all_params(sub)


HANDLERS: dict = {}  # its events are core ones (agent.py), as argparse's
