"""Interpreter-start entry point (from the .pth file or a sitecustomize). Standard library only.

Decides, as cheaply as possible, whether this process is recorded: the switch, the process's role and the
configuration. Only then does it import the agent. A main process records from the start; a spawned one
(multiprocessing, or started by a recorded process) only once it trains; launchers and helpers never.
Any failure is one stderr line; the job always runs.
"""

from __future__ import annotations

import os
import sys

_started = False


def enabled(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    return environ.get("PROV4ML_ENABLE", "").strip().lower() in ("1", "true", "yes", "on")


def start() -> None:
    """Idempotent: a .pth line can be processed twice in a venv, and both .pth and sitecustomize may call."""
    global _started
    if _started or not enabled() or sys.flags.isolated:
        return
    _started = True
    try:
        _start()
    except Exception as exc:  # never let the agent stop the job from starting
        if os.environ.get("PROV4ML_STRICT", "").strip().lower() in ("1", "true", "yes", "on"):
            raise
        sys.stderr.write(f"prov4ml: agent not started ({type(exc).__name__}: {exc})\n")


def _start() -> None:
    from prov4ml_auto import roles
    from prov4ml_auto.config import Config, warn

    config = Config()
    for message in config.warnings:
        if not config.quiet:  # type: ignore[attr-defined]
            warn(message)
    role = roles.detect_role()
    if role == roles.LAUNCHER:
        _export_run_id()
        return
    if role == roles.HELPER:
        return
    from prov4ml_auto.agent import activate

    activate(config, lazy=role == roles.SPAWNED)


def _export_run_id() -> None:
    """A launcher (torchrun) is the parent of the ranks: give them one run id (its rendezvous id, when
    it has one, so that the launchers of every node agree), record nothing itself."""
    if not os.environ.get("PROV4ML_RUN_ID"):
        from prov4ml_auto.roles import default_run_id

        os.environ["PROV4ML_RUN_ID"] = default_run_id()
