"""Which part a process plays in a job, known at interpreter start from argv and the environment.

Standard library only. Workers and helpers must never create runs (they would make empty or duplicate
documents), and a launcher such as torchrun is the parent of the ranks, not a run of its own.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

MAIN = "main"
LAUNCHER = "launcher"
SPAWNED = "spawned"
HELPER = "helper"

_LAUNCHER_SCRIPTS = {"torchrun", "deepspeed", "accelerate"}
_LAUNCHER_MODULES = {"torch.distributed.run", "torch.distributed.launch"}
_OUR_TOOLS = {"prov4ml-run", "prov4ml"}
_HELPER_MARKERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "multiprocessing.semaphore_tracker")


@dataclass(frozen=True)
class Placement:
    """Where this process stands in a distributed job; world_size 1 means a single-process run."""

    rank: int
    local_rank: int
    world_size: int

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def detect_role(argv: list[str] | None = None) -> str:
    """MAIN, LAUNCHER, SPAWNED (a multiprocessing spawn child: records only if it trains) or HELPER."""
    argv = list(sys.orig_argv if argv is None else argv)
    command = " ".join(argv)
    if any(marker in command for marker in _HELPER_MARKERS) or _is_our_tool(argv):
        return HELPER
    if "--multiprocessing-fork" in argv or "multiprocessing.spawn" in command:
        return SPAWNED
    if _launcher_module(argv) or (len(argv) > 1 and _script_name(argv[1]) in _LAUNCHER_SCRIPTS):
        return LAUNCHER
    return MAIN


def _launcher_module(argv: list[str]) -> bool:
    for flag, value in zip(argv, argv[1:]):
        if flag == "-m":
            return value in _LAUNCHER_MODULES
    return False


def _is_our_tool(argv: list[str]) -> bool:
    """prov4ml-run itself must not record: it is about to exec the job, which records."""
    return len(argv) > 1 and _script_name(argv[1]) in _OUR_TOOLS or "prov4ml_auto.cli" in " ".join(argv[1:3])


def _script_name(path: str) -> str:
    return os.path.basename(path)


def _first_int(environ: dict[str, str] | os._Environ[str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        try:
            return int(environ[name])
        except (KeyError, ValueError):
            continue
    return default


def detect_placement(environ: dict[str, str] | os._Environ[str] | None = None) -> Placement:
    """Rank from RANK, then SLURM_PROCID, then MPI launchers' variables; likewise world size."""
    environ = os.environ if environ is None else environ
    rank = _first_int(environ, ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"), 0)
    local_rank = _first_int(environ, ("LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK"), 0)
    world_size = _first_int(environ, ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"), 1)
    return Placement(rank=rank, local_rank=local_rank, world_size=max(world_size, 1))
