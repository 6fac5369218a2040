"""Files moved or copied by the script: ``os.replace`` / ``os.rename`` (and through them pathlib's ``rename``
/ ``replace``), ``shutil.move`` (across file systems a copy and a delete: still a move) and
``shutil.copyfile`` (and through it ``shutil.copy`` / ``copy2``). Only the outermost of these calls counts.

A checkpoint is often saved under a temporary name and moved into place (an atomic save), and the best one
copied beside the latest (``shutil.copyfile(filename, "model_best.pth.tar")``, as in PyTorch's ImageNet
example). Training thread: after the call returns (its exceptions untouched), append both paths and the file's
(size, mtime) that identify the version, waking the collector when the file is one a save just wrote (it may be
replaced soon; renames of other files, which a library may make by the thousand, wake nothing). Collector: only
files the run recorded matter (the Recorder ignores the rest): a moved one is named by its new place, a copied
one lists its copies. Folders are not followed (a trainer's checkpoint folder is the trainer's to record).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from prov4ml_auto.integrations import torch_checkpoint
from prov4ml_auto.integrations._files import file_version
from prov4ml_auto.integrations._patching import Nesting, Patches, guarded, outermost
from prov4ml_auto.recorder import Recorder

NAME = "files"
TARGETS = ("os", "shutil")
SUPPORTED: dict = {}

_patches = Patches()
_emit: Any = None
_moving = Nesting()  # shutil.move calls os.rename, or copy2 then os.unlink


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    if module.__name__ == "os":
        _patches.wrap(module, "replace", outermost(_renamed, _moving))
        _patches.wrap(module, "rename", outermost(_renamed, _moving))
    else:
        _patches.wrap(module, "move", outermost(_moved, _moving))
        _patches.wrap(module, "copyfile", _copied)


def unpatch() -> None:
    _patches.undo()


@guarded(NAME)
def _renamed(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    if len(args) == 2 and not kwargs:  # paths relative to directory descriptors are left alone
        _report_move(args[0], args[1])


@guarded(NAME)
def _moved(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    """``shutil.move`` returns where the file went (into a folder given as the destination)."""
    _report_move(args[0] if args else kwargs.get("src"), result)


def _report_move(source: Any, target: Any) -> None:
    moved = file_version(target)  # a rename, or copy2, keeps the size and mtime: the version the save saw
    if moved is not None:
        source = os.path.abspath(os.fsdecode(source))
        _emit("moved", source, *moved, wake=source in torch_checkpoint.saved_paths)


def _copied(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """The source's version is read before the copy (the copy's own mtime is new), the copy's after."""
    if _moving.depth:
        return wrapped(*args, **kwargs)
    source = file_version(args[0] if args else kwargs.get("src"))
    result = wrapped(*args, **kwargs)
    if source is not None:
        _record_copy(source, result)
    return result


@guarded(NAME)
def _record_copy(source: tuple[str, tuple[int, int]], target: Any) -> None:
    copy = file_version(target)
    if copy is not None:
        _emit("copied", *source, *copy, wake=source[0] in torch_checkpoint.saved_paths)


def _on_moved(recorder: Recorder, time: float, source: str, target: str, stat_key: tuple) -> None:
    recorder.file_moved(source, target, stat_key)


def _on_copied(recorder: Recorder, time: float, source: str, stat_key: tuple, target: str,
               target_key: tuple) -> None:
    recorder.file_copied(source, stat_key, target, target_key)


HANDLERS = {"moved": _on_moved, "copied": _on_copied}
