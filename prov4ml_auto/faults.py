"""The agent's own failures: caught, counted, recorded in the document, summarised at exit.

Hooks run inside the user's training; an error of ours must never change the user's results, output or
exceptions. ``caught`` is called from ``except`` blocks on any thread; strict mode (PROV4ML_STRICT, for our
tests) re-raises so that a broken hook fails the test instead of hiding.
"""

from __future__ import annotations

import collections
import sys
import traceback

counts: collections.Counter[str] = collections.Counter()
last_error: dict[str, str] = {}
strict = False
_ours: set[int] = set()  # ids of the errors strict mode raised (tests only: a handful)


def caught(where: str, exc: BaseException, reraise: bool = True) -> None:
    """Count an error of ours at ``where`` (an integration or agent part).

    Strict mode prints it and, on the training thread (``reraise``), raises it into the test. The collector
    passes ``reraise=False``: raising there would only lose the document that the test inspects.
    """
    counts[where] += 1
    last_error[where] = f"{type(exc).__name__}: {exc}"[:500]
    if strict:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        if reraise:
            _ours.add(id(exc))
            raise exc


def is_ours(exc: BaseException) -> bool:
    """An error of ours that strict mode raised into the training (its frames are all it has)."""
    return id(exc) in _ours


def total() -> int:
    return sum(counts.values())


def summary() -> str:
    return ", ".join(f"{where} x{n} ({last_error[where]})" for where, n in sorted(counts.items()))
