"""absl flags (Google-style scripts: ``flags.DEFINE_float("lr", ...)`` then ``app.run(main)``): the flags the
script and its own modules define become hyperparameters once parsed (source ``absl``), as argparse's
namespace does; absl's own flags (logging verbosity, ``--helpfull``) are not. Secret-looking flags are
redacted in the values and on the command line, and values naming existing files are inputs of the run.

``FlagValues.__call__(argv)`` parses (``app.run`` calls it on ``FLAGS``); its flags are grouped by the module
that defined them, the script's under its path (``sys.argv[0]``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._parsed import report
from prov4ml_auto.integrations._patching import Patches, guarded, outermost
from prov4ml_auto.redact import is_secret_name

NAME = "absl"
TARGETS = ("absl.flags",)
SUPPORTED: dict = {}  # absl-py has no __version__; FlagValues.__call__ and flags_by_module_dict are 0.x-2.x's

_patches = Patches()
_emit: Any = None


def patch(flags: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(flags.FlagValues, "__call__", outermost(_parsed))


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _parsed(flag_values: Any, args: tuple, kwargs: dict, result: Any) -> None:
    defined = [flag for module, flags in flag_values.flags_by_module_dict().items()
               if not module.startswith("absl.") for flag in flags]
    report(_emit, NAME, {flag.name: flag.value for flag in defined},
           [option for flag in defined if is_secret_name(flag.name)
            for option in (f"--{flag.name}", f"-{flag.short_name}" if flag.short_name else "") if option])


HANDLERS: dict = {}  # its events are core ones (agent.py), as argparse's
