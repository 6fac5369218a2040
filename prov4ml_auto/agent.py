"""The agent's life in one process: start a run, hook every exit path, finish within a bounded time.

Started by the bootstrap once it knows the agent is wanted. Exit paths: normal exit and ``sys.exit``
(atexit), an uncaught exception (excepthook, then atexit), SIGTERM and SIGHUP left at their default (a
handler that writes the document then lets the signal end the process exactly as it would have), fork (the
child drops the run), a multiprocessing child's end (its finalizer: such children leave by ``os._exit``).
SIGKILL, ``os._exit`` and aborts leave the journal, which ``prov4ml recover`` turns into a document.

A process started by multiprocessing or by a recorded process (roles.SPAWNED) is recorded lazily: it is
instrumented at once, but its run opens only at its first training event (_HeldBuffer), in the folder of
the nearest recorded process above it, which it names as its parent. DataLoader workers, the forkserver and
helpers never train, so they never make a run.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterable, NamedTuple

from prov4ml_auto import collector, constants, faults, integrations, roles
from prov4ml_auto.config import Config, warn
from prov4ml_auto.document import PROV4ML_NS, RUN_NS_ROOT, SHA256_NS, Document, QName
from prov4ml_auto.events import Buffer, Emit, Event, carried
from prov4ml_auto.integrations._files import Version, input_kind
from prov4ml_auto.files import Hasher, claim_folder, make_folder
from prov4ml_auto.journal import JournalWriter
from prov4ml_auto.recorder import RUN, Recorder
from prov4ml_auto.redact import redact_mapping, redact_text
from prov4ml_auto.roles import Placement, detect_placement
from prov4ml_auto.system import recording as system_recording

_agent: "Agent | None" = None


def default_run_name(argv: list[str], orig_argv: list[str]) -> str:
    """The script's name; for ``python -m pkg.train`` (argv[0] is still '-m' at start-up) the module's; for a
    script read from standard input (``python - < train.py``), "stdin"."""
    if argv and argv[0] == "-":
        return "stdin"
    if argv and argv[0] not in ("-c", "-m", ""):
        return os.path.splitext(os.path.basename(argv[0]))[0] or "python"
    for flag, value in zip(orig_argv, orig_argv[1:]):
        if flag == "-m":
            return value.rsplit(".", 1)[-1]
    return "python"


def document_name(placement: Placement) -> str:
    """The file stem: prov for a single process, prov.rank<N> for a rank; workers that torchrun restarted
    add .restart<K>, so that they never replace the documents of the attempt before."""
    if not placement.distributed:
        return "prov"
    return f"prov.rank{placement.rank}" + (f".restart{placement.restart}" if placement.restart else "")


class Agent:
    """One recorded process: its buffer, collector and exit hooks."""

    def __init__(self, config: Config, run_id: str, lazy: bool = False) -> None:
        self.config = config
        self.run_id = run_id
        self.lazy = lazy
        self.placement: Placement | None = detect_placement()  # None: a lazily recorded process without a rank
        self.parent: _Parent | None = None
        self.pid = os.getpid()
        self.created = time.time()
        self.folder = self._default_folder()
        self.scope = run_id  # the run namespace; differs from run_id when the folder had to be renamed
        self.stem = self.document_path = self.journal_path = ""
        capacity = config.buffer_size  # type: ignore[attr-defined]
        self.buffer = _HeldBuffer(capacity, self._open_for_training) if lazy else Buffer(capacity)
        self.outcome: dict[str, Any] = {}
        self.finished = False
        self.collector: collector.Collector | None = None

    # --- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Record from now on: open the run, then instrument libraries as they are imported."""
        self._open()
        integrations.install(self.config, self.buffer)

    def wait_for_training(self) -> None:
        """Instrument libraries now; open the run at the first training event (see _HeldBuffer)."""
        integrations.install(self.config, self.buffer)
        os.register_at_fork(after_in_child=self._after_fork_while_waiting)

    def _open_for_training(self) -> bool:
        """A lazily recorded process's first training events, on the thread that trains: open its run,
        unless this is the parent's main module imported again (by spawn, or the forkserver) or a worker."""
        if self.finished or roles.awaiting_target() or roles.in_dataloader_worker():
            return False
        try:
            self._open()
        except OSError as exc:
            self.finished = True  # one warning, not one per optimizer
            warn(f"prov4ml: not recording: cannot write to {self.folder} ({exc.strerror or exc})")
            return False
        self._announce()
        return True

    def _open(self) -> None:
        """Folder, journal, collector and exit hooks; the run begins at the process's start."""
        self.parent = _Parent.from_environment() if self.lazy else None
        self._make_folder()
        journal = JournalWriter(self.journal_path, {"prefix": self._prefixes(), "run": RUN,
                                                    "document": os.path.basename(self.document_path)})
        hasher = Hasher(self.config.hash_max_mb * 2**20, self.config.hash_budget)  # type: ignore[attr-defined]
        document = Document(self._prefixes())
        recorder = Recorder(document, self.document_path[: -len(".json")] + ".series", hasher,
                            self.config.tensor_fingerprint)  # type: ignore[attr-defined]
        self.collector = collector.Collector(self.buffer, recorder, journal, self.document_path,
                                             self.config.journal_interval)  # type: ignore[attr-defined]
        collector.register({"run_begin": _on_run_begin, "run_end": _on_run_end,
                            "hyperparameters": _on_hyperparameters, "arguments_parsed": _command.parsed,
                            "argument_files": _on_argument_files, "thread_exception": _on_thread_exception})
        collector.periodic.append(_FactsGatherer().tick)
        collector.periodic.append(_command.tick)
        collector.periodic.append(Recorder.upkeep)
        if self.config.integration_enabled("constants"):
            collector.periodic.append(constants.record)
        system_recording.install(recorder, self.config)
        self.buffer.queue.appendleft((self.created, "run_begin", list(sys.orig_argv), os.getcwd(), self.pid,
                                      self._placement_facts(), self.parent))  # before any event held until now
        self.collector.start()
        self._install_exit_hooks()
        self._export_as_parent()

    def _make_folder(self) -> None:
        """The ranks of one job share a folder (one document each); any other process gets a folder of its
        own, so two processes of one job running the same script never write into each other's files. A lazily
        recorded process writes beside its parent's document, under a name of its own."""
        if self.lazy:
            self.stem = self._lazy_stem()
            if self.parent is not None:
                self.folder, self.scope = os.path.dirname(self.parent.document), self.parent.scope
            else:  # named now: by this time a spawned child's sys.argv is its parent's
                self.folder = self._default_folder()
            make_folder(self.folder)
        else:
            assert self.placement is not None  # only a lazily recorded process may have none
            self.stem = document_name(self.placement)
            if self.placement.distributed:
                make_folder(self.folder)
            else:
                base, self.folder = self.folder, claim_folder(self.folder)
                self.scope = self.run_id + self.folder[len(base):]
        self.document_path = os.path.join(self.folder, self.stem + ".json")
        self.journal_path = os.path.join(self.folder, self.stem + ".journal.jsonl")

    def _default_folder(self) -> str:
        name = self.config.run_name or default_run_name(sys.argv, sys.orig_argv)  # type: ignore[attr-defined]
        return os.path.abspath(os.path.join(self.config.dir, f"{name}-{self.run_id}"))  # type: ignore[attr-defined]

    def _lazy_stem(self) -> str:
        """By rank when this process has one of its own (it joined a process group, or a launcher gave it
        one), else by pid: a rank inherited with the environment of a ranked parent is not its own."""
        placement = roles.process_group_placement() or detect_placement()
        stem = document_name(placement)
        parent_file = os.path.basename(self.parent.document) if self.parent is not None else ""
        if placement.distributed and stem + ".json" != parent_file:
            self.placement = placement
            return stem
        self.placement = None
        return f"prov.pid{self.pid}"

    def _prefixes(self) -> dict[str, str]:
        namespace = roles.member_namespace(f"{RUN_NS_ROOT}{self.scope}/", roles.member_of(self.stem))
        prefixes = {"prov4ml": PROV4ML_NS, "run": namespace, "sha256": SHA256_NS}
        if self.parent is not None:
            prefixes["parent"] = self.parent.namespace
        return prefixes

    def _placement_facts(self) -> dict[str, Any]:
        """Run id, the job's scheduler facts, and the rank facts when this process has a rank of its own."""
        facts: dict[str, Any] = {"runId": self.run_id, "parentPid": os.getppid(), **roles.job_tags()}
        if self.placement is not None:
            facts.update(rank=self.placement.rank, localRank=self.placement.local_rank,
                         worldSize=self.placement.world_size)
        return facts

    def _export_as_parent(self) -> None:
        """Processes started from now on find this run: those that train join it (roles.PARENT_*)."""
        os.environ.update({roles.PARENT_PID: str(self.pid), roles.PARENT_DOCUMENT: self.document_path,
                           roles.PARENT_RUN: self._prefixes()["run"] + RUN.partition(":")[2]})

    def _announce(self) -> None:
        if not self.config.quiet:  # type: ignore[attr-defined]
            warn(f"prov4ml: recording run {self.run_id} -> {self.folder}")

    def _install_exit_hooks(self) -> None:
        atexit.register(self.finish)
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._excepthook
        self._previous_thread_excepthook = threading.excepthook
        threading.excepthook = self._thread_excepthook
        self._original_exit = sys.exit
        sys.exit = self._exit
        if threading.current_thread() is threading.main_thread():
            for number in _ENDING_SIGNALS:
                if signal.getsignal(number) == signal.SIG_DFL:
                    signal.signal(number, self._on_ending_signal)
        os.register_at_fork(after_in_child=self._after_fork_in_child)
        if roles.multiprocessing_target_running():
            from multiprocessing import util

            util.Finalize(None, self._finish_multiprocessing_child, exitpriority=0)

    # --- exit paths --------------------------------------------------------------------------------
    def _exit(self, status: Any = None) -> None:
        """sys.exit, recording the status it was given (argparse and most scripts exit this way) and when: a
        SystemExit that is caught, with training going on after it (a notebook running ``parse_args`` on
        the kernel's argv, a script falling back to defaults), ended nothing (see ``_on_run_end``). Called
        while a KeyboardInterrupt is handled (Lightning's answer to Ctrl-C is ``exit(1)``), the run was
        interrupted, with the code given."""
        self.outcome.update(exit=_exit_code(status), exitCalled=time.time())
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            self.outcome.update(status="interrupted", exception="builtins.KeyboardInterrupt")
        self._original_exit(status)

    def _excepthook(self, kind: type, value: BaseException, tb: Any) -> None:
        self._record_exception(kind, value, tb)
        self._previous_excepthook(kind, value, tb)

    def _thread_excepthook(self, args: Any) -> None:
        """An exception that ends a thread (a training thread that diverged) ends only that thread: the process
        goes on, and may exit with 0. It is recorded beside the run's outcome, not as it."""
        if not issubclass(args.exc_type, SystemExit):  # which threading ignores
            try:
                name = args.thread.name if args.thread is not None else "?"
                kind = f"{args.exc_type.__module__}.{args.exc_type.__qualname__}"
                self.buffer.emit("thread_exception", name, kind, redact_text(str(args.exc_value))[:500])
            except Exception as exc:  # a user's __str__ may raise
                faults.caught("agent.excepthook", exc, reraise=False)
        self._previous_thread_excepthook(args)

    def _record_exception(self, kind: type, value: BaseException, tb: Any) -> None:
        """After an uncaught KeyboardInterrupt, Python ends the process by SIGINT, as SIGTERM's default would."""
        interrupted = issubclass(kind, KeyboardInterrupt)
        self.outcome = {
            "exit": -signal.SIGINT if interrupted else 1,
            "status": "interrupted" if interrupted else "failed",
            "exception": f"{kind.__module__}.{kind.__qualname__}",
            **({"signal": "SIGINT"} if interrupted else {}),
        }
        try:  # messages quote URLs and settings: redact before cutting, so no secret is cut in half
            self.outcome["exceptionMessage"] = redact_text(str(value))[:2000]
            text = "".join(traceback.format_exception(kind, value, tb, limit=-12))  # the innermost frames
            self.outcome["traceback"] = redact_text(text)[-4000:]
        except Exception as exc:  # a user's __str__ may raise
            faults.caught("agent.excepthook", exc, reraise=False)

    def _finish_multiprocessing_child(self) -> None:
        """multiprocessing reports its children's exceptions itself and ends fork and forkserver children by
        ``os._exit``: neither the excepthook nor atexit sees the end. Its finalizers run while the target's
        exception, if any, is still being handled."""
        kind, value, tb = sys.exc_info()
        if isinstance(value, SystemExit):
            self.outcome.setdefault("exit", _exit_code(value.code))
        elif kind is not None and value is not None:
            self._record_exception(kind, value, tb)
        self.finish()

    def _on_ending_signal(self, signum: int, frame: Any) -> None:
        """Stand in for the default disposition (SIGTERM from a scheduler, SIGHUP from a closed terminal):
        write the document, then end by the signal as it would.

        Called by a handler installed after ours (frameworks such as Lightning call "the previous handler"
        and carry on, to checkpoint and requeue), it does nothing: without the agent there would have been
        no previous handler to call, and ending the job here would take that decision away from them."""
        if signal.getsignal(signum) != self._on_ending_signal:
            return
        if os.getpid() == self.pid and self.collector is not None:
            self.outcome = {"exit": -signum, "status": "terminated", "signal": signal.Signals(signum).name}
            self.finish()
            self.collector.written.wait(self.config.exit_timeout)  # type: ignore[attr-defined]  (if atexit began it)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _after_fork_while_waiting(self) -> None:
        """A child forked before the run opened (by the forkserver, say) may train itself: it waits afresh."""
        if self.collector is None:
            self.pid, self.created = os.getpid(), time.time()
            self.buffer.reset_after_fork()
            self.buffer.owner_pid = self.pid

    def _after_fork_in_child(self) -> None:
        """A forked child (a DataLoader worker) has no run: drop the inherited buffer and exit hooks."""
        self.finished = True
        self.buffer.reset_after_fork()
        for number in _ENDING_SIGNALS:
            if signal.getsignal(number) == self._on_ending_signal:
                signal.signal(number, signal.SIG_DFL)

    def finish(self) -> None:
        """Bounded final flush: never blocks exit for more than PROV4ML_EXIT_TIMEOUT seconds."""
        if self.finished or os.getpid() != self.pid or self.collector is None:
            return
        self.finished = True
        uncaught = None if self.outcome else _uncaught_elsewhere()
        if uncaught is not None:
            self._record_exception(type(uncaught), uncaught, uncaught.__traceback__)
        if not self.outcome and _script_never_opened():
            self.outcome = {"exit": 2, "status": "failed", "exceptionMessage": f"can't open file {sys.argv[0]!r}"}
        outcome = {"exit": 0, "status": "finished", **self.outcome}
        if outcome["status"] == "finished" and outcome["exit"] != 0:
            outcome["status"] = "failed"
        timeout = self.config.exit_timeout  # type: ignore[attr-defined]
        self.collector.recorder.hasher.deadline = time.monotonic() + timeout * 0.6
        self.buffer.emit("run_end", outcome, self.buffer.dropped)
        self.collector.stop()
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


def _uncaught_elsewhere() -> BaseException | None:
    """The exception that ended the main thread where an excepthook installed after ours handled it without
    calling ours (typer's and rich's pretty tracebacks, a script's own logging hook): the interpreter keeps it
    in ``sys.last_value`` before it calls the hook. Not in an interactive session or a notebook's kernel, where
    that is the last error shown, not the end."""
    if sys.flags.interactive or "IPython" in sys.modules:
        return None
    value = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    return value if isinstance(value, BaseException) and not isinstance(value, SystemExit) else None


def _script_never_opened() -> bool:
    """``python nosuch.py``: Python says it cannot open the file and exits with 2, which no hook sees."""
    first = sys.argv[0] if sys.argv else ""
    return (first not in ("", "-", "-c", "-m") and not os.path.exists(first)
            and getattr(sys.modules.get("__main__"), "__file__", None) is None)


def _exit_code(status: Any) -> int:
    if status is None:
        return 0
    if isinstance(status, int):
        return int(status)  # sys.exit(not ok): a bool, which the process exits with as 0 or 1
    return 1


# --- run-level handlers (collector thread) -----------------------------------------------------------
def _on_run_begin(recorder: Recorder, t: float, argv: list[str], cwd: str, pid: int, placement: dict,
                  parent: "_Parent | None") -> None:
    from prov4ml_auto import facts  # imported on the collector: platform, subprocess, importlib.metadata

    recorder.begin_run(t, {**facts.process_facts(cwd, pid), **placement}, facts.user_name())
    _command.argv, _command.cwd, _command.began = argv, cwd, t
    if parent is not None:
        _link_parent(recorder, t, parent)


def _link_parent(recorder: Recorder, t: float, parent: "_Parent") -> None:
    """The run of the nearest recorded process above this one: declared here with its pid and document, so
    that the link resolves within this document too (the parent's own document describes it); it started
    this run, and the run names it (``parentPid`` stays the operating system's parent, a forkserver say)."""
    recorder.doc.activity(parent.ident, {"prov:type": QName("prov4ml:TrainingRun"), "pid": parent.pid,
                                         "document": os.path.basename(parent.document)})
    recorder.doc.relation("wasStartedBy", {"prov:activity": RUN, "prov:starter": parent.ident}, time=t)
    recorder.update_run({"parentRun": QName(parent.ident)})


def _on_run_end(recorder: Recorder, t: float, outcome: dict[str, Any], dropped: int) -> None:
    exit_called = outcome.pop("exitCalled", None)
    if exit_called is not None and recorder.last_step_time > exit_called:  # caught: the training went on
        outcome.update(exit=0, status="finished")
    recorder.end_all_phases(t)
    try:  # now, not when the document is written: a series that cannot be written is counted in it
        recorder.flush_series()
    except OSError as exc:
        faults.caught("series", exc, reraise=False)
    diagnostics = {
        "eventsDropped": dropped,
        "agentErrors": faults.total(),
        "agentErrorSummary": faults.summary() or None,
        "stepsTotal": recorder.global_step,
    }
    recorder.update_run({**outcome, **diagnostics}, end=t)


_thread_exceptions: list[str] = []
_THREAD_EXCEPTIONS_LISTED = 8


def _on_thread_exception(recorder: Recorder, t: float, thread: str, kind: str, message: str) -> None:
    """The run's ``threadExceptions`` (how many) and ``threadExceptionsListed``, the first few as
    ``<thread>: <type>: <message>``."""
    _thread_exceptions.append(f"{thread}: {kind}: {message}")
    recorder.update_run({"threadExceptions": len(_thread_exceptions),
                         "threadExceptionsListed": "; ".join(_thread_exceptions[:_THREAD_EXCEPTIONS_LISTED])})


def _on_hyperparameters(recorder: Recorder, t: float, source: str, values: dict) -> None:
    """From any integration (argparse, TensorBoard's add_hparams, trainers' arguments): redacted here."""
    recorder.hyperparameters(source, redact_mapping(values), t)


def _on_argument_files(recorder: Recorder, t: float, files: list[tuple[str, Version]]) -> None:
    """Files a parser's values name (argparse, click): inputs the run used, by content."""
    for path, version in files:
        recorder.file_read(path, input_kind(path), t, version)


class _Command:
    """The run's command line, recorded once it is known which of its options hold secrets: argv shows a
    long secret option (``--api-key X``) by its name, a short one (``-k X``) only to the script's parser.
    It waits for the parser (argparse, which HfArgumentParser is too) or, in a script with none, for the
    first training step or the run's end: the journal, flushed every second, must never hold a value that
    turns out to be secret."""

    def __init__(self) -> None:
        self.argv: list[str] | None = None
        self.cwd = ""
        self.began = 0.0  # the run's start: the files the command names are inputs from then on

    def parsed(self, recorder: Recorder, t: float, secret_options: list[str], secret_values: list[str]) -> None:
        self._record(recorder, secret_options, secret_values)

    def tick(self, recorder: Recorder, now: float, final: bool) -> None:
        if final or recorder.global_step > 0:
            self._record(recorder, (), ())

    def _record(self, recorder: Recorder, secret_options: Iterable[str], secret_values: Iterable[str]) -> None:
        """The command, and the files its arguments name (nanoGPT's ``config/train_x.py``, mmdetection's
        config, a data file given without a parser): inputs the run used, by content."""
        if self.argv is not None:
            from prov4ml_auto import facts

            secrets, values = frozenset(secret_options), frozenset(secret_values)
            recorder.update_run({"command": facts.command(self.argv, secrets, values)})
            for path, version in facts.files_named(self.argv[1:], secrets, values, self.cwd, recorder.script_path):
                recorder.file_read(path, input_kind(path), self.began, version, step=0)
            self.argv = None


_command = _Command()


class _FactsGatherer:
    """Environment, script and git facts, gathered once on the collector, off the training thread.

    The script is known from argv at once for ``python x.py``, but only after runpy has run for ``-m``.
    """

    def __init__(self) -> None:
        self.environment_done = False
        self.script_done = False

    def tick(self, recorder: Recorder, now: float, final: bool) -> None:
        if self.environment_done and self.script_done:  # most ticks: not even the import statement's lookup
            return
        from prov4ml_auto import facts

        if not self.environment_done:
            self.environment_done = True
            recorder.environment(facts.environment_facts())
        if not self.script_done:
            path = facts.script_path()
            if path is not None:
                self.script_done = True
                recorder.script(facts.script_facts(path), facts.git_facts(os.path.dirname(path)))


def activate(config: Config, lazy: bool = False) -> Agent | None:
    """Start recording this process, or with ``lazy`` only from its first training event (see _HeldBuffer).
    On any failure, one warning and the job runs untouched."""
    global _agent
    if _agent is not None:
        return _agent
    faults.strict = bool(config.strict)  # type: ignore[attr-defined]
    run_id = config.run_id or roles.default_run_id()  # type: ignore[attr-defined]
    os.environ["PROV4ML_RUN_ID"] = run_id
    agent = Agent(config, run_id, lazy)
    if lazy:
        agent.wait_for_training()
        _agent = agent
        return agent
    try:
        agent.start()
    except OSError as exc:
        warn(f"prov4ml: not recording: cannot write to {agent.folder} ({exc.strerror or exc})")
        return None
    _agent = agent
    agent._announce()
    return agent


def current() -> Agent | None:
    return _agent


# --- lazily recorded processes -----------------------------------------------------------------------
TRAINING_EVENTS = frozenset({"optimizer"})  # event kinds that show that a process trains
_HELD_MAX = 1000


class _HeldBuffer(Buffer):
    """The buffer of a process that records only once it trains (roles.SPAWNED).

    Until then lineage events are held (the first _HELD_MAX; later ones are counted as dropped) and per-step
    events discarded, and each training event asks ``trigger`` to open the run. The run then begins with the
    held events, which tell how the training was set up (seeds, checkpoints loaded, datasets). A DataLoader
    worker holds a handful of events and exits: no folder, no thread, no exit hook.
    """

    def __init__(self, capacity: int, trigger: Callable[[], bool]) -> None:
        self.waiting = True
        self.trigger = trigger
        super().__init__(capacity)

    def _emitters(self) -> tuple[Emit, Emit]:
        emit, emit_hot = super()._emitters()

        def held_emit(*event: Any, wake: bool = False) -> None:
            if self.waiting and event[0] in TRAINING_EVENTS and self.trigger():
                self.waiting = False
            if self.waiting and len(self.queue) >= _HELD_MAX:
                self.dropped += 1
            else:
                emit(*event, wake=wake)

        def held_emit_hot(event: Event) -> None:
            if not self.waiting:
                emit_hot(event)
            else:
                carried.clear()

        return held_emit, held_emit_hot


# Signals whose default ends the process: handled (while left at their default) to write the document first.
# Not SIGUSR1/2, though SLURM's --signal sends them: Lightning sets up its requeue on SIGUSR1 only when no
# handler is there, so one of ours would take its requeue away.
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

class _Parent(NamedTuple):
    """The nearest recorded process above this one, as it exported itself (Agent._export_as_parent)."""

    pid: int
    run: str  # the IRI of its run activity
    document: str  # the absolute path of its document

    @classmethod
    def from_environment(cls) -> "_Parent | None":
        pid, run, document = (os.environ.get(name, "") for name in
                              (roles.PARENT_PID, roles.PARENT_RUN, roles.PARENT_DOCUMENT))
        if not (pid.isdigit() and run.startswith(RUN_NS_ROOT) and os.path.isabs(document)):
            return None
        return cls(int(pid), run, document)

    @property
    def namespace(self) -> str:
        """Bound to the prefix ``parent`` in the child's document."""
        return self.run.rpartition("/")[0] + "/"

    @property
    def ident(self) -> str:
        return "parent:" + self.run.rpartition("/")[2]

    @property
    def scope(self) -> str:
        """The run's scope (its namespace below RUN_NS_ROOT), shared by every document in its folder."""
        run_namespace = roles.run_namespace(self.namespace, roles.member_of(self.document)) or self.namespace
        return run_namespace[len(RUN_NS_ROOT):-1]
