"""The agent's life in one process: start a run, hook every exit path, finish within a bounded time.

Started by the bootstrap once it knows the agent is wanted. Exit paths: normal exit and ``sys.exit``
(atexit), an uncaught exception (excepthook, then atexit), SIGTERM (a chained handler that writes the
document then lets the signal end the process exactly as it would have), fork (the child drops the run).
SIGKILL, ``os._exit`` and aborts leave the journal, which ``prov4ml recover`` turns into a document.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from prov4ml_auto import collector, faults, integrations
from prov4ml_auto.config import Config, warn
from prov4ml_auto.document import PROV4ML_NS, RUN_NS_ROOT, SHA256_NS, Document, QName
from prov4ml_auto.events import Buffer
from prov4ml_auto.facts import environment_facts, git_facts, process_facts, script_facts, script_path, user_name
from prov4ml_auto.files import Hasher
from prov4ml_auto.journal import JournalWriter
from prov4ml_auto.recorder import RUN, Recorder
from prov4ml_auto.redact import redact_mapping
from prov4ml_auto.roles import Placement, detect_placement

_agent: "Agent | None" = None


def default_run_id(environ: Any = None) -> str:
    """One id per job: the scheduler's when there is one, so every rank and node agrees on it."""
    environ = os.environ if environ is None else environ
    if environ.get("SLURM_JOB_ID"):
        parts = [environ["SLURM_JOB_ID"], environ.get("SLURM_STEP_ID", ""), environ.get("SLURM_ARRAY_TASK_ID", ""),
                 environ.get("SLURM_RESTART_COUNT", "")]
        return "slurm-" + "-".join(part for part in parts if part)
    elastic = environ.get("TORCHELASTIC_RUN_ID", "none")
    if elastic and elastic != "none":
        return f"elastic-{elastic}"
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


def default_run_name(argv: list[str]) -> str:
    for flag, value in zip(argv, argv[1:]):
        if flag == "-m":
            return value.rsplit(".", 1)[-1]
    script = argv[0] if argv and argv[0] not in ("-c", "-m", "") else "python"
    return os.path.splitext(os.path.basename(script))[0] or "python"


def document_name(placement: Placement) -> str:
    return f"prov.rank{placement.rank}" if placement.distributed else "prov"


class Agent:
    """One recorded process: its buffer, collector and exit hooks."""

    def __init__(self, config: Config, run_id: str) -> None:
        self.config = config
        self.run_id = run_id
        self.placement = detect_placement()
        self.pid = os.getpid()
        name = config.run_name or default_run_name(sys.argv)  # type: ignore[attr-defined]
        self.folder = os.path.abspath(os.path.join(config.dir, f"{name}-{run_id}"))  # type: ignore[attr-defined]
        stem = document_name(self.placement)
        self.document_path = os.path.join(self.folder, stem + ".json")
        self.journal_path = os.path.join(self.folder, stem + ".journal.jsonl")
        self.buffer = Buffer(config.buffer_size)  # type: ignore[attr-defined]
        self.outcome: dict[str, Any] = {}
        self.finished = False
        self.collector: collector.Collector | None = None

    # --- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        journal = JournalWriter(self.journal_path, {"prefix": self._prefixes(), "run": RUN,
                                                    "document": os.path.basename(self.document_path)})
        hasher = Hasher(self.config.hash_max_mb * 2**20, self.config.hash_budget)  # type: ignore[attr-defined]
        document = Document(self._prefixes())
        recorder = Recorder(document, self.document_path[: -len(".json")] + ".series", hasher,
                            self.config.tensor_fingerprint)  # type: ignore[attr-defined]
        self.collector = collector.Collector(self.buffer, recorder, journal, self.document_path,
                                             self.config.journal_interval)  # type: ignore[attr-defined]
        collector.register({"run_begin": _on_run_begin, "run_end": _on_run_end,
                            "hyperparameters": _on_hyperparameters})
        collector.periodic.append(_FactsGatherer().tick)
        self.buffer.emit("run_begin", list(sys.argv), os.getcwd(), self.pid, self._placement_facts())
        self.collector.start()
        self._install_exit_hooks()
        integrations.install(self.config, self.buffer)

    def _prefixes(self) -> dict[str, str]:
        scope = f"{self.run_id}/rank{self.placement.rank}/" if self.placement.distributed else f"{self.run_id}/"
        return {"prov4ml": PROV4ML_NS, "run": RUN_NS_ROOT + scope, "sha256": SHA256_NS}

    def _placement_facts(self) -> dict[str, Any]:
        return {"runId": self.run_id, "rank": self.placement.rank, "localRank": self.placement.local_rank,
                "worldSize": self.placement.world_size}

    def _install_exit_hooks(self) -> None:
        atexit.register(self.finish)
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._excepthook
        self._original_exit = sys.exit
        sys.exit = self._exit
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._on_sigterm)
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    # --- exit paths --------------------------------------------------------------------------------
    def _exit(self, status: Any = None) -> None:
        """sys.exit, recording the status it was given (argparse and most scripts exit this way)."""
        self.outcome.setdefault("exit", _exit_code(status))
        self._original_exit(status)

    def _excepthook(self, kind: type, value: BaseException, tb: Any) -> None:
        try:
            self.outcome = {
                "exit": 130 if issubclass(kind, KeyboardInterrupt) else 1,
                "status": "interrupted" if issubclass(kind, KeyboardInterrupt) else "failed",
                "exception": f"{kind.__module__}.{kind.__qualname__}",
                "exceptionMessage": str(value)[:2000],
                "traceback": "".join(traceback.format_exception(kind, value, tb, limit=8))[-4000:],
            }
        except Exception as exc:
            faults.caught("agent.excepthook", exc, reraise=False)
        self._previous_excepthook(kind, value, tb)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        """Write the document, then end by SIGTERM exactly as the default disposition would."""
        if os.getpid() == self.pid:
            self.outcome = {"exit": -signal.SIGTERM, "status": "terminated", "signal": "SIGTERM"}
            self.finish()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def _after_fork_in_child(self) -> None:
        """A forked child (a DataLoader worker) has no run: drop the inherited buffer and exit hooks."""
        self.finished = True
        self.buffer.reset_after_fork()
        if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def finish(self) -> None:
        """Bounded final flush: never blocks exit for more than PROV4ML_EXIT_TIMEOUT seconds."""
        if self.finished or os.getpid() != self.pid or self.collector is None:
            return
        self.finished = True
        outcome = {"exit": 0, "status": "finished", **self.outcome}
        if outcome["status"] == "finished" and outcome["exit"] != 0:
            outcome["status"] = "failed"
        timeout = self.config.exit_timeout  # type: ignore[attr-defined]
        self.collector.recorder.hasher.deadline = time.monotonic() + timeout * 0.6
        self.buffer.emit("run_end", outcome, self.buffer.dropped)
        self.collector.stop_requested.set()
        self.collector.written.wait(timeout)
        self._report()

    def _report(self) -> None:
        if self.config.quiet:  # type: ignore[attr-defined]
            return
        assert self.collector is not None
        if not self.collector.written.is_set():
            warn(f"prov4ml: document not finished in time; run `prov4ml recover {self.folder}`")
        elif self.collector.write_error:
            warn(f"prov4ml: could not write {self.document_path} ({self.collector.write_error})")
        else:
            problems = f"; {faults.total()} agent errors: {faults.summary()}" if faults.total() else ""
            warn(f"prov4ml: wrote {self.document_path}{problems}")


def _exit_code(status: Any) -> int:
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    return 1


# --- run-level handlers (collector thread) -----------------------------------------------------------
def _on_run_begin(recorder: Recorder, t: float, argv: list[str], cwd: str, pid: int, placement: dict) -> None:
    recorder.begin_run(t, {**process_facts(argv, cwd, pid), **placement}, user_name(), None)


def _on_run_end(recorder: Recorder, t: float, outcome: dict[str, Any], dropped: int) -> None:
    recorder.end_all_phases(t)
    diagnostics = {
        "eventsDropped": dropped,
        "agentErrors": faults.total(),
        "agentErrorSummary": faults.summary() or None,
        "stepsTotal": recorder.global_step,
    }
    recorder.update_run({**outcome, **diagnostics}, end=t)


def _on_hyperparameters(recorder: Recorder, t: float, source: str, values: dict) -> None:
    """From any integration (argparse, TensorBoard's add_hparams, trainers' arguments): redacted here."""
    recorder.hyperparameters(source, redact_mapping(values), t)


class _FactsGatherer:
    """Environment, script and git facts, gathered once on the collector, off the training thread.

    The script is known from argv at once for ``python x.py``, but only after runpy has run for ``-m``.
    """

    def __init__(self) -> None:
        self.environment_done = False
        self.script_done = False

    def tick(self, recorder: Recorder, now: float, final: bool) -> None:
        if not self.environment_done:
            self.environment_done = True
            recorder.environment(environment_facts())
        if not self.script_done:
            path = script_path()
            if path is not None:
                self.script_done = True
                self._script(recorder, path)

    @staticmethod
    def _script(recorder: Recorder, path: str) -> None:
        recorder.doc.agent("run:script", {"prov:type": QName("prov:SoftwareAgent"), **script_facts(path)})
        recorder.doc.relation("wasAssociatedWith", {"prov:activity": RUN, "prov:agent": "run:script"})
        recorder.doc.relation("actedOnBehalfOf", {"prov:delegate": "run:script", "prov:responsible": "run:user"})
        recorder.used_entity("run:code", {"prov:type": QName("prov4ml:SourceCode"),
                                          **git_facts(os.path.dirname(path))})


def activate(config: Config) -> Agent | None:
    """Start recording this process; on any failure, one warning and the job runs untouched."""
    global _agent
    if _agent is not None:
        return _agent
    faults.strict = bool(config.strict)  # type: ignore[attr-defined]
    run_id = config.run_id or os.environ.get("PROV4ML_RUN_ID") or default_run_id()  # type: ignore[attr-defined]
    os.environ["PROV4ML_RUN_ID"] = run_id
    agent = Agent(config, run_id)
    try:
        agent.start()
    except OSError as exc:
        warn(f"prov4ml: not recording: cannot write to {agent.folder} ({exc.strerror or exc})")
        return None
    _agent = agent
    if not config.quiet:  # type: ignore[attr-defined]
        warn(f"prov4ml: recording run {run_id} -> {agent.folder}")
    return agent


def current() -> Agent | None:
    return _agent
