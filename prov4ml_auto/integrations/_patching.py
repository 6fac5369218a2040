"""Wrapping and unwrapping library functions, remembered so that unpatch() restores them.

Plain closures, not wrapt: a wrapt 2.x ``FunctionWrapper`` costs ~600 ns a call here against ~140 ns for a
closure (three wrapped calls in every training step), and importing wrapt costs 70-90 ms (it pulls in
asyncio), which a script that only imports ``argparse`` or ``random`` would pay at start. ``wrap`` keeps
wrapt's calling convention, ``wrapper(wrapped, instance, args, kwargs)``; the per-step hooks use ``replace``,
whose factory returns the replacement itself (one call frame fewer). ``functools.wraps`` keeps the original's
name, docstring and ``__wrapped__`` (so ``inspect.signature`` still sees its parameters); the replacement's
module and qualified name are where it is installed, so it pickles by reference (see ``Patches.replace``);
``__prepare_scriptable__`` hands TorchScript the original (a
scripted module calling ``F.mse_loss`` would otherwise compile our wrapper, whose ``*args`` it cannot compile).

An exception raised through a patched function leaves with the traceback it would have had without us: every
replacement that calls an original catches what it raises, takes its own frames off (``hide_our_frames``) and
re-raises with a bare ``raise``, which adds no entry for the frame it runs in. A user's traceback, on stderr or
formatted by their code, then names their code and the library's, never ours. (Python 3.10's bare ``raise``
restores the traceback as it was caught: there the frames stay, as they would with any wrapper.)
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable

from prov4ml_auto import faults

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]
_MARK = "__prov4ml_patch__"
_PACKAGE = "prov4ml_auto."


def hide_our_frames(exc: BaseException) -> None:
    """Take the leading traceback entries of prov4ml_auto's frames off ``exc``, for a bare ``raise`` that
    follows. All of them, when the original is written in C (``os.replace``: it adds no frame) or refused its
    arguments: the traceback then ends at the caller's line, as it would. An exception that our own code
    raised (strict mode: ``faults.is_ours``) keeps them: nothing else would remain."""
    entry = exc.__traceback__
    while entry is not None and entry.tb_frame.f_globals.get("__name__", "").startswith(_PACKAGE):
        entry = entry.tb_next
    if entry is not None or not faults.is_ours(exc):
        exc.__traceback__ = entry


def guarded(name: str) -> Callable[[Callable[..., Any]], Callable[..., None]]:
    """For code of ours on the training thread: an error is counted under ``name``, never raised into the
    user's training (strict mode excepted)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                fn(*args, **kwargs)
            except Exception as exc:
                faults.caught(name, exc)
        return run

    return decorate


def argument(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    """A wrapped call's argument, passed by position or by name."""
    return args[index] if len(args) > index else kwargs.get(name)


def after(record: Callable[[Any, tuple, dict, Any], None]) -> Wrapper:
    """The shape of every hook that is not per-step: the original runs untouched (its result and its
    exceptions are the user's), then ``record(instance, args, kwargs, result)`` appends what it saw
    (``record`` is ``guarded``: its errors are ours)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        record(instance, args, kwargs, result)
        return result

    return wrapper


class Nesting:
    """The calls in progress of a group of wrapped functions that call each other: ``torch.manual_seed``
    seeds CUDA through ``torch.cuda.manual_seed_all``, which is wrapped too."""

    def __init__(self) -> None:
        self.depth = 0


def outermost(record: Callable[[Any, tuple, dict, Any], None], nesting: Nesting | None = None) -> Wrapper:
    """Like ``after``, but only for the outermost of nested calls (of this function, or of any function whose
    wrapper shares ``nesting``): argparse's subparsers parse again, on part of argv; from_pretrained loads a
    model's config through from_pretrained too."""
    calls = nesting or Nesting()

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        calls.depth += 1
        try:
            result = wrapped(*args, **kwargs)
        finally:
            calls.depth -= 1
        if calls.depth == 0:
            record(instance, args, kwargs, result)
        return result

    return wrapper


class Patches:
    """The patches one integration made; ``undo`` puts back the exact originals (descriptors included)."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, wrapper: Wrapper) -> None:
        """Replace ``owner.name`` by a call to ``wrapper(wrapped, instance, args, kwargs)`` (for a classmethod,
        ``instance`` is the class it is called on)."""
        if not isinstance(owner, type):
            make = _function
        elif isinstance(vars(owner).get(name), classmethod):
            make = _classmethod
        else:
            make = _method
        self.replace(owner, name, functools.partial(make, wrapper=wrapper))

    def replace(self, owner: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
        """Replace ``owner.name`` by ``make(original)``, which calls the original itself (a class's function
        comes unbound: its replacement receives the instance first, as the original would; a classmethod's or
        staticmethod's replacement is made one again, since their objects' docstrings cannot be written).

        The replacement is named where it is installed (``__module__``, ``__qualname__``): pickle finds a
        function by those names and checks that they lead back to it, so ``torch.save`` (from
        ``torch.serialization``), ``os.replace`` (from ``posix``) and ``random.seed`` (a bound method) still
        pickle by reference, as a spawned worker given one as an argument needs."""
        original = vars(owner)[name] if name in vars(owner) else getattr(owner, name)
        if getattr(getattr(owner, name), _MARK, False):
            return  # already ours (a module imported twice under two names)
        descriptor = type(original) if isinstance(original, (classmethod, staticmethod)) else None
        patched = functools.wraps(original.__func__ if descriptor else original)(make(original))
        if isinstance(owner, type):
            patched.__module__, patched.__qualname__ = owner.__module__, f"{owner.__qualname__}.{name}"
        elif isinstance(owner, types.ModuleType):
            patched.__module__, patched.__qualname__ = owner.__name__, name
        setattr(patched, _MARK, True)
        patched.__prepare_scriptable__ = lambda: original  # TorchScript compiles the original, as through wrapt
        setattr(owner, name, descriptor(patched) if descriptor else patched)
        self._originals.append((owner, name, original))

    def undo(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)


def _function(original: Callable[..., Any], wrapper: Wrapper) -> Callable[..., Any]:
    """A module's function (or a bound method it exports, like ``random.seed``): no instance."""

    def patched(*args: Any, **kwargs: Any) -> Any:
        try:
            return wrapper(original, None, args, kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise

    return patched


def _classmethod(original: classmethod, wrapper: Wrapper) -> Callable[..., Any]:
    """A classmethod (``from_pretrained``): the wrapper gets the original bound to the class it is called on,
    a subclass included."""
    bind = original.__get__

    def patched(cls: type, *args: Any, **kwargs: Any) -> Any:
        try:
            return wrapper(bind(None, cls), cls, args, kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise

    return patched


def _method(original: Any, wrapper: Wrapper) -> Callable[..., Any]:
    """A class's function, called on an instance or through the class with the instance first: the
    wrapper gets the original bound to that instance, as wrapt would hand it over."""
    if not isinstance(original, types.FunctionType):
        raise TypeError(f"cannot wrap {type(original).__name__} {getattr(original, '__qualname__', original)!r}")
    bind = original.__get__

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return wrapper(bind(self), self, args, kwargs)
        except BaseException as exc:
            hide_our_frames(exc)
            raise

    return patched
