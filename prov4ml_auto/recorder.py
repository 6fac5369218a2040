"""The ML vocabulary on top of the PROV document: runs, phases, hyperparameters, files, metrics.

Runs on the collector thread. Knows nothing of torch (integrations hand it plain values) and nothing of
JSON (the Document types values). This is where a fact becomes a record: look here for any record's shape.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from prov4ml_auto import faults
from prov4ml_auto.document import QName, Document, local_name
from prov4ml_auto.files import FileDigest, Hasher
from prov4ml_auto.series import Aggregate, Row, Series

RUN = "run:run"
ENVIRONMENT = "run:environment"
_MOVE_WAIT_SECONDS = 1.0  # how long a file gone before it was hashed waits for its move's event
_LISTED_COPIES = 16
_LISTED_READS_PER_FOLDER = 64
_LISTED_READS_BELOW_PARENT = 256
_LISTED_READS = 4096  # in all: a deep tree of sample files lists no more
_COUNTED_DISTINCT = 100_000  # beyond, reads not listed are counted without telling repeats apart (memory)
_GUESSED_KIND = "prov4ml:DataFile"  # what a file is taken for when nothing says more

PhaseWatcher = Callable[["Phase", float, bool], Mapping[str, Any]]


class Phase:
    """An epoch or an evaluation pass, open between its first batch request and its end."""

    __slots__ = ("ident", "kind", "index", "start_step", "metrics", "settings", "stepped", "closed")

    def __init__(self, ident: str, kind: str, index: int, start_step: int) -> None:
        self.ident = ident
        self.kind = kind
        self.index = index
        self.start_step = start_step  # the run's step when it began: its steps are the ones after
        self.metrics: dict[str, Aggregate] = {}
        self.settings: dict[str, Aggregate] = {}  # the values its steps used (see Recorder.setting)
        self.stepped: set[str] = set()  # the owners of settings that took a step in it (see Recorder.stepped)
        self.closed = False


class PendingPass(NamedTuple):
    """A pass over data that has begun and that nothing has happened in yet (see ``Recorder.begin_pass``)."""

    time: float
    training: bool  # grad was enabled when it began
    attributes: Mapping[str, Any]
    uses: tuple[str, ...]
    start_step: int
    tells_first_batch: bool  # its loader says when it draws its first batch (see ``pass_drawn``)


class Unplaced(NamedTuple):
    """A file written under a name it had already left when the collector came to hash it (see
    ``Recorder.await_move``), with the moment and the place in the training it was written at."""

    kind: str
    time: float
    attributes: Mapping[str, Any]
    epoch: Phase | None
    step: int


class Recorder:
    """Turns facts into records. One per process; single-threaded (the collector's)."""

    def __init__(self, document: Document, series_dir: str, hasher: Hasher, fingerprint_tensors: bool = False) -> None:
        self.doc = document
        self.fingerprint_tensors = fingerprint_tensors
        self.series_dir = series_dir
        self.hasher = hasher
        self.global_step = 0
        self.last_step_time = 0.0  # when the latest training step was taken (torch_optim's step events)
        self.cwd = os.getcwd()  # the training thread's, as the latest event carrying it said: relative paths
        self.phases: dict[Any, Phase] = {}
        self.pending: dict[Any, PendingPass] = {}  # passes begun, not yet known as epoch or evaluation
        self._open_passes: dict[Any, None] = {}  # every plain-loop pass not ended, in the order they began
        self._ended: tuple[Any, Phase, Mapping[str, Any]] | None = None  # the latest pass, if none began since
        self._tail: tuple[Any, Mapping[str, Any], str] | None = None  # that pass's phase, reopened, its kind
        self._dropped: tuple[Any, PendingPass, Mapping[str, Any]] | None = None  # the latest pass dropped with
        # nothing in it, if none began since (evaluation_seen)
        self._tail_end = 0.0  # the time of its latest step or loss
        self.epoch: Phase | None = None  # the latest epoch, until the next begins (its tail: validation, saving)
        self.phase_counts: dict[str, int] = {}
        self.series: dict[str, Series] = {}
        self._settings_in_effect: dict[str, tuple[int, float]] = {}  # setting -> (from step, value)
        self.phase_changes = 0  # counts phases begun or reopened: owners tell ``stepped`` again after a change
        self._unused_rows: dict[str, tuple[int, float, float]] = {}  # setting -> (step, value, time) no step used yet
        self.counters: dict[str, int] = {}
        self._known_files: dict[tuple, str] = {}
        self._hashed: dict[tuple, str] = {}  # (path, (size, mtime_ns)) -> the content's entity, once hashed
        self._generated: set[str] = set()
        self._drawn: dict[Any, bool] = {}  # pending passes that have drawn a batch: was grad enabled then
        self._unplaced: dict[tuple, Unplaced] = {}  # (path, (size, mtime_ns)) -> written, moved before hashed
        self._reads_per_folder: dict[str, int] = {}  # folder -> files read there and listed
        self._not_listed: set[int] = set()  # hashes of the (path, version) read and not listed
        self._not_listed_beyond = 0  # reads not listed once that set is full
        self._not_listed_reported = 0
        self.phase_watchers: list[PhaseWatcher] = []  # (phase, time, ending) -> extra attributes
        self.trainer: str | None = None  # the trainer integration whose loop is running (see claim_trainer)
        self.trainer_folders: tuple[str, ...] = ()
        self.script_path: str | None = None  # the user's script, once its facts are recorded

    # --- run ---------------------------------------------------------------------------------------
    def begin_run(self, start: float, run: Mapping[str, Any], user: str) -> None:
        self.doc.activity(RUN, {"prov:type": QName("prov4ml:TrainingRun"), **run}, start=start)
        self.doc.agent("run:user", {"prov:type": QName("prov:Person"), "name": user})
        self.doc.relation("wasAssociatedWith", {"prov:activity": RUN, "prov:agent": "run:user"})

    def script(self, script: Mapping[str, Any], code: Mapping[str, Any]) -> None:
        """The script as the software agent acting for the user, and its code version as an input."""
        self.script_path = script.get("path")
        self.doc.agent("run:script", {"prov:type": QName("prov:SoftwareAgent"), **script})
        self.doc.relation("wasAssociatedWith", {"prov:activity": RUN, "prov:agent": "run:script"})
        self.doc.relation("actedOnBehalfOf", {"prov:delegate": "run:script", "prov:responsible": "run:user"})
        self.used_entity("run:code", {"prov:type": QName("prov4ml:SourceCode"), **code})

    def update_run(self, attributes: Mapping[str, Any], end: float | None = None) -> None:
        self.doc.activity(RUN, attributes, end=end)

    def environment(self, attributes: Mapping[str, Any]) -> None:
        """Facts about the software and machine the run used (one entity, grown as facts arrive)."""
        first = not self.doc.has("entity", ENVIRONMENT)
        self.doc.entity(ENVIRONMENT, {"prov:type": QName("prov4ml:Environment"), **attributes})
        if first:
            self.doc.relation("used", {"prov:activity": RUN, "prov:entity": ENVIRONMENT})

    def used_entity(self, ident: str, attributes: Mapping[str, Any], time: float | None = None) -> str:
        """A run-level input (code version, hyperparameter, seed, optimizer...), used by the run."""
        first = not self.doc.has("entity", ident)
        self.doc.entity(ident, attributes)
        if first:
            self.doc.relation("used", {"prov:activity": RUN, "prov:entity": ident}, time=time)
        return ident

    def numbered(self, kind: str) -> str:
        """Run-scoped counter ids: run:optimizer/0, run:optimizer/1, ..."""
        number = self.counters.get(kind, 0)
        self.counters[kind] = number + 1
        return f"run:{kind}/{number}"

    def hyperparameters(self, source: str, values: Mapping[str, Any], time: float) -> None:
        for name, value in values.items():
            self.used_entity(
                f"run:param/{local_name(source)}/{_unique_local_name(str(name))}",
                {"prov:type": QName("prov4ml:Hyperparameter"), "prov:value": value, "name": str(name),
                 "source": source},
                time,
            )

    # --- phases ------------------------------------------------------------------------------------
    def begin_phase(self, key: Any, kind: str, time: float, attributes: Mapping[str, Any],
                    start_step: int | None = None) -> Phase:
        index = self.phase_counts.get(kind, 0)
        self.phase_counts[kind] = index + 1
        ident = f"run:{kind}/{index}"
        kind_name = QName("prov4ml:Epoch" if kind == "epoch" else "prov4ml:Evaluation")
        self._summarise()
        phase = Phase(ident, kind, index, self.global_step if start_step is None else start_step)
        extra = self._watch(phase, time, ending=False)
        self.doc.activity(ident, {"prov:type": kind_name, "index": index, **attributes, **extra}, start=time)
        self.doc.relation("wasStartedBy", {"prov:activity": ident, "prov:starter": RUN}, time=time)
        self.phases[key] = phase
        self.phase_changes += 1
        if kind == "epoch":
            self.epoch = phase
        return phase

    def end_phase(self, key: Any, time: float, attributes: Mapping[str, Any]) -> None:
        if key not in self.phases:
            return
        self._summarise()
        phase = self.phases.pop(key)
        phase.closed = True
        summary: dict[str, Any] = {"steps": self.global_step - phase.start_step, **attributes}
        for name, aggregate in phase.metrics.items():
            summary.update(aggregate.attributes(name))
        for name, (since, value) in self._settings_in_effect.items():
            if since <= self.global_step and self.global_step > phase.start_step:
                phase.settings.setdefault(name, Aggregate()).extend((value,))
        for name, aggregate in phase.settings.items():
            if name.split(".", 1)[0] in phase.stepped:
                summary.update(aggregate.range_attributes(name))
        summary.update(self._watch(phase, time, ending=True))
        self.doc.activity(phase.ident, summary, end=time)

    def reopen_phase(self, key: Any, phase: Phase) -> None:
        """A phase that has ended takes values again until ``end_phase``, which brings its summary and its end
        up to date: a trainer logs an epoch's values after its epoch-end hook."""
        self._summarise()
        phase.closed = False
        self.phases[key] = phase
        self.phase_changes += 1

    def stepped(self, owner: str) -> None:
        """The owner of settings (an optimizer: its series are named ``<owner>.<...>``) took a step in the
        phases open now: their summaries cover its settings. One that took none there (a GAN's second
        optimizer in a phase that trained only the first, an optimizer left behind by an earlier stage) is
        left out. Its caller tells it once per ``phase_changes``."""
        for phase in self.phases.values():
            phase.stepped.add(owner)

    def _watch(self, phase: Phase, time: float, ending: bool) -> dict[str, Any]:
        """Attributes that watchers (system metrics, energy) add when a phase begins or ends."""
        extra: dict[str, Any] = {}
        for watcher in self.phase_watchers:
            extra.update(watcher(phase, time, ending))
        return extra

    def end_all_phases(self, time: float) -> None:
        self.pending.clear()
        self._drawn.clear()
        self._open_passes.clear()
        self._end_tail()
        for key in list(self.phases):
            self.end_phase(key, time, {"complete": False})

    def begin_pass(self, key: Any, time: float, training: bool, attributes: Mapping[str, Any],
                   uses: Iterable[str], tells_first_batch: bool = False) -> None:
        """A pass over a plain loop's data has begun; what it is shows later. The first training step or loss
        makes it an epoch, and the first evaluation loss an evaluation: the PyTorch tutorial's loop turns
        grad off inside its validation pass, not before it. A pass that ends complete with neither is an
        epoch if it began with grad enabled. One abandoned with neither was no pass: a progress bar's
        second ``iter()`` (tqdm.auto's), a peek at one batch to size a lazy layer."""
        self._end_tail()
        self._ended = self._dropped = None
        self.pending[key] = PendingPass(time, training, attributes, tuple(uses), self.global_step, tells_first_batch)
        self._open_passes[key] = None

    def pass_drawn(self, key: Any, grad_enabled: bool) -> None:
        """A pass has drawn its first batch (told once per pass, when the loader says so), with grad enabled
        or not: ``val_iter = iter(val_loader)`` before the loop begins with grad on, and draws under
        ``no_grad``."""
        if key in self.pending:
            self._drawn[key] = grad_enabled

    def training_seen(self, time: float) -> None:
        """Before a training step or loss is recorded: every pass waiting is an epoch (zip over loaders),
        unless its loader tells its first batch and has drawn none, or drew it with grad disabled (an iterator
        opened ahead of the loop, for validation).
        With none, steps after an epoch's pass ended and before another began are that epoch's tail: a loader
        that reads one batch ahead (accelerate's) ends its pass before the last batch is trained on, and a
        gradient accumulation's last update may follow the loop. The epoch ends again after them, at the
        time of the last (``time``: of the latest step or loss)."""
        for key, waiting in list(self.pending.items()):
            if self._drawn.get(key) or not waiting.tells_first_batch:
                self._settle(key, "epoch")
        self._reopen("epoch", time)

    def _reopen(self, kind: str, time: float) -> None:
        """A tail of the other kind ends first: an evaluation loss is no part of an epoch's tail."""
        if self._tail is not None and self._tail[2] != kind:
            self._end_tail()
        self._tail_end = time
        if self._ended is not None and self._ended[1].kind == kind and not self.pending:
            key, phase, attributes = self._ended
            self._ended = None
            self.reopen_phase(key, phase)
            self._tail = (key, attributes, kind)

    def _end_tail(self) -> None:
        if self._tail is not None:
            key, attributes, _ = self._tail
            self._tail = None
            self.end_phase(key, self._tail_end, attributes)

    def evaluation_seen(self, time: float) -> None:
        """Before an evaluation loss is recorded: it comes from the latest pass begun, an evaluation if it was
        still waiting (the pass around it may be a training pass that validates before its first step). With
        none, one after an evaluation's pass ended and before another began is its tail (see training_seen)."""
        if self.pending:
            latest = next(reversed(self._open_passes))
            if latest not in self.pending:  # the latest is training: one opened ahead drew for validation
                latest = next((key for key in reversed(self._open_passes) if self._drawn.get(key) is False), None)
            if latest in self.pending:
                self._settle(latest, "evaluation")
        elif self._dropped is not None:
            self._take_dropped()
        self._reopen("evaluation", time)

    def _take_dropped(self) -> None:
        """An evaluation loss right after a pass was dropped with nothing in it: ``x, y = next(iter(loader))``
        drops its iterator before the loss of that batch is computed. That pass was this evaluation, which
        lasts until its latest loss (a tail, see training_seen)."""
        key, waiting, attributes = self._dropped
        self._dropped = None
        self._end_tail()
        self.pending[key] = waiting
        self._settle(key, "evaluation")
        self._tail = (key, attributes, "evaluation")

    def end_pass(self, key: Any, time: float, complete: bool, attributes: Mapping[str, Any]) -> None:
        self._open_passes.pop(key, None)
        waiting = self.pending.get(key)
        if waiting is not None:
            if not complete:
                del self.pending[key]
                self._drawn.pop(key, None)
                self._dropped = (key, waiting, attributes)
                return
            self._settle(key, "epoch" if waiting.training else "evaluation")
        phase = self.phases.get(key)
        self.end_phase(key, time, attributes)
        if phase is not None and complete:
            self._ended = (key, phase, attributes)

    def _settle(self, key: Any, kind: str) -> None:
        waiting = self.pending.pop(key)
        self._drawn.pop(key, None)
        phase = self.begin_phase(key, kind, waiting.time, waiting.attributes, waiting.start_step)
        for entity in waiting.uses:
            self.phase_uses(phase, entity)

    def phase_uses(self, phase: Phase, entity: str) -> None:
        self.doc.relation("used", {"prov:activity": phase.ident, "prov:entity": entity})

    # --- trainer ownership -------------------------------------------------------------------------
    def claim_trainer(self, name: str, folders: Iterable[str] = ()) -> None:
        """A trainer's loop (Hugging Face, Lightning) runs from now until ``release_trainer``: one fact, one
        record. The trainer's own hooks record its epochs and evaluations, its step count, the values it
        logs (its losses among them) and the files it saves below ``folders``; the torch-level handlers
        consult ``trainer`` and ``owned_by_trainer`` on the collector and leave those facts to it. They keep
        what only they see: optimizers and their step counts, models, DataLoaders and datasets, other files.
        Called again while the loop runs, it adds folders."""
        self.trainer = name
        self.trainer_folders += tuple(os.path.join(os.path.abspath(folder), "") for folder in folders)
        self._end_tail()  # the trainer's steps are no tail of a plain loop's pass before it
        self._ended = self._dropped = None

    def release_trainer(self) -> None:
        """The trainer's loop is over: what is saved from now on (the final model) is the run's, not its last
        epoch's."""
        self.trainer = None
        self.trainer_folders = ()
        self.epoch = None

    def owned_by_trainer(self, path: str) -> bool:
        """A file the running trainer saves in one of its checkpoint folders (it records the whole folder)."""
        return self.trainer is not None and os.path.abspath(path).startswith(self.trainer_folders)

    # --- metrics -----------------------------------------------------------------------------------
    def metric(self, name: str, value: float, time: float, step: int | None = None, per_phase: bool = True) -> None:
        """A value at a step (the run's, unless given): a row in the series' side file, and later in the
        aggregates of the phases open now (``per_phase=False`` where a phase watcher summarises the series
        itself, as system metrics do)."""
        # float(): an int, a bool or numpy's float64 (whose repr is "np.float64(...)") is written as a float
        self.metric_rows(name, [(self.global_step if step is None else step, self.epoch_index, time, float(value))],
                         per_phase)

    def metric_rows(self, name: str, rows: list[Row], per_phase: bool = True) -> None:
        """Rows as the side file holds them, (step, epoch, time, float value): a run of training steps' losses
        at once. It only appends them (the aggregates catch up in ``_summarise``)."""
        series = self.series.get(name)
        if series is None:
            path = os.path.join(self.series_dir, local_name(name) + ".csv")
            series = self.series[name] = Series(path, per_phase)
        series.extend(rows)

    @property
    def epoch_index(self) -> int | None:
        """The latest epoch's, which a row added now belongs to (None before the first)."""
        return None if self.epoch is None else self.epoch.index

    def setting(self, name: str, value: float, time: float, step: int, steps_taken: int) -> bool:
        """A setting (a learning rate) is ``value`` from ``step`` on, where its optimizer has taken steps up
        to ``steps_taken``: a row of its series, which holds the values steps used, at each change. A value
        no step used is no row: one a scheduler replaces as it is constructed, or the one its step after
        the last training step leaves (``settle_setting``).
        A phase's summary of it covers the values its own steps used: the one being replaced counts for the
        phases open now that had steps under it; at a phase's end, so does the one in effect, unless it only
        starts after the phase's last step (a scheduler steps before the epoch's end is known). Its first,
        last, lowest and highest value: a mean of change points would weigh nothing right. True while the
        row waits for a step to use it."""
        previous = self._settings_in_effect.get(name)
        if previous is not None:
            for phase in self.phases.values():
                if step - 1 > phase.start_step:
                    phase.settings.setdefault(name, Aggregate()).extend((previous[1],))
        self._settings_in_effect[name] = (step, value)
        waiting = self._unused_rows.get(name)
        if waiting is not None and waiting[0] < step:  # a step before this value's first used it
            self.settle_setting(name, steps_taken)
        self._unused_rows[name] = (step, value, time)  # replacing a row that no step used
        return self.settle_setting(name, steps_taken)

    def move_unused_row(self, name: str, step: int) -> None:
        """The setting's latest value, which no step has used yet, takes effect from ``step`` instead."""
        row = self._unused_rows.get(name)
        if row is not None:
            self._unused_rows[name] = (step, row[1], row[2])
            self._settings_in_effect[name] = (step, row[1])

    def has_setting(self, name: str) -> bool:
        return name in self._settings_in_effect

    def settle_setting(self, name: str, steps_taken: int) -> bool:
        """The setting's latest row is written once a step has used it (its optimizer took ``steps_taken``),
        in that step's epoch. True while it still waits."""
        row = self._unused_rows.get(name)
        if row is not None and row[0] <= steps_taken:
            del self._unused_rows[name]
            self.metric(name, row[1], row[2], step=row[0], per_phase=False)
        return name in self._unused_rows

    def _summarise(self) -> None:
        """Bring every aggregate up to date. Called before the set of open phases changes and before rows
        are written: the values added since the previous call all belong to the phases open now."""
        for name, series in self.series.items():
            values = series.new_values()
            if values and series.per_phase:
                for phase in self.phases.values():
                    aggregate = phase.metrics.get(name)
                    if aggregate is None:
                        aggregate = phase.metrics[name] = Aggregate()
                    aggregate.extend(values)

    def flush_series(self) -> None:
        self._summarise()
        for series in self.series.values():
            try:
                series.flush()
            except OSError as exc:
                faults.caught("series", exc, reraise=False)

    def close_series(self, run_folder: str) -> None:
        """Reference every series from the document; one that cannot be closed (a full disk) is counted
        and left out, the others are still written."""
        self._summarise()
        for name, series in self.series.items():
            try:
                digest = series.close()
            except OSError as exc:
                faults.caught("series", exc, reraise=False)
                continue
            if digest is None:
                continue
            ident = f"run:series/{local_name(name)}"
            self.doc.entity(ident, {
                "prov:type": QName("prov4ml:MetricSeries"), "name": name, "format": "text/csv",
                "path": os.path.relpath(series.path, run_folder), "sha256": digest,
                **series.aggregate.attributes("value"),
            })
            self.doc.relation("wasGeneratedBy", {"prov:entity": ident, "prov:activity": RUN})

    # --- files -------------------------------------------------------------------------------------
    def file_entity(self, path: str, kind: str, attributes: Mapping[str, Any] | None = None,
                    stat_key: tuple | None = None) -> str:
        """A file by content: ``sha256:<hex>`` in a namespace shared by every run, so the checkpoint one
        run writes and the next run loads carry the same id (lineage with no registry). The same bytes under
        another name (``last.ckpt`` beside the best checkpoint, a copy loaded later) keep the first path
        recorded; a load names its own path on its ``used`` relation."""
        known = self._hashed.get((path, tuple(stat_key))) if stat_key is not None else None
        if known is not None:  # written, then read back (or read again) unchanged, perhaps deleted since
            self.doc.entity(known, attributes)
            return known
        digest = self.hasher.folder(path) if os.path.isdir(path) else self.hasher.file(path, stat_key)
        ident = self._content_entity(digest, kind, attributes or {})
        if digest.sha256 is not None and stat_key is not None:
            self._hashed[(path, tuple(stat_key))] = ident
        return ident

    def files_entity(self, paths: list[str], kind: str, attributes: Mapping[str, Any], max_files: int = 10000) -> str:
        """Many files (a dataset's list of paths) as one entity, by the manifest of their names below the
        folder they share and their hashes: the same files copied elsewhere are the same content."""
        shared = os.path.commonpath([os.path.dirname(path) for path in paths])
        names = [os.path.relpath(path, shared) for path in paths]
        digest = self.hasher.manifest(shared, zip(names, paths), max_files)
        return self._content_entity(digest, kind, {"files": len(paths), "names": _listed(names), **attributes})

    def _content_entity(self, digest: FileDigest, kind: str, attributes: Mapping[str, Any]) -> str:
        """The entity of hashed content; one seen before keeps the path (and names) it was first seen under."""
        ident = self._file_id(digest)
        described = {"prov:type": QName(kind), **_digest_attributes(digest), **attributes}
        if self.doc.has("entity", ident):
            del described["path"]
            described.pop("names", None)
        self.doc.entity(ident, described)
        return ident

    def _file_id(self, digest: FileDigest) -> str:
        if digest.sha256:
            return f"sha256:{digest.sha256}"
        return self.numbered("file")

    def written(self, ident: str, time: float, at: tuple[Phase | None, int] | None = None) -> dict[str, Any]:
        """``ident`` was generated now, by the latest epoch (or by the run before any epoch); ``at``: the epoch
        and step it was written at, when it is recorded later.

        A checkpoint is usually written after the epoch's pass over its data has ended; the epoch then
        lasts until that moment, so that the generation falls inside the activity that generated it.
        The same content written again (one file saved twice) keeps its first generation: an entity has one."""
        if ident in self._generated:
            return {}
        self._generated.add(ident)
        epoch, step = at or (self.epoch, self.global_step)
        where = {"step": step, "epoch": None if epoch is None else epoch.index}
        if epoch is not None and epoch.closed:
            self.doc.activity(epoch.ident, end=time)
        self.doc.relation("wasGeneratedBy", {"prov:entity": ident, "prov:activity": epoch.ident if epoch else RUN},
                          where, time=time)
        return where

    def file_written(self, path: str, kind: str, time: float, attributes: Mapping[str, Any],
                     stat_key: tuple | None = None, at: tuple[Phase | None, int] | None = None) -> str:
        ident = self.file_entity(path, kind, attributes, stat_key)
        self.doc.entity(ident, self.written(ident, time, at))
        return ident

    def await_move(self, path: str, stat_key: tuple, kind: str, time: float, attributes: Mapping[str, Any]) -> None:
        """A file written and already gone from ``path``: saved under a temporary name and moved into place
        (``os.replace``, the usual atomic save) before the collector came to hash it. The move's event follows
        (``file_moved``), which hashes it where it now lives; without one it is recorded as it is today, gone
        (``settle_unplaced``)."""
        self._unplaced[(path, tuple(stat_key))] = Unplaced(kind, time, attributes, self.epoch, self.global_step)

    def file_moved(self, source: str, target: str, stat_key: tuple) -> None:
        """A file this run recorded was moved (a rename keeps its size and mtime): its entity is named by where
        it now lives, and keeps the name it was written under as ``savedAs``; a copy moved into place is
        listed under its new name. Files it never recorded are not its business."""
        key = (source, tuple(stat_key))
        unplaced = self._unplaced.pop(key, None)
        if unplaced is not None:
            named = {"savedAs": source, **unplaced.attributes}  # the first name it was written under
            if os.path.lexists(target):
                self.file_written(target, unplaced.kind, unplaced.time, named, stat_key,
                                  (unplaced.epoch, unplaced.step))
            else:  # moved on again already (a rotation: tmp -> last -> previous): wait for that move too
                self._unplaced[(target, tuple(stat_key))] = unplaced._replace(attributes=named)
            return
        ident = self._hashed.get(key)
        if ident is None:
            return
        self._hashed[(target, tuple(stat_key))] = ident
        entity = self.doc.get("entity", ident) or {}
        if entity.get("prov4ml:path") == source:
            self.doc.entity(ident, {"path": target, "savedAs": entity.get("prov4ml:savedAs", source)})
        elif source in _copies(entity):
            self.doc.entity(ident, {"copiedTo": ", ".join(target if copy == source else copy
                                                          for copy in _copies(entity))})

    def file_copied(self, source: str, stat_key: tuple, target: str, target_key: tuple) -> None:
        """A recorded file copied elsewhere unchanged (``shutil.copyfile`` of the best checkpoint to
        ``model_best.pth``): the copy is the same content, so the same entity, which lists where it was copied."""
        ident = self._hashed.get((source, tuple(stat_key)))
        if ident is None:
            return
        self._hashed[(target, tuple(target_key))] = ident
        copies = _copies(self.doc.get("entity", ident) or {})
        if target not in copies:
            self.doc.entity(ident, {"copiedTo": ", ".join([*copies, target][-_LISTED_COPIES:])})

    def settle_unplaced(self, now: float, final: bool) -> None:
        """Files written and gone whose move never came (deleted, or moved by a call that is not watched):
        recorded as gone before they were hashed, a second after they were written, or at the end."""
        for key, unplaced in list(self._unplaced.items()):
            if final or now - unplaced.time >= _MOVE_WAIT_SECONDS:
                del self._unplaced[key]
                self.file_written(key[0], unplaced.kind, unplaced.time, unplaced.attributes, key[1],
                                  (unplaced.epoch, unplaced.step))

    def file_read(self, path: str, kind: str, time: float, stat_key: tuple | None, step: int | None = None) -> None:
        """Used by the run; reading the same unchanged file again adds nothing (datasets of .pt files) but
        its kind, where the reader knows better than an argument naming the file (a checkpoint). A
        folder's first ``_LISTED_READS_PER_FOLDER`` files read are listed (and the first
        ``_LISTED_READS_BELOW_PARENT`` of the folders beside it: one per class; ``_LISTED_READS`` in all), the
        others only counted, once each (the first ``_COUNTED_DISTINCT``; later reads count each time)
        (``filesReadNotListed``): a dataset that loads a file per sample would grow the document with the data,
        while the checkpoints a run loads lie elsewhere. A file the run wrote is always listed (lineage).
        ``step``: the run's step when it was read, if not the step now (a file the command line names)."""
        cache_key = (path, stat_key)
        known = self._known_files.get(cache_key)
        if known is not None:  # read again, or named by an argument before the library that loads it
            typed_now = (self.doc.get("entity", known) or {}).get("prov:type", {}).get("$")
            if kind not in (_GUESSED_KIND, typed_now):  # a journal line only when the kind changes
                self.doc.entity(known, {"prov:type": QName(kind)})
            return
        written = stat_key is not None and (path, tuple(stat_key)) in self._hashed
        folder = os.path.dirname(path)
        parent = os.path.dirname(folder) + os.sep  # one folder per class below it: counted together too
        if not written and (self._reads_per_folder.get(folder, 0) >= _LISTED_READS_PER_FOLDER
                            or self._reads_per_folder.get(parent, 0) >= _LISTED_READS_BELOW_PARENT
                            or self._reads_per_folder.get("", 0) >= _LISTED_READS):
            if len(self._not_listed) < _COUNTED_DISTINCT:
                self._not_listed.add(hash(cache_key))
            else:
                self._not_listed_beyond += 1
            return
        for counted in (folder, parent, ""):
            self._reads_per_folder[counted] = self._reads_per_folder.get(counted, 0) + 1
        ident = self.file_entity(path, kind, None, stat_key)
        self._known_files[cache_key] = ident
        where = {"step": self.global_step if step is None else step, "path": path}
        self.doc.relation("used", {"prov:activity": RUN, "prov:entity": ident}, where, time=time)

    def upkeep(self, now: float, final: bool) -> None:
        """Each collector tick and at the end (not at every event: each record update is a journal line)."""
        self.settle_unplaced(now, final)
        not_listed = len(self._not_listed) + self._not_listed_beyond
        if not_listed != self._not_listed_reported:
            self._not_listed_reported = not_listed
            self.update_run({"filesReadNotListed": not_listed})


def _unique_local_name(name: str) -> str:
    """A name as an id's local part; one that had to be changed for it (``"a b"``, a vocabulary's ``"\\n"``)
    keeps a digest of the original, so that two names never share an id (the ``name`` attribute holds it)."""
    local = local_name(name)
    if local == name:
        return local
    import hashlib

    return f"{local}_{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def _copies(entity: Mapping[str, Any]) -> list[str]:
    return [name for name in entity.get("prov4ml:copiedTo", "").split(", ") if name]


def _listed(names: list[str], shown: int = 16) -> str:
    """The first names of a list of files below their folder (``path``); ``files`` says how many in all."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def _digest_attributes(digest: FileDigest) -> dict[str, Any]:
    return {"path": digest.path, "size": digest.size, "sha256": digest.sha256, "hashStatus": digest.status}
