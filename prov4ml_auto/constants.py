"""The script's own settings when it has no parser: module-level names of ``__main__`` holding plain values.

Much research code sets its hyperparameters at the top of the script (``BATCH_SIZE = 64``, nanoGPT's
``learning_rate = 6e-4``, overridden by an exec'd config file) or in a module-level ``config = {...}`` dict.
Which names are settings is read from the script's source, not guessed from values: a setting is bound once at
module level (in ``if``/``with``/``try`` blocks too, not in a loop), to a literal (a number, a string, a tuple,
list or dict of them) or an expression of literals and other settings (``5 * 8``, ``f"{DATA_DIR}/train.csv"``).
Not a setting: a value computed by a call, an attribute or an index (``elapsed = time.time() - start``, a test
accuracy, ``X.shape[1]``), a name bound again (``LR = LR / 10`` before a second phase; a loop's variables), and
a name the code changes anywhere, in functions too: declared ``global`` (``best_acc``), an augmented assignment,
an item set (``STATS["best"] = v``) or a mutating method (``history["loss"].append(v)``; ``config.get`` reads).
The collector records their values as hyperparameters, source ``script``, at its first look after the first
training step (overrides are applied by then, and the journal has them if the job is killed later), or at the
end of a run that took none. Plain values only: numbers, strings, booleans, short lists and tuples of them, and
dicts of those (``config.lr``, ``config = dict(lr=0.1)`` too). A configuration object counts too: an instance of
a dataclass the script defines, or a namespace (``args = Namespace(lr=0.1)``, in scripts written from notebooks),
made from settings (``cfg = TrainConfig(lr=3e-4)``); its fields are recorded as ``cfg.lr``, a nested dataclass's
or dict's as ``cfg.model.width``, as they are at the first step (a script may set ``cfg.device`` before it
trains). A script read from standard input, or a notebook, has no source file: nothing is recorded.
"""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING, Any, Iterable

from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import redact_mapping

if TYPE_CHECKING:
    import ast

SOURCE = "script"
_SCALARS = (bool, int, float, str)
MAX_ITEMS = 16  # a longer list (a vocabulary, a table of results) is data, not a setting
_MAX_TEXT = 500
_MAX_SOURCE_BYTES = 1 << 20
_ABSENT = object()
# Calls that make a configuration from settings besides a script's own dataclasses: ``dict(lr=0.1)``, and the
# attribute bags of scripts written from notebooks (``args = Namespace(lr=0.1)``)
_CONFIG_MAKERS = frozenset(("dict", "Namespace", "argparse.Namespace", "SimpleNamespace", "types.SimpleNamespace"))
_ATTRIBUTE_BAGS = (("argparse", "Namespace"), ("types", "SimpleNamespace"))
_LITERAL_NODE_NAMES = ("Constant", "Tuple", "List", "Set", "Dict", "UnaryOp", "BinOp", "BoolOp", "Compare", "IfExp",
                       "JoinedStr", "FormattedValue", "Load", "operator", "unaryop", "boolop", "cmpop")
_MUTATORS = frozenset(("append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "add",
                       "discard", "sort", "reverse", "popitem", "appendleft", "extendleft"))


_recorded = [False]  # once per process


def record(recorder: Recorder, now: float, final: bool) -> None:
    """Collector periodic task: once, after the first training step, or at the end."""
    if _recorded[0] or not (final or recorder.global_step > 0):
        return
    _recorded[0] = True
    main = sys.modules.get("__main__")
    source = _source(recorder.script_path)  # __main__.__file__ is gone once the script has returned
    if source is None or main is None:
        return
    names = settings_assigned(source)
    values = settings_of({name: value for name, value in list(vars(main).items()) if name in names})
    if values:
        recorder.hyperparameters(SOURCE, redact_mapping(values), now)


def _source(path: Any) -> str | None:
    """The script's text (a script without the .py suffix too: ``#!/usr/bin/env python`` and executable)."""
    if not isinstance(path, str):
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_SOURCE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def settings_assigned(source: str) -> set[str]:
    """The names a module binds once at its top level, to a literal or an expression of literals and other
    settings (``5 * 8``, ``f"{DATA_DIR}/train.csv"``), that its code never changes (see the module's
    docstring). ``ast`` is imported here, on the collector: it is no start-up cost."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    values: dict[str, ast.expr] = {}
    bindings: dict[str, int] = {}
    adjusted: set[int] = set()
    _visit(tree.body, False, values, bindings, adjusted)
    config_classes = {statement.name for statement in tree.body if isinstance(statement, ast.ClassDef)
                      and any(map(_is_dataclass_decorator, statement.decorator_list))}
    changed: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            changed.update(node.names)
        elif isinstance(node, ast.AugAssign) and id(node) not in adjusted:
            changed.add(_root(node.target))
        elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            changed.add(_root(node.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            changed.add(_root(node.func.value))
    settings = {name for name in values if bindings[name] == 1 and name not in changed}
    while True:  # a setting built from names is one when they all are
        kept = {name for name in settings if _made_of_settings(values[name], settings, config_classes)}
        if kept == settings:
            return settings
        settings = kept


def _visit(statements: Iterable[ast.stmt], in_loop: bool, values: dict[str, ast.expr],
           bindings: dict[str, int], adjusted: set[int]) -> None:
    """Counts the module level's bindings of each name and keeps the value bound outside loops; ``adjusted``:
    the augmented assignments to an attribute there (``args.lr *= world_size``), which set up a configuration
    object before it is used, where one in a loop or a function counts (``stats.seen += 1``)."""
    import ast

    for statement in statements:
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Attribute) and not in_loop:
            adjusted.add(id(statement))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                for name, value in _pairs(target, statement.value):
                    bindings[name] = bindings.get(name, 0) + 1
                    if not in_loop and value is not None:
                        values[name] = value
        elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            if not isinstance(statement, ast.While):
                for name, _ in _pairs(statement.target, None):
                    bindings[name] = bindings.get(name, 0) + 1
            _visit(statement.body + statement.orelse, True, values, bindings, adjusted)
        elif isinstance(statement, (ast.If, ast.With, ast.AsyncWith)):
            _visit(statement.body + getattr(statement, "orelse", []), in_loop, values, bindings, adjusted)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody,
                          *(handler.body for handler in statement.handlers)):
                _visit(block, in_loop, values, bindings, adjusted)


def _pairs(target: ast.expr, value: ast.expr | None) -> list[tuple[str, ast.expr | None]]:
    """The names a target binds, each with its own part of the value when the value is spelt out
    (``batch_size, epochs = 32, 10``)."""
    import ast

    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if isinstance(target, (ast.Tuple, ast.List)):
        parts = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) \
            else [None] * len(target.elts)
        return [pair for item, part in zip(target.elts, parts) for pair in _pairs(item, part)]
    if isinstance(target, ast.Starred):
        return _pairs(target.value, None)
    return []  # an attribute or a subscript binds no name


def _made_of_settings(value: ast.expr, settings: set[str], config_classes: set[str]) -> bool:
    """Literals, containers, operators and f-strings over them, names of settings, and configuration objects
    made of those (``TrainConfig(lr=LR)``): no other call, no attribute, no subscript (``time.time() - start``,
    ``len(data)``, ``X.shape[1]`` are computed)."""
    import ast

    if isinstance(value, ast.Call):
        return _callee(value.func) in config_classes | _CONFIG_MAKERS and all(
            _made_of_settings(part, settings, config_classes)
            for part in (*value.args, *(keyword.value for keyword in value.keywords)))
    allowed = tuple(getattr(ast, name) for name in _LITERAL_NODE_NAMES)
    for node in ast.iter_child_nodes(value) if isinstance(value, allowed) else ():
        if not _made_of_settings(node, settings, config_classes):
            return False
    return isinstance(value, allowed) or (isinstance(value, ast.Name) and value.id in settings)


def _callee(func: ast.expr) -> str:
    """The name a call is made through: ``Config`` for ``Config(...)``, ``argparse.Namespace`` for that."""
    import ast

    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def _is_dataclass_decorator(decorator: ast.expr) -> bool:
    """``@dataclass``, ``@dataclass(frozen=True)``, ``@dataclasses.dataclass``."""
    import ast

    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "dataclass") or (
        isinstance(target, ast.Attribute) and target.attr == "dataclass")


def _root(node: ast.expr) -> str:
    """The name at the root of ``a.b[c].d``; empty if there is none (``f().x``)."""
    import ast

    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def settings_of(namespace: dict[str, Any]) -> dict[str, Any]:
    """The plain values among ``namespace``, configurations (dicts, dataclass instances, namespaces) flattened
    two levels (``config.lr``, ``cfg.model.width``)."""
    found: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        fields = _fields(value)
        if fields is None:
            found.update(_flat(name, value))
            continue
        for field, item in itertools.islice(fields.items(), MAX_ITEMS * 4):
            if isinstance(field, str):
                found.update(_flat(f"{name}.{field}", _fields(item) or item))
    return {name: value for name, value in found.items()  # nanoGPT's config dict repeats its globals
            if "." not in name or found.get(name.split(".", 1)[1], _ABSENT) != value}


def _flat(name: str, value: Any) -> dict[str, Any]:
    """A plain value as itself, a dict's plain items as ``name.key``."""
    if type(value) is dict:
        return {f"{name}.{key}": item for key, item in itertools.islice(value.items(), MAX_ITEMS * 4)
                if isinstance(key, str) and is_plain(item)}
    return {name: value} if is_plain(value) else {}


def _fields(value: Any) -> dict[str, Any] | None:
    """A configuration's fields as they are now (a dict's items, a dataclass instance's fields, a namespace's
    attributes); None for any other value. A dataclass's fields are read as stored, in the instance's
    ``__dict__`` or its slots: never through the class's code (a property that raises, or a config that counts
    which settings were read), which would run on the collector thread."""
    kind = type(value)
    if kind is dict:
        return value
    if (kind.__module__, kind.__name__) in _ATTRIBUTE_BAGS:
        return dict(vars(value))
    if not hasattr(kind, "__dataclass_fields__") or issubclass(kind, type):
        return None
    import dataclasses
    import inspect
    import types

    try:
        own = object.__getattribute__(value, "__dict__")
    except AttributeError:  # slots only
        own = {}
    stored: dict[str, Any] = {}
    for field in dataclasses.fields(kind):  # not ClassVar and InitVar pseudo-fields
        if field.name in own:
            stored[field.name] = own[field.name]
        elif isinstance(slot := inspect.getattr_static(value, field.name, None), types.MemberDescriptorType):
            stored[field.name] = slot.__get__(value, kind)
    return stored


def is_plain(value: Any) -> bool:
    """A number, a bool, a string of at most 500 characters, or a list or tuple of at most 16 of those."""
    if type(value) in _SCALARS:
        return not isinstance(value, str) or len(value) <= _MAX_TEXT
    if type(value) in (list, tuple):
        return len(value) <= MAX_ITEMS and all(type(item) in _SCALARS for item in value)
    return False
