"""Placed on PYTHONPATH by ``prov4ml-run``: start the agent, then run the user's own sitecustomize."""

import os
import sys


def _chain_user_sitecustomize() -> None:
    """Import the next sitecustomize on sys.path (ours shadows it): remove our folder, import, restore."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved_path = list(sys.path)
    ours = sys.modules.pop("sitecustomize", None)
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    try:
        import sitecustomize  # noqa: F401  (the user's, if any)
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    finally:
        sys.path[:] = saved_path
        if ours is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = ours


try:
    from prov4ml_auto._bootstrap import start as _start

    _start()
except ImportError as _exc:
    sys.stderr.write(f"prov4ml: agent not started: {_exc}\n")
_chain_user_sitecustomize()
