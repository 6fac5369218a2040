"""Which part a process plays in a job, known at interpreter start from argv and the environment.

Standard library only. Workers and helpers must never create runs (they would make empty or duplicate
documents), and a launcher such as torchrun is the parent of the ranks, not a run of its own. Facts that
only exist later (whether a multiprocessing child's target runs, a DataLoader worker, a process group) are
read from modules already imported, never by importing them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, NamedTuple

MAIN = "main"
LAUNCHER = "launcher"
SPAWNED = "spawned"
HELPER = "helper"

# What a recorded process exports to the processes it starts, so that one that trains joins its run.
PARENT_PID = "PROV4ML_PARENT_PID"
PARENT_RUN = "PROV4ML_PARENT_RUN"  # the IRI of the parent's run activity
PARENT_DOCUMENT = "PROV4ML_PARENT_DOCUMENT"  # the absolute path of the parent's document

_LAUNCHER_SCRIPTS = {"torchrun", "deepspeed", "accelerate"}
_LAUNCHER_MODULES = {"torch.distributed.run", "torch.distributed.launch"}
_OUR_TOOLS = {"prov4ml-run", "prov4ml"}
_HELPER_MARKERS = ("multiprocessing.resource_tracker", "multiprocessing.semaphore_tracker")
# A spawn child's argv, and the forkserver's, whose forks become the children of the processes that asked.
_MULTIPROCESSING_MARKERS = ("--multiprocessing-fork", "multiprocessing.spawn", "multiprocessing.forkserver")
_RENDEZVOUS_FLAGS = ("--rdzv-id", "--rdzv_id")

Environ = dict[str, str] | os._Environ[str]


class Placement(NamedTuple):
    """Where this process stands in a distributed job; world_size 1 means a single-process run.
    ``restart`` counts torchrun's restarts of the workers (their documents must not replace the first's);
    ``local_rank`` is None when nothing says it."""

    rank: int
    local_rank: int | None
    world_size: int
    restart: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def detect_role(argv: list[str] | None = None, environ: Environ | None = None) -> str:
    """MAIN, LAUNCHER, SPAWNED or HELPER.

    SPAWNED is a process started by multiprocessing, or by a recorded process (it inherits PARENT_PID):
    most of those are DataLoader workers and helpers, so it records only once it shows that it trains.
    A launcher started by a recorded process is still a launcher: its ranks are the ones that may train.
    """
    argv = list(sys.orig_argv if argv is None else argv)
    environ = os.environ if environ is None else environ
    command = " ".join(argv)
    if any(marker in command for marker in _HELPER_MARKERS) or _is_our_tool(argv):
        return HELPER
    if started_by_multiprocessing(argv):
        return SPAWNED
    if _is_launcher(argv):
        return LAUNCHER
    if environ.get(PARENT_PID):
        return SPAWNED
    return MAIN


def started_by_multiprocessing(argv: list[str] | None = None) -> bool:
    command = " ".join(sys.orig_argv if argv is None else argv)
    return any(marker in command for marker in _MULTIPROCESSING_MARKERS)


def awaiting_target(argv: list[str] | None = None) -> bool:
    """True in a multiprocessing child until its Process target begins (multiprocessing sets the parent
    process then), and always in the forkserver: code that runs before is the parent's main module being
    imported again, and an optimizer it builds at module level is not this process training."""
    return started_by_multiprocessing(argv) and not multiprocessing_target_running()


def multiprocessing_target_running() -> bool:
    process = sys.modules.get("multiprocessing.process")
    return process is not None and process.parent_process() is not None


def in_dataloader_worker() -> bool:
    """A DataLoader worker (of any start method) never records, whatever its dataset code does."""
    data = sys.modules.get("torch.utils.data")
    return data is not None and data.get_worker_info() is not None


def _is_launcher(argv: list[str]) -> bool:
    return len(argv) > 1 and _script_name(argv[1]) in _LAUNCHER_SCRIPTS or _launcher_module(argv)


def _launcher_module(argv: list[str]) -> bool:
    for flag, value in zip(argv, argv[1:]):
        if flag == "-m":
            return value in _LAUNCHER_MODULES
    return False


def rendezvous_id(argv: list[str] | None = None) -> str | None:
    """torchrun's ``--rdzv-id``, which every node's launcher is given: one run id for a multi-node job.
    Read from a launcher's command line, or one that runs a launcher (``prov4ml-run torchrun ...``), up to
    the training script. torchrun's default, ``none``, names no job."""
    argv = list(sys.orig_argv if argv is None else argv)
    launcher = False
    for index, arg in enumerate(argv):
        if arg.endswith(".py"):
            break
        launcher = launcher or _script_name(arg) in _LAUNCHER_SCRIPTS or (
            arg in _LAUNCHER_MODULES and argv[index - 1] == "-m")
        flag, equals, value = arg.partition("=")
        if launcher and flag in _RENDEZVOUS_FLAGS:
            value = value if equals else "".join(argv[index + 1:index + 2])
            return value if value and value != "none" else None
    return None


def _is_our_tool(argv: list[str]) -> bool:
    """prov4ml-run itself must not record: it is about to exec the job, which records."""
    return len(argv) > 1 and _script_name(argv[1]) in _OUR_TOOLS or "prov4ml_auto.cli" in " ".join(argv[1:3])


def _script_name(path: str) -> str:
    return os.path.basename(path)


def _first_int(environ: Environ, names: tuple[str, ...], default: Any) -> Any:
    for name in names:
        try:
            return int(environ[name])
        except (KeyError, ValueError):
            continue
    return default


_LOCAL_RANK = ("LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")


def detect_placement(environ: Environ | None = None) -> Placement:
    """Rank from RANK, then SLURM_PROCID, then MPI launchers' variables; likewise world size."""
    environ = os.environ if environ is None else environ
    rank = _first_int(environ, ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"), 0)
    local_rank = _first_int(environ, _LOCAL_RANK, 0)
    world_size = _first_int(environ, ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"), 1)
    restart = _first_int(environ, ("TORCHELASTIC_RESTART_COUNT",), 0)
    return Placement(rank=rank, local_rank=local_rank, world_size=max(world_size, 1), restart=max(restart, 0))


def process_group_placement(environ: Environ | None = None) -> Placement | None:
    """The placement torch.distributed knows, when this process has joined a process group (the workers of
    ``torch.multiprocessing.spawn`` pass their rank in code, not in the environment)."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is None or not distributed.is_available() or not distributed.is_initialized():
        return None
    environ = os.environ if environ is None else environ
    return Placement(rank=distributed.get_rank(), local_rank=_first_int(environ, _LOCAL_RANK, None),
                     world_size=distributed.get_world_size())


# Scheduler facts on every run activity: (attribute, variable, is a count). The node name comes first.
_JOB_VARIABLES = (
    ("slurmJobId", "SLURM_JOB_ID", False),
    ("slurmJobName", "SLURM_JOB_NAME", False),
    ("slurmStepId", "SLURM_STEP_ID", False),
    ("slurmArrayJobId", "SLURM_ARRAY_JOB_ID", False),
    ("slurmArrayTaskId", "SLURM_ARRAY_TASK_ID", False),
    ("slurmRestartCount", "SLURM_RESTART_COUNT", True),
    ("slurmNodeId", "SLURM_NODEID", True),
    ("elasticRunId", "TORCHELASTIC_RUN_ID", False),
    ("elasticRestartCount", "TORCHELASTIC_RESTART_COUNT", True),
    ("elasticMaxRestarts", "TORCHELASTIC_MAX_RESTARTS", True),
    ("localWorldSize", "LOCAL_WORLD_SIZE", True),
    ("groupRank", "GROUP_RANK", True),
)
SCHEDULER_ATTRIBUTES = tuple(name for name, _, _ in _JOB_VARIABLES)


def job_tags(environ: Environ | None = None) -> dict[str, Any]:
    """The node's name (SLURM's, else the host's) and the SLURM and torchrun facts that are set.
    ``TORCHELASTIC_RUN_ID=none`` is torchrun's way of saying there is no id."""
    import socket  # here: the bootstrap imports this module in every process

    environ = os.environ if environ is None else environ
    tags: dict[str, Any] = {"node": environ.get("SLURMD_NODENAME") or socket.gethostname()}
    for name, variable, count in _JOB_VARIABLES:
        value = environ.get(variable, "").strip()
        if not value or (variable == "TORCHELASTIC_RUN_ID" and value == "none"):
            continue
        tags[name] = _first_int({variable: value}, (variable,), value) if count else value
    return tags


def member_of(document: str) -> str:
    """The member a document file stands for within its run: '' for ``prov.json`` (the run's only or first
    process), else what follows ``prov.``: ``rank0``, ``rank1.restart1``, ``pid4242``."""
    stem = os.path.basename(document).removesuffix(".json")
    return stem[len("prov."):] if stem.startswith("prov.") else ""


def member_namespace(run_namespace: str, member: str) -> str:
    """A member's ``run:`` namespace: the run's own for ``prov.json``, else the run's followed by member/."""
    return run_namespace + member + "/" if member else run_namespace


def run_namespace(namespace: str, member: str) -> str | None:
    """The run's namespace from a member's (the inverse of member_namespace); None if it is not one."""
    suffix = member + "/" if member else ""
    return namespace[: len(namespace) - len(suffix)] if namespace.endswith(suffix) else None


def default_run_id(environ: Any = None, argv: list[str] | None = None) -> str:
    """One id per job: the scheduler's when there is one, so every rank and node agrees on it; else
    torchrun's rendezvous id from the command line (``argv``, by default this process's)."""
    environ = os.environ if environ is None else environ
    if environ.get("SLURM_JOB_ID"):
        parts = [environ["SLURM_JOB_ID"], environ.get("SLURM_STEP_ID", ""), environ.get("SLURM_ARRAY_TASK_ID", ""),
                 environ.get("SLURM_RESTART_COUNT", "")]
        return "slurm-" + "-".join(part for part in parts if part)
    elastic = environ.get("TORCHELASTIC_RUN_ID", "none")
    if elastic and elastic != "none":
        return "elastic-" + _name_part(elastic)
    rendezvous = rendezvous_id(argv)
    if rendezvous:
        return "elastic-" + _name_part(rendezvous)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


def _name_part(text: str) -> str:
    """A user's rendezvous id as part of a run id: folder names and IRIs take letters, digits, '.', '_', '-'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100]
