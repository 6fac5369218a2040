"""Post-import hooks with the standard library only.

The bootstrap must register hooks for torch, transformers and lightning at interpreter start, before it
knows whether they will ever be imported. ``wrapt.register_post_import_hook`` would do this, but importing
wrapt 2.x costs 70-90 ms (it pulls in asyncio), more than our whole start-up budget. This finder is the
same mechanism in a few lines, and imports nothing: not even ``importlib.abc``, whose import pulls in
``importlib.resources``, ``pathlib`` and ``tempfile`` (and ``random``, whose seed integration then patches).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Callable

Hook = Callable[[ModuleType], None]


class _HookedLoader:
    """Runs the real loader, puts it back on the module, then calls the hooks (the import system needs only
    ``create_module`` and ``exec_module``; anything else is the real loader's)."""

    def __init__(self, loader: Any, fire: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._fire = fire

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._fire(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportFinder:
    """A meta path entry that only intercepts the names it has hooks for: it asks the finders after it for
    the real spec, and hands back that spec with the loader wrapped."""

    def __init__(self) -> None:
        self._hooks: dict[str, list[Hook]] = {}

    def register(self, name: str, hook: Hook) -> None:
        module = sys.modules.get(name)
        if module is not None:
            hook(module)
            return
        self._hooks.setdefault(name, []).append(hook)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._hooks:
            return None
        spec = self._real_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _HookedLoader(spec.loader, self._fire)
        return spec

    def _real_spec(self, fullname: str, path: Any, target: Any) -> Any:
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def _fire(self, module: ModuleType) -> None:
        for hook in self._hooks.pop(module.__name__, []):
            hook(module)


_finder: PostImportFinder | None = None


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once ``name`` is imported (at once if it already is)."""
    global _finder
    if _finder is None:
        _finder = PostImportFinder()
        sys.meta_path.insert(0, _finder)
    _finder.register(name, hook)
