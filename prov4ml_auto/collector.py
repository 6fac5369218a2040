"""The collector thread: drains the buffer, dispatches events to handlers, journals, writes the document.

Everything costly happens here: formatting, hashing, I/O, JSON. Handlers are ``fn(recorder, time, *payload)``
registered per event kind by the agent (run events) and by each integration when it patches.
"""

from __future__ import annotations

import itertools
import operator
import os
import threading
import time
from typing import Callable, Iterable

from prov4ml_auto import faults
from prov4ml_auto.events import Buffer, Event
from prov4ml_auto.files import write_atomic
from prov4ml_auto.journal import JournalWriter
from prov4ml_auto.recorder import Recorder

Handler = Callable[..., None]
RunHandler = Callable[[Recorder, list[Event]], None]
_TICK = 0.2  # seconds between drains in a slow loop; a fast one wakes the collector sooner (events.WAKE_AT)
# A long batch is handled in turns of about half a millisecond, with a short sleep between them: the sleep
# hands the GIL to the training thread. Without it, a training thread that gives the GIL up in every torch
# call gets it back only when the interpreter's switch interval (5 ms) forces it, once per interval, while the
# collector works through its batch. Measured in floods of 300,000 synthetic steps (4 interleaved runs each):
# the 99.9th-percentile step 1.04-1.34 ms -> 0.60-0.65 ms, the longest 5.3-12.4 -> 4.0-4.8 ms, throughput
# unchanged within the noise (372-434k against 381-411k steps a second of the collector's CPU); turns of 512
# events gave 0.77-1.01 ms.
_EVENTS_PER_TURN = 256
_HAND_OVER_SECONDS = 0.0001

handlers: dict[str, Handler] = {}
# A per-step kind's handler takes runs of consecutive events (a fast loop's batch is mostly one run): the call,
# the unpacking and the lookups per event were about half the collector's cost of a training step.
run_handlers: dict[str, RunHandler] = {}
_kind = operator.itemgetter(1)
periodic: list[Callable[[Recorder, float, bool], None]] = []  # (recorder, now, final): each tick and at the end
# (recorder, events): each drained batch, before its handlers, which it may rewrite in place (torch_loss reads
# a batch's GPU losses with one copy rather than one each)
batch_tasks: list[Callable[[Recorder, list[Event]], None]] = []


def takes_runs(handler: RunHandler) -> RunHandler:
    """Marks a handler of runs of events (see ``run_handlers``)."""
    handler.takes_runs = True  # type: ignore[attr-defined]
    return handler


def register(table: dict[str, Handler]) -> None:
    for kind, handler in table.items():
        (run_handlers if getattr(handler, "takes_runs", False) else handlers)[kind] = handler


def _dispatch(recorder: Recorder, kind: str, run: Iterable[Event]) -> None:
    """Consecutive events of one kind: to its run handler in one call, or to its handler one by one."""
    many = run_handlers.get(kind)
    if many is not None:
        try:
            many(recorder, list(run))
        except Exception as exc:
            faults.caught(f"collector.{kind}", exc, reraise=False)
        return
    handler = handlers.get(kind)
    if handler is None:
        return
    for event in run:
        try:
            handler(recorder, event[0], *event[2:])
        except Exception as exc:
            faults.caught(f"collector.{kind}", exc, reraise=False)


class Collector(threading.Thread):
    """Owns the Recorder; the only thread that touches the document, the journal and side files."""

    def __init__(self, buffer: Buffer, recorder: Recorder, journal: JournalWriter | None,
                 document_path: str, journal_interval: float) -> None:
        super().__init__(name="prov4ml-collector", daemon=True)
        self.buffer = buffer
        self.recorder = recorder
        self.journal = journal
        self.document_path = document_path
        self.journal_interval = journal_interval
        self.stop_requested = threading.Event()
        self.written = threading.Event()
        self.write_error: str | None = None
        self.events_seen = 0
        if journal is not None:
            recorder.doc.set_listener(journal.change)

    def stop(self) -> None:
        self.stop_requested.set()
        self.buffer.ready.set()

    def run(self) -> None:
        last_flush = time.monotonic()
        wake = self.buffer.ready
        while not self.stop_requested.is_set():
            wake.wait(_TICK)
            wake.clear()
            self._pump()
            if time.monotonic() - last_flush >= self.journal_interval:
                self._flush_journal()
                last_flush = time.monotonic()
        self._pump(final=True)
        self._finish()

    def _pump(self, final: bool = False) -> None:
        events = self.buffer.drain(final)
        self.events_seen += len(events)
        recorder = self.recorder
        for batch_task in batch_tasks:
            try:
                batch_task(recorder, events)
            except Exception as exc:
                faults.caught(f"batch.{getattr(batch_task, '__qualname__', batch_task)}", exc, reraise=False)
        for start in range(0, len(events), _EVENTS_PER_TURN):
            if start and not final:  # at the end the training is over: nothing waits for the GIL
                time.sleep(_HAND_OVER_SECONDS)
            for kind, run in itertools.groupby(events[start:start + _EVENTS_PER_TURN], _kind):
                _dispatch(recorder, kind, run)
        now = time.time()
        for task in periodic:
            try:
                task(recorder, now, final)
            except Exception as exc:
                faults.caught(f"periodic.{getattr(task, '__qualname__', task)}", exc, reraise=False)

    def _flush_journal(self, final: bool = False) -> None:
        self.recorder.flush_series()
        if self.journal is None:
            return
        try:
            self.journal.flush(time.time(), final)
        except OSError as exc:
            faults.caught("journal", exc, reraise=False)
            self.journal = None
            self.recorder.doc.set_listener(None)

    def _finish(self) -> None:
        """The agent's own cost goes into the document: what it handled and the CPU its thread used."""
        self.recorder.update_run({"agentEvents": self.events_seen, "agentCpuSeconds": round(time.thread_time(), 6)})
        self.recorder.close_series(os.path.dirname(self.document_path))
        import orjson  # imports dataclasses, uuid and more (~10 ms): here, not at interpreter start

        try:
            write_atomic(self.document_path, orjson.dumps(self.recorder.doc.to_dict()))
            self._flush_journal(final=True)
        except Exception as exc:
            self.write_error = f"{type(exc).__name__}: {exc}"
            faults.caught("writer", exc, reraise=False)
        finally:
            self.written.set()

