"""The bounded, lock-free event buffer between the training thread and the collector.

Producers only build a tuple ``(time, kind, *payload)`` and append it to a deque (atomic under the GIL,
~35 ns); no lock, no formatting, no I/O. Per-step events (``hot``) are dropped when the buffer is full and
counted; lineage events (files, data, configuration, checkpoints) are always kept. A per-step event's
producer builds the whole tuple itself, its time first (``emit_hot((now(), "step", ...))``): packing the
arguments of a call into a tuple and copying it behind the time cost the optimizer step hook 200 ns a step.

A training step's loss rides inside its optimizer step's event (``carried``): one tuple a step instead of
two, so the collector handles half the events (its throughput rose from about 300,000 to 464,000 steps a
second of its CPU).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Callable

Event = tuple
Emit = Callable[..., None]
now = time.time  # every event's first field
WAKE_AT = 1024  # per-step events waiting: wake the collector before its tick (see Buffer.ready)
# Files a script may overwrite soon (one checkpoint.pth.tar saved every epoch of a short job): the collector is
# woken at once to hash them, not at its next tick (``emit(..., wake=True)`` does the same for one event).
WAKE_FOR = frozenset(("save", "load", "pl_save", "hf_save"))

# The loss waiting for the next step event to carry it, at most one: torch_loss puts a backward's loss here
# and torch_optim's step event takes it along (its row then has the step's time). Any other event, and the
# collector's final drain, first moves it into the queue as a "loss" event, so the collector sees every value
# in the order it happened (a loss that no optimizer step follows, as in hand-written updates, still lands in
# its own epoch). One per process: the process's training thread runs one step at a time.
carried: list[Any] = []


class Buffer:
    """One deque for all events, so the collector sees them in the order they happened."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.queue: collections.deque[Event] = collections.deque()
        self.dropped = 0
        self.owner_pid = os.getpid()
        # Set when WAKE_AT per-step events wait: in a fast loop the collector then drains before its tick, so a
        # batch holds the GIL for about a millisecond and the buffer stays small. Per-step events of CPU
        # training hold numbers only (see torch_optim._after_step): the garbage collector stops tracking them
        # at its first collection, so waiting never promotes them to the old generation, whose full
        # collections over torch's heap take 100+ ms.
        self.ready = threading.Event()
        self.emit, self.emit_hot = self._emitters()

    def _emitters(self) -> tuple[Emit, Emit]:
        queue, append, capacity, ready = self.queue, self.queue.append, self.capacity, self.ready

        def emit(*event: Any, wake: bool = False) -> None:
            """A lineage event: never dropped; ignored in a forked child, which has no run."""
            if os.getpid() == self.owner_pid:
                if carried:
                    append((now(), "loss", carried.pop()))
                append((now(), *event))
                if wake or event[0] in WAKE_FOR:
                    ready.set()

        def emit_hot(event: Event) -> None:
            """A per-step event, time first: dropped (and counted) rather than letting the buffer grow."""
            size = len(queue)
            if size < capacity:
                if carried:  # the waiting loss goes first, at the event's time
                    append((event[0], "loss", carried.pop()))
                append(event)
                if size == WAKE_AT:
                    ready.set()
            else:
                self.dropped += 1

        return emit, emit_hot

    def drain(self, final: bool = False) -> list[Event]:
        """Everything appended so far; producers may keep appending meanwhile (popleft vs append is safe).
        The final drain takes the carried loss too (the run's last, when no step followed it)."""
        if final and carried:
            try:
                self.queue.append((now(), "loss", carried.pop()))
            except IndexError:  # a training thread still running took it meanwhile
                pass
        popleft = self.queue.popleft
        return [popleft() for _ in range(len(self.queue))]

    def reset_after_fork(self) -> None:
        """A forked child must never replay the parent's events."""
        self.queue.clear()
        carried.clear()
        self.dropped = 0


def failing_emitter(name: str) -> Emit:
    """The fault-injection switch: an emitter that raises, to prove hooks fail open."""

    def emit(*event: Any, wake: bool = False) -> None:  # takes emit's arguments and emit_hot's one tuple alike
        raise RuntimeError(f"prov4ml fault injection in {name}")

    return emit
