"""Which file a hooked call names, and which version of it, as hooks see it on the training thread: one
``stat``, no read (hashing is the collector's). The version, (size, mtime_ns), lets the collector tell whether
the file changed before it came to hash it."""

from __future__ import annotations

import io
import os
import stat
from typing import Any

Version = tuple[int, int]
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".conf", ".py", ".flags")
_MAX_NAMED_FILES = 64


def file_version(path: Any, folders: bool = False) -> tuple[str, Version] | None:
    """The absolute path and version of a regular file (or, with ``folders``, a folder) named by a str, bytes
    or path-like; None for anything else: no path, a URL, a dangling link, a file already gone again."""
    try:
        full = os.path.abspath(os.fsdecode(path))
        state = os.stat(full)
    except (OSError, TypeError, ValueError):
        return None
    if stat.S_ISREG(state.st_mode) or (folders and stat.S_ISDIR(state.st_mode)):
        return full, (state.st_size, state.st_mtime_ns)
    return None


def file_behind(stream: Any) -> str | None:
    """The file an open file object reads (``open(path, "rb")``, fsspec's local file, through which Lightning
    loads every checkpoint): its ``name``, if that is the file its descriptor has open. A member of a zip
    archive has a name too, which is no file of that name."""
    name = getattr(stream, "name", None)
    try:
        if not isinstance(name, str):
            return None
        opened, named = os.fstat(stream.fileno()), os.stat(name)
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return name if (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino) else None


def named_files(values: Any) -> list[tuple[str, Version]]:
    """Existing regular files named by parsed arguments (or lists of them): paths, and the open files that
    argparse's ``FileType`` and click's ``File`` give; with their versions. Click's lazy files (``File("w")``)
    are not touched: any attribute of theirs but ``name`` opens, and so truncates, the file."""
    items = (item for value in values for item in (value if isinstance(value, (list, tuple)) else [value]))
    found = (file_version(item) if isinstance(item, (str, os.PathLike)) else
             file_version(file_behind(item)) if isinstance(item, io.IOBase) else None for item in items)
    return [named for named in found if named is not None][:_MAX_NAMED_FILES]


def input_kind(path: str) -> str:
    """A file a command line or a script's loader names: a configuration file by its suffix (a ``.py`` one
    too, as nanoGPT's and mmdetection's configs are; the script itself is not among them), else data."""
    return "prov4ml:ConfigFile" if path.lower().endswith(CONFIG_SUFFIXES) else "prov4ml:DataFile"


def as_setting(value: Any) -> Any:
    """A parsed argument as a hyperparameter: an open file (argparse's ``FileType``, click's ``File``) by its
    name, read from the object itself (a click lazy file opens on any other attribute), anything else as it
    is."""
    if isinstance(value, io.IOBase):
        name = getattr(value, "name", None)
    elif type(value).__name__.lstrip("_") == "LazyFile":
        name = vars(value).get("name")
    else:
        return value
    return name if isinstance(name, str) else value
