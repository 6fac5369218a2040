"""Wrapping and unwrapping library functions with wrapt, remembered so that unpatch() restores them.

wrapt is imported here, when the first integration patches, not at interpreter start: its import costs
more than the whole start-up budget of a process that never trains.
"""

from __future__ import annotations

from typing import Any, Callable

import wrapt

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]


class Patches:
    """The patches one integration made; ``undo`` puts back the exact originals (descriptors included)."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, wrapper: Wrapper) -> None:
        original = vars(owner)[name] if name in vars(owner) else getattr(owner, name)
        if isinstance(getattr(owner, name), wrapt.ObjectProxy):
            return  # already ours (a module imported twice under two names)
        wrapt.wrap_function_wrapper(owner, name, wrapper)
        self._originals.append((owner, name, original))

    def undo(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)
