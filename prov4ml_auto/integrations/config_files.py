"""Configuration files a script loads itself: ``yaml.safe_load(f)`` (every ``yaml.load``), ``json.load(f)``,
``tomllib.load(f)``, from an open file, called by the user's code (not by a library, nor the standard library).

A file loaded before the first training step whose content is a mapping of plain settings (at most
``_MAX_SETTINGS`` numbers, strings, booleans and short lists of them, nested mappings flattened to dotted names:
``model.width``) is a ``prov4ml:ConfigFile``, and its settings are hyperparameters, source ``config:<file
name>``: each file's values as it holds them, since which file overrides which is the script's own rule (a base
read first and layered over, or mmdetection's ``_base_`` read after the file that names it). Which loads are
configurations
is decided at the first training step (or the run's end): a folder from which more than ``_MAX_PER_FOLDER`` files
were loaded holds data (a JSON annotation per sample), as does a file loaded once training runs. Data files are
``prov4ml:DataFile`` inputs, with no values. The values are copied when loaded: a script that changes its
config dict afterwards (``cfg["lr"] *= 2``) does not change what was loaded.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

from prov4ml_auto import collector
from prov4ml_auto.constants import is_plain
from prov4ml_auto.integrations._files import Version, file_behind, file_version
from prov4ml_auto.integrations._patching import Patches, after, guarded
from prov4ml_auto.recorder import Recorder
from prov4ml_auto.redact import redact_mapping

NAME = "configs"
TARGETS = ("json", "yaml", "tomllib")
SUPPORTED: dict = {}
SOURCE = "config"

_patches = Patches()
_emit: Any = None
_MAX_SETTINGS = 256  # more values than this is data, not a configuration
_MAX_ITEMS = 16  # a longer list too (a short list of mappings, a pipeline's steps, is left out)
_MAX_PER_FOLDER = 8
_MAX_CONFIG_FILES = 16
_OURS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
_library_folders: list[tuple[str, ...]] = []  # filled at the first load: the standard library's, installed packages'


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
        if not _called_by_user_code(library):
            return
        stream = args[0] if args else kwargs.get("stream", kwargs.get("fp"))  # yaml's name, json's
        named = file_version(file_behind(stream))
        if named is not None:
            _emit("config_loaded", *named, settings(result))

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
    user's), as named and resolved (a venv's ``lib64`` is a link to its ``lib``)."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(key)}
    folders.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    if site.ENABLE_USER_SITE and site.USER_SITE:
        folders.add(site.USER_SITE)
    return tuple({os.path.join(form, "") for folder in folders for form in (folder, os.path.realpath(folder))})


def settings(value: Any) -> dict[str, Any] | None:
    """A loaded file's plain settings, nested mappings flattened (``model.width``), copied; None for data: no
    mapping, more than ``_MAX_SETTINGS`` values, or a list longer than a setting's (COCO's images)."""
    if not isinstance(value, dict):
        return None
    found: dict[str, Any] = {}
    pending, seen = [("", value)], 0
    while pending:
        prefix, mapping = pending.pop()
        for key, item in mapping.items():
            seen += 1
            name = f"{prefix}{key}"
            if isinstance(item, dict):
                pending.append((f"{name}.", item))
            elif is_plain(item):
                found[name] = list(item) if isinstance(item, list) else item
            elif isinstance(item, (list, tuple)) and len(item) > _MAX_ITEMS:
                return None
            if seen > _MAX_SETTINGS:
                return None
    return found


# --- collector ---------------------------------------------------------------------------------------
_waiting: list[tuple[float, str, Version, dict[str, Any] | None]] = []  # loads before the first step
_decided = [False]  # once per process


def _on_config_loaded(recorder: Recorder, time: float, path: str, version: Version,
                      values: dict[str, Any] | None) -> None:
    if _decided[0] or recorder.global_step > 0:
        recorder.file_read(path, "prov4ml:DataFile", time, version)
    else:
        _waiting.append((time, path, version, values))


def decide(recorder: Recorder, now: float, final: bool) -> None:
    """Periodic: at the first training step (or the run's end), the loads before it are configurations or
    data (see the module's docstring); later loads are data as they come."""
    if _decided[0] or not (final or recorder.global_step > 0):
        return
    _decided[0] = True
    per_folder: dict[str, set[str]] = {}
    for _, path, _, _ in _waiting:
        per_folder.setdefault(os.path.dirname(path), set()).add(path)
    configs = 0
    for time, path, version, values in _waiting:
        if values is not None and len(per_folder[os.path.dirname(path)]) <= _MAX_PER_FOLDER \
                and configs < _MAX_CONFIG_FILES:
            configs += 1
            recorder.file_read(path, "prov4ml:ConfigFile", time, version, step=0)
            recorder.hyperparameters(f"{SOURCE}:{os.path.basename(path)}", redact_mapping(values), time)
        else:
            recorder.file_read(path, "prov4ml:DataFile", time, version, step=0)
    _waiting.clear()


HANDLERS = {"config_loaded": _on_config_loaded}
