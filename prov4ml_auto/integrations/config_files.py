"""Configuration files a script loads itself: ``yaml.safe_load(f)`` (every ``yaml.load``), ``json.load(f)``,
``tomllib.load(f)``, from an open file, called by the user's code (not by a library, nor the standard library).

A file loaded before the first training step whose content is a mapping of plain settings (at most
``_MAX_SETTINGS`` numbers, strings, booleans and short lists of them, nested mappings flattened to dotted names:
``model.width``) is a ``prov4ml:ConfigFile``, and its settings are hyperparameters, source ``config:<file name>``
(values naming existing files are inputs, as argparse's are): each file's values as it holds them, since which
file overrides which is the script's own rule (a base read first and layered over, or mmdetection's ``_base_``
read after the file that names it). Which loads are configurations is decided at the first training step (or the
run's end): a folder from which more than ``_MAX_PER_FOLDER`` files were loaded holds data (a JSON annotation per
sample), as does a file loaded once training runs. Data files are ``prov4ml:DataFile`` inputs, with no values. The
values are copied when loaded: a script that changes its config dict afterwards (``cfg["lr"] *= 2``) does not
change what was loaded.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

from prov4ml_auto import collector
from prov4ml_auto.constants import MAX_ITEMS, is_plain
from prov4ml_auto.integrations._files import Version, file_behind, file_version, input_kind, named_files
from prov4ml_auto.integrations._patching import Patches, after, guarded
from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import is_secret_name, redact_mapping

NAME = "configs"
TARGETS = ("json", "yaml", "tomllib")
SUPPORTED: dict = {}
SOURCE = "config"

_patches = Patches()
_emit: Any = None
_MAX_SETTINGS = 256  # more values than this is data, not a configuration
_MAX_PER_FOLDER = 8
_MAX_CONFIG_FILES = 16
_MAX_WAITING = 64
_OURS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
_library_folders: list[tuple[str, ...]] = []  # filled at the first load: the standard library's, installed packages'
# Training thread: the loads reported so far, in the process that patched (a forked DataLoader worker records
# nothing). A dataset reading a JSON file per sample would otherwise pay for every one: the values of the first
# ``_MAX_READ`` are read (configurations come first), and the first ``_MAX_REPORTED`` are reported at all (the
# collector lists 64 files a folder).
_reported = [0, os.getpid()]
_MAX_READ = 64
_MAX_REPORTED = 1024


def patch(module: ModuleType, emit: Any, emit_hot: Any) -> None:
    global _emit
    _emit = emit
    _patches.wrap(module, "load", after(_loaded(os.path.join(os.path.dirname(os.path.abspath(module.__file__)), ""))))
    if decide not in collector.periodic:
        collector.periodic.append(decide)


def unpatch() -> None:
    _patches.undo()
    if decide in collector.periodic:
        collector.periodic.remove(decide)


# --- training thread ---------------------------------------------------------------------------------
def _loaded(library: str) -> Any:
    """The hook of one library's ``load``; ``library`` is its folder, whose own frames (``yaml.safe_load``
    calling ``yaml.load``) are skipped to find who called it."""

    @guarded(NAME)
    def record(instance: Any, args: tuple, kwargs: dict, result: Any) -> None:
        if _reported[0] >= _MAX_REPORTED or os.getpid() != _reported[1] or not _called_by_user_code(library):
            return
        stream = args[0] if args else kwargs.get("stream", kwargs.get("fp"))  # yaml's name, json's
        named = file_version(file_behind(stream))
        if named is not None:
            _reported[0] += 1
            _emit("config_loaded", *named, settings(result) if _reported[0] <= _MAX_READ else None)

    return record


def _called_by_user_code(library: str) -> bool:
    """Whether the first frame outside the agent and the library is the user's: neither the standard library
    nor an installed package (transformers reading a model's config.json is no configuration of the run)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith((_OURS, library)):
        frame = frame.f_back
    if frame is None:
        return False
    if not _library_folders:
        _library_folders.append(_installed_folders())
    filename = frame.f_code.co_filename
    return not (filename.startswith("<frozen") or filename.startswith(_library_folders[0]))


def _installed_folders() -> tuple[str, ...]:
    """The standard library's folders and the installed packages' (a virtual environment's, the system's, the
    user's, and any ``site-packages`` a ``.pth`` file or PYTHONPATH adds, as HPC modules do), as named and
    resolved (a venv's ``lib64`` is a link to its ``lib``)."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(key)}
    folders.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    folders.update(entry for entry in sys.path if os.path.basename(entry) in ("site-packages", "dist-packages"))
    if site.ENABLE_USER_SITE and site.USER_SITE:
        folders.add(site.USER_SITE)
    return tuple({os.path.join(form, "") for folder in folders for form in (folder, os.path.realpath(folder))})


def settings(value: Any) -> dict[str, Any] | None:
    """A loaded file's plain settings, nested mappings flattened (``model.width``), copied; None for data: no
    mapping, more than ``_MAX_SETTINGS`` values, or a list longer than a setting's (COCO's images)."""
    if not isinstance(value, dict):
        return None
    found: dict[str, Any] = {}
    pending, seen, visited = [("", value)], 0, {id(value)}
    while pending:
        prefix, mapping = pending.pop()
        for key, item in mapping.items():
            seen += 1
            name = f"{prefix}{key}"
            if isinstance(item, dict):
                if id(item) not in visited:  # YAML anchors can make a mapping its own child
                    visited.add(id(item))
                    pending.append((f"{name}.", item))
            elif is_plain(item):
                found[name] = list(item) if isinstance(item, list) else item
            elif isinstance(item, (list, tuple)) and len(item) > MAX_ITEMS:  # a short list of mappings is left out
                return None
            if seen > _MAX_SETTINGS:
                return None
    return found or None  # a mapping of nothing plain (ids to embeddings) is data


# --- collector ---------------------------------------------------------------------------------------
# Loads before the first step that may be configurations, one per file, at most ``_MAX_PER_FOLDER + 1`` a folder
# (one more says the folder holds data): any other load is data at once.
_waiting: dict[str, tuple[float, Version, dict[str, Any]]] = {}
_per_folder: dict[str, int] = {}
_decided = [False]  # once per process


def _on_config_loaded(recorder: Recorder, time: float, path: str, version: Version,
                      values: dict[str, Any] | None) -> None:
    training = _decided[0] or recorder.global_step > 0
    if not training and path in _waiting:  # loaded again: the first load decides
        return
    folder = os.path.dirname(path)
    if training or values is None or _per_folder.get(folder, 0) > _MAX_PER_FOLDER or len(_waiting) >= _MAX_WAITING:
        recorder.file_read(path, "prov4ml:DataFile", time, version, step=None if training else 0)
        return
    _per_folder[folder] = _per_folder.get(folder, 0) + 1
    _waiting[path] = (time, version, values)


def decide(recorder: Recorder, now: float, final: bool) -> None:
    """Periodic: at the first training step (or the run's end), the loads before it are configurations or
    data (see the module's docstring); later loads are data as they come."""
    if _decided[0] or not (final or recorder.global_step > 0):
        return
    _decided[0] = True
    configs = 0
    for path, (time, version, values) in _waiting.items():
        if _per_folder[os.path.dirname(path)] <= _MAX_PER_FOLDER and configs < _MAX_CONFIG_FILES:
            configs += 1
            recorder.file_read(path, "prov4ml:ConfigFile", time, version, step=0)
            recorder.hyperparameters(f"{SOURCE}:{os.path.basename(path)}", redact_mapping(values), time)
            for named, named_version in named_files(value for name, value in values.items()
                                                    if not is_secret_name(name)):
                recorder.file_read(named, input_kind(named), time, named_version, step=0)
        else:
            recorder.file_read(path, "prov4ml:DataFile", time, version, step=0)
    _waiting.clear()


HANDLERS = {"config_loaded": _on_config_loaded}
