"""The script's own settings when it has no parser: module-level names of ``__main__`` holding plain values.

Much research code sets its hyperparameters at the top of the script (``BATCH_SIZE = 64``, nanoGPT's
``learning_rate = 6e-4``, overridden by an exec'd config file) or in a module-level ``config = {...}`` dict.
Which names are settings is read from the script's source, not guessed from values: the names it assigns at
module level outside any loop, less those a function declares ``global`` (``best_acc``, which the training
updates), those an augmented assignment changes, and those a loop assigns or changes in place (the variables
of a training loop written at module level: ``epoch``, ``i``, ``history.append(loss)``). At the end of the
run the collector records their values then (overrides included) as hyperparameters, source ``script``.
Plain values only: numbers, strings, booleans, short lists and tuples of them, and dicts of those
(``config.lr``, unless ``lr`` is recorded with that value already); no object is looked into. A script read
from standard input, or a notebook, has no source file: nothing is recorded.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Iterable

from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import redact_mapping

if TYPE_CHECKING:
    import ast

SOURCE = "script"
_SCALARS = (bool, int, float, str)
_MAX_ITEMS = 16  # a longer list (a vocabulary, a table of results) is data, not a setting
_MAX_TEXT = 500
_MAX_SOURCE_BYTES = 1 << 20
_ABSENT = object()


def record(recorder: Recorder, now: float, final: bool) -> None:
    """Collector periodic task: at the end of the run only, when the values are the ones the run used."""
    if not final:
        return
    main = sys.modules.get("__main__")
    source = _source(recorder.script_path)  # __main__.__file__ is gone once the script has returned
    if source is None or main is None:
        return
    names = settings_assigned(source)
    values = settings_of({name: value for name, value in list(vars(main).items()) if name in names})
    if values:
        recorder.hyperparameters(SOURCE, redact_mapping(values), now)


def _source(path: Any) -> str | None:
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_SOURCE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def settings_assigned(source: str) -> set[str]:
    """The names a module assigns at its top level (in ``if``/``with``/``try`` blocks too) outside any loop,
    that nothing else assigns: no loop, no augmented assignment, no function's ``global`` statement. (``ast``
    is imported here, on the collector at the run's end: it is no start-up cost.)"""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    settings: set[str] = set()
    changed: set[str] = set()
    _visit(tree.body, False, settings, changed)
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            changed.update(node.names)
        elif isinstance(node, ast.AugAssign):
            changed.update(_names(node.target))
    return settings - changed


def _visit(statements: Iterable[ast.stmt], in_loop: bool, settings: set[str], changed: set[str]) -> None:
    import ast

    for statement in statements:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                (changed if in_loop else settings).update(_names(target))
        elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            if not isinstance(statement, ast.While):
                changed.update(_names(statement.target))
            changed.update(_grown_in(statement))
            _visit(statement.body + statement.orelse, True, settings, changed)
        elif isinstance(statement, (ast.If, ast.With, ast.AsyncWith)):
            _visit(statement.body + getattr(statement, "orelse", []), in_loop, settings, changed)
        elif isinstance(statement, ast.Try):
            blocks = [statement.body, statement.orelse, statement.finalbody,
                      *(handler.body for handler in statement.handlers)]
            for block in blocks:
                _visit(block, in_loop, settings, changed)


def _grown_in(loop: ast.stmt) -> set[str]:
    """Names a loop changes in place: ``history.append(loss)``, ``results[epoch] = accuracy``."""
    import ast

    grown = set()
    for node in ast.walk(loop):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            grown.update(_names(node.func.value))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            grown.update(_names(node.value))
    return grown


def _names(target: ast.expr) -> list[str]:
    import ast

    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for item in target.elts for name in _names(item)]
    if isinstance(target, ast.Starred):
        return _names(target.value)
    return []  # an attribute or a subscript binds no name


def settings_of(namespace: dict[str, Any]) -> dict[str, Any]:
    """The plain values among ``namespace``, dicts flattened one level (``config.lr``)."""
    found: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        if type(value) is dict:
            for key, item in list(value.items())[:_MAX_ITEMS * 4]:
                if isinstance(key, str) and _plain(item):
                    found[f"{name}.{key}"] = item
        elif _plain(value):
            found[name] = value
    return {name: value for name, value in found.items()  # nanoGPT's config dict repeats its globals
            if "." not in name or found.get(name.split(".", 1)[1], _ABSENT) != value}


def _plain(value: Any) -> bool:
    if type(value) in _SCALARS:
        return not isinstance(value, str) or len(value) <= _MAX_TEXT
    if type(value) in (list, tuple):
        return len(value) <= _MAX_ITEMS and all(type(item) in _SCALARS for item in value)
    return False
