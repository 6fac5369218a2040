"""Append-only journal: every document change as one JSON line, so a killed process can be rebuilt.

Format (version 1), one JSON value per line:
  line 1   {"prov4ml_journal": 1, "prefix": {...}, "run": "<run activity id>", "document": "<file name>"}
  changes  ["<record kind>", "<id>", {typed attributes}]   merged into the record in order
  beats    {"t": <unix time>}                              written at each flush: the last moment known alive
  end      {"end": <unix time>}                            the final document was written
The writer runs on the collector thread only.
"""

from __future__ import annotations

import os
from typing import Any

from prov4ml_auto import faults


FORMAT_VERSION = 1
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class JournalError(Exception):
    """The journal cannot be read as one: not ours, or garbage from the first line."""


class JournalWriter:
    """Buffers change lines and writes them at each flush (never on the training thread)."""

    def __init__(self, path: str, header: dict[str, Any]) -> None:
        self.path = path
        self._fd = os.open(path, _OPEN_FLAGS, 0o666)
        self._pending: list[Any] = [{"prov4ml_journal": FORMAT_VERSION, **header}]

    def change(self, kind: str, ident: str, record: dict) -> None:
        self._pending.append([kind, ident, record])  # serialised at the flush, on the collector

    def flush(self, now: float, final: bool = False) -> None:
        import orjson  # imports dataclasses, uuid and more (~10 ms): on the collector, not at interpreter start

        self._pending.append({"end": now} if final else {"t": now})
        lines = []
        for line in self._pending:
            try:
                lines.append(orjson.dumps(line))
            except TypeError as exc:  # one value orjson refuses must not cost the other lines
                faults.caught("journal", exc, reraise=False)
        self._pending = []
        data = b"\n".join(lines) + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class Journal:
    """What a journal holds once read back."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.changes: list[tuple[str, str, dict]] = []
        self.last_time: float | None = None
        self.ended = False
        self.skipped_lines = 0


def read_journal(data: bytes) -> Journal:
    """Parse a journal, tolerating a torn last line, partial writes and repeated lines."""
    lines = data.split(b"\n")
    header = _header(lines[0])
    journal = Journal(header=header)
    for line in lines[1:]:
        if line.strip():
            _read_line(journal, line)
    return journal


def _header(line: bytes) -> dict[str, Any]:
    import orjson

    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise JournalError(f"first line is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("prov4ml_journal") != FORMAT_VERSION:
        raise JournalError("not a prov4ml-auto journal (no version 1 header)")
    if not isinstance(header.get("prefix"), dict) or not isinstance(header.get("run"), str):
        raise JournalError("journal header lacks prefix or run")
    return header


def _read_line(journal: Journal, line: bytes) -> None:
    import orjson

    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        journal.skipped_lines += 1
        return
    if _is_change(value):
        journal.changes.append((value[0], value[1], value[2]))
    elif isinstance(value, dict) and isinstance(value.get("t", value.get("end")), (int, float)):
        moment = float(value.get("t", value.get("end")))
        journal.last_time = max(journal.last_time or moment, moment)
        journal.ended = journal.ended or "end" in value
    else:
        journal.skipped_lines += 1


def _is_change(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
        and isinstance(value[1], str) and isinstance(value[2], dict)
    )
