"""Per-object facts keyed by identity, forgotten when the object is collected.

``weakref.WeakKeyDictionary`` hashes its keys, so a user's optimizer, loader or module whose class defines
``__eq__`` without ``__hash__`` (unhashable) would make our hooks fail; and ``__eq__``/``__hash__`` of user
classes are user code we should never run. This map uses ``id()`` and a weak reference that drops the entry
at the moment the object dies, before its id can be reused.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

Value = TypeVar("Value")
_MISSING = object()


class IdentityMap(Generic[Value]):
    """``map[obj] = value``, ``map.get(obj)``, ``obj in map`` by identity; safe from any thread (dict ops)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref, Value]] = {}

    def __setitem__(self, obj: Any, value: Value) -> None:
        key = id(obj)
        items = self._items
        self._items[key] = (weakref.ref(obj, lambda _ref: items.pop(key, None)), value)

    def get(self, obj: Any, default: Any = None) -> Any:
        entry = self._items.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return default
        return entry[1]

    def __contains__(self, obj: Any) -> bool:
        return self.get(obj, _MISSING) is not _MISSING
