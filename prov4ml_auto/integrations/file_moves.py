"""Files moved or copied by the script: ``os.replace`` / ``os.rename`` (and through them ``shutil.move`` and
pathlib's ``rename`` / ``replace``) and ``shutil.copyfile`` (and through it ``shutil.copy`` / ``copy2``).

A checkpoint is often saved under a temporary name and moved into place (an atomic save), and the best one
copied beside the latest (``shutil.copyfile(filename, "model_best.pth.tar")``, as in PyTorch's ImageNet
example). Training thread: after the call returns (its exceptions untouched), append both paths and the
file's (size, mtime) that identify the version. Collector: only files the run recorded matter (the Recorder
ignores the rest): a moved one is named by its new place, a copied one lists its copies. Folders are not
followed (a trainer's checkpoint folder is the trainer's to record).
"""

from __future__ import annotations

import os
import stat
from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._patching import Patches, after, guarded
from prov4ml_auto.recorder import Recorder

NAME = "files"
TARGETS = ("os", "shutil")
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    if module.__name__ == "os":
        _patches.wrap(module, "replace", after(_moved))
        _patches.wrap(module, "rename", after(_moved))
    else:
        _patches.wrap(module, "copyfile", _copied)


def unpatch() -> None:
    _patches.undo()


def _regular_file(path: Any) -> tuple[str, tuple[int, int]] | None:
    """The absolute path and (size, mtime_ns) of a regular file named by a str, bytes or path-like."""
    full = os.path.abspath(os.fsdecode(path))
    state = os.stat(full)
    return (full, (state.st_size, state.st_mtime_ns)) if stat.S_ISREG(state.st_mode) else None


@guarded(NAME)
def _moved(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    if len(args) == 2 and not kwargs:  # paths relative to directory descriptors are left alone
        moved = _regular_file(args[1])
        if moved is not None:
            _emit("moved", os.path.abspath(os.fsdecode(args[0])), *moved)


def _copied(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """The source's version is read before the copy: the copy's own mtime is new."""
    source = _source_state(args[0] if args else kwargs.get("src"))
    result = wrapped(*args, **kwargs)
    if source is not None:
        _record_copy(source, result)
    return result


@guarded(NAME)
def _record_copy(source: tuple[str, tuple[int, int]], target: Any) -> None:
    _emit("copied", source[0], source[1], os.path.abspath(os.fsdecode(target)))


def _source_state(path: Any) -> tuple[str, tuple[int, int]] | None:
    try:
        return _regular_file(path)
    except Exception:  # a missing source: the copy raises its own error, untouched
        return None


def _on_moved(recorder: Recorder, time: float, source: str, target: str, stat_key: tuple) -> None:
    recorder.file_moved(source, target, stat_key)


def _on_copied(recorder: Recorder, time: float, source: str, stat_key: tuple, target: str) -> None:
    recorder.file_copied(source, stat_key, target)


HANDLERS = {"moved": _on_moved, "copied": _on_copied}
