"""Data files read outside a DataLoader's dataset: numpy's ``load``, ``fromfile`` and ``memmap``, pandas'
``read_*`` of local files, and the local files and folders Hugging Face's ``datasets.load_dataset`` builds a
dataset from (``data_files``, ``data_dir``, or a local ``path``; the dataset itself only names its cache).

nanoGPT-shaped scripts open ``np.memmap(train.bin)`` inside ``get_batch`` (every batch); tabular scripts read
a CSV with pandas and hand the frame to a ``TensorDataset``, which names no file. Training thread: after the
call returns (its exceptions untouched), a file seen for the first time in this version (size, mtime) appends
its path; a file read again unchanged appends nothing. Collector: the file is hashed and used by the run, a
``prov4ml:DataFile`` (``Recorder.file_read``: one entity per content). Streams, URLs and buffers name no local
file and are left alone; a memmap opened to create a file (``mode="w+"``) is no read. A glob pattern among
``data_files`` is expanded as ``datasets`` would.
"""

from __future__ import annotations

import glob
import os
from types import ModuleType
from typing import Any

from prov4ml_auto.integrations._files import file_behind, file_version
from prov4ml_auto.integrations._patching import (Nesting, Patches, after, argument, guarded, hide_our_frames,
                                                 outermost)
from prov4ml_auto.recorder import Recorder

NAME = "readers"
TARGETS = ("numpy", "pandas", "datasets")
SUPPORTED = {"numpy": ("1.20", "3"), "pandas": ("1.0", "4"), "datasets": ("2.0", "6")}

PANDAS_READERS = ("read_csv", "read_table", "read_parquet", "read_json", "read_feather", "read_pickle")

_patches = Patches()
_emit: Any = None
_seen: dict[str, tuple[int, int]] = {}  # path -> the version last reported (training thread)
_SEEN_KEPT = 4096
_opening = Nesting()  # open_memmap opens its file through np.memmap


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    if module.__name__ == "numpy":
        _patches.wrap(module, "load", after(_reader("numpy.load", "file")))
        _patches.wrap(module, "fromfile", after(_reader("numpy.fromfile", "file")))
        _patches.replace(module.memmap, "__new__", _memmap_new)
        _patches.wrap(module.lib.format, "open_memmap", outermost(_open_memmap, _opening))
    elif module.__name__ == "datasets":
        _patches.wrap(module, "load_dataset", after(_dataset_sources))
    else:
        for name in PANDAS_READERS:
            if hasattr(module, name):
                _patches.wrap(module, name, after(_reader(f"pandas.{name}", "filepath_or_buffer", "path",
                                                          "path_or_buf")))


def unpatch() -> None:
    _patches.undo()
    _seen.clear()


def _reader(api: str, *names: str):
    @guarded(NAME)
    def record(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
        source = args[0] if args else next((kwargs[name] for name in names if name in kwargs), None)
        _report(api, source)
    return record


@guarded(NAME)
def _dataset_sources(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    """``load_dataset("csv", data_files={"train": "train.csv"})``, ``load_dataset("imagefolder",
    data_dir=...)``, ``load_dataset("./my_dataset")``: the local ones (a hub name or a builder names none)."""
    named = [argument(args, kwargs, 0, "path"), argument(args, kwargs, 2, "data_dir")]
    files = argument(args, kwargs, 3, "data_files")
    for group in (files.values() if isinstance(files, dict) else [files]):
        named.extend(group if isinstance(group, (list, tuple)) else [group])
    for name in named:
        if isinstance(name, (str, os.PathLike)):
            text = os.fsdecode(name)
            for path in sorted(glob.glob(text)) if any(mark in text for mark in "*?[") else [text]:
                _report("datasets.load_dataset", path, folders=True)


def _memmap_new(original: Any) -> Any:
    """``np.memmap(...)`` runs the class's ``__new__`` (a staticmethod, made one again around this): its
    arguments go to the original untouched, which refuses bad ones in its own words."""
    create = original.__func__ if isinstance(original, staticmethod) else original

    def __new__(subtype: Any, *args: Any, **kwargs: Any) -> Any:
        _opening.depth += 1
        try:
            result = create(subtype, *args, **kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise
        finally:
            _opening.depth -= 1
        if not _opening.depth:
            _memmap_opened(args, kwargs)
        return result

    return __new__


@guarded(NAME)
def _memmap_opened(args: tuple, kwargs: dict) -> None:
    if argument(args, kwargs, 2, "mode") not in ("w+", "write"):
        _report("numpy.memmap", argument(args, kwargs, 0, "filename"))


@guarded(NAME)
def _open_memmap(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
    """``np.lib.format.open_memmap``: the .npy file behind, unless it was created (``mode="w+"``, which it
    hands to memmap as ``r+`` once it has written the header)."""
    if argument(args, kwargs, 1, "mode") != "w+":
        _report("numpy.lib.format.open_memmap", argument(args, kwargs, 0, "filename"))


def _report(api: str, source: Any, folders: bool = False) -> None:
    """A local file (or, with ``folders``, folder) named by a path or an open file's name, once per version."""
    found = file_version(source, folders) or file_version(file_behind(source))
    if found is not None and _seen.get(found[0]) != found[1]:
        if len(_seen) >= _SEEN_KEPT:  # a dataset of a million sample files: the collector tells repeats apart
            _seen.clear()
        _seen[found[0]] = found[1]
        _emit("data_read", api, *found)


def _on_data_read(recorder: Recorder, time: float, api: str, path: str, version: tuple) -> None:
    recorder.file_read(path, "prov4ml:DataFiles" if os.path.isdir(path) else "prov4ml:DataFile", time, version)


HANDLERS = {"data_read": _on_data_read}
