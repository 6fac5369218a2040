"""``prov4ml recover PATH...``: documents for runs that ended without writing one.

SIGKILL, the OOM killer, a lost node, ``os._exit`` or an abort leave a run's journal (journal.py) but no
document. Recovery replays the journal's changes into a Document, marks the run activity interrupted (its
end is the last moment the journal shows the process alive; its exit status is unknown), links the metric
series files the run had flushed, and writes the document where the journal's header says, beside it.

A run that has a document is left as it is: the agent writes its document before the journal's end line,
so a document present is the newest record there is, and recovering twice changes nothing.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import sys
import time
from typing import Any

import orjson

from prov4ml_auto.document import PROV4ML_NS, Document, QName, format_time, local_name
from prov4ml_auto.files import Hasher, write_atomic
from prov4ml_auto.journal import Journal, JournalError, read_journal
from prov4ml_auto.series import Aggregate
from prov4ml_auto.validate import _one_line, validate_document

JOURNAL_SUFFIX = ".journal.jsonl"
LIVE_WINDOW_S = 120.0  # a journal beaten this recently, by a live process on this host, belongs to a running job
_TIME_KEYS = ("prov:startTime", "prov:endTime", "prov:time")


class RecoveryError(Exception):
    """This journal cannot become a valid document; the message says why, in one line."""


def main(paths: list[str]) -> int:
    """0: every run under the paths is finished, recovered or still running; 2: something could not be read."""
    if not paths:
        print("usage: prov4ml recover PATH...", file=sys.stderr)
        return 2
    return max(_recover_path(path) for path in paths)


def _recover_path(path: str) -> int:
    try:
        journals = find_journals(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        return _fail(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
    if not journals:
        return _fail(path, "no prov4ml journal here (give a run folder, or a folder holding runs)")
    return max(_recover_journal(journal) for journal in journals)


def find_journals(path: str) -> list[str]:
    """``path`` itself when it is a file, else every journal below it. Symlinks below are not followed:
    a planted link must not lead recovery to read, or write beside, someone else's files."""
    if not os.path.isdir(path):
        os.stat(path)  # a missing path is an error, not an empty result
        return [path]
    os.listdir(path)  # an unreadable folder is an error too
    found = []
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in sorted(names)
                     if name.endswith(JOURNAL_SUFFIX) and not os.path.islink(os.path.join(folder, name)))
    return found


def _recover_journal(path: str) -> int:
    try:
        message = recover(path)
    except OSError as exc:
        return _fail(path, f"cannot read or write: {exc.strerror or exc}")
    except (JournalError, RecoveryError) as exc:
        return _fail(path, str(exc))
    print(f"{_one_line(path)}: {message}")
    return 0


def _fail(path: str, reason: str) -> int:
    print(f"{_one_line(path)}: {_one_line(reason)}", file=sys.stderr)
    return 2


def recover(journal_path: str) -> str:
    """Write the document of one journal's run unless it has one; return what was done, in words."""
    with open(journal_path, "rb") as handle:
        data = handle.read()
    if not data.strip(b" \t\r\n\0"):  # a lost node may leave zeros where nothing was written yet
        return "empty journal (the process ended before its first flush): nothing to recover"
    journal = read_journal(data)
    folder = os.path.dirname(journal_path)
    name = document_name(journal_path, journal.header)
    if os.path.lexists(os.path.join(folder, name)):
        return f"finished: {name} exists and is left as it is"
    document = rebuild(journal)
    run = journal.header["run"]
    running = still_running(journal, document.get("activity", run) or {})
    if running:
        return f"{running}: left alone"
    interrupted = mark_interrupted(document, journal, os.path.basename(journal_path))
    if interrupted:  # a run that ended linked its series itself
        link_series(document, run, folder, name[: -len(".json")] + ".series")
    write_atomic(os.path.join(folder, name), _valid_json(document))
    how = "interrupted" if interrupted else "it had finished; only its document was missing"
    skipped = f"; {journal.skipped_lines} unreadable journal lines skipped" if journal.skipped_lines else ""
    return f"recovered: wrote {name} ({how}{skipped})"


def document_name(journal_path: str, header: dict[str, Any]) -> str:
    """The document's file name from the header, refused unless it is a plain name in the same folder."""
    base = os.path.basename(journal_path)
    default = base[: -len(JOURNAL_SUFFIX)] + ".json" if base.endswith(JOURNAL_SUFFIX) else None
    name = header.get("document", default)
    if not isinstance(name, str) or not name.endswith(".json") or name.startswith(".") or "\0" in name \
            or os.path.basename(name) != name:
        raise RecoveryError("the journal header names no safe document file beside the journal")
    return name


def rebuild(journal: Journal) -> Document:
    """The document as the journal's changes built it, in the order they were made (declaring the prov4ml
    prefix, which the marks of recovery use, if the header did not)."""
    document = Document({"prov4ml": PROV4ML_NS, **journal.header["prefix"]})
    for kind, ident, record in journal.changes:
        document.apply(kind, ident, record)
    return document


def still_running(journal: Journal, run: dict[str, Any]) -> str | None:
    """Why the journal may belong to a job still running, or None. Its last beat must be recent, and from a
    live process on this host, or from another host (on a shared file system), which cannot be asked."""
    if journal.last_time is None:
        return None
    age = time.time() - journal.last_time
    if abs(age) > LIVE_WINDOW_S:  # (a beat a little in the future: another node's clock)
        return None
    host = run.get("prov4ml:hostname")
    if host != socket.gethostname():
        return f"may still be running on {host or 'another host'} (its journal was written {age:.0f} s ago)"
    pid = _long(run.get("prov4ml:pid"))
    if pid is None or pid <= 0 or not _alive(pid):
        return None
    return f"still running (process {pid} on this host)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(pid, 0) (Linux tells: state Z)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[:1] == [b"Z"]
    except OSError:
        return False


def _long(value: Any) -> int | None:
    if isinstance(value, dict) and value.get("type") == "xsd:long" and isinstance(value.get("$"), str):
        try:
            return int(value["$"])
        except ValueError:
            return None
    return None


def mark_interrupted(document: Document, journal: Journal, journal_name: str) -> bool:
    """Mark the run interrupted unless the journal holds its end (then only the document was lost)."""
    run = journal.header["run"]
    if "prov4ml:status" in (document.get("activity", run) or {}):
        return False
    document.activity(run, {
        "status": "interrupted", "exitKnown": False, "recoveredFrom": journal_name,
        "journalLinesSkipped": journal.skipped_lines,
    }, end=last_moment(journal, document))
    return True


def last_moment(journal: Journal, document: Document) -> float | None:
    """The last moment the process is known to have been alive: its last beat, or a later time recorded
    by changes written after it (a flush torn before its beat), so that no activity ends before it began."""
    moments = [journal.last_time] if journal.last_time is not None else []
    for kind in {kind for kind, _, _ in journal.changes}:
        for record in document.records(kind).values():
            moments.extend(_timestamp(record.get(key)) for key in _TIME_KEYS)
    known = [moment for moment in moments if moment is not None]
    if not known:
        return None
    latest = max(known)
    try:
        format_time(latest)
    except (OverflowError, ValueError, OSError):
        raise RecoveryError(f"the journal's times are out of range ({latest!r})") from None
    return latest


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(value)
        return moment.timestamp() if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # not a time, or one beyond year 9999 in UTC
        return None


def link_series(document: Document, run: str, folder: str, series_folder: str) -> None:
    """The metric series files the run had flushed, as the agent would have linked them at its end."""
    path = os.path.join(folder, series_folder)
    if os.path.islink(path) or not os.path.isdir(path):
        return
    hasher = Hasher(float("inf"), float("inf"))
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not name.endswith(".csv") or os.path.islink(full) or not os.path.isfile(full):
            continue
        ident = f"run:series/{local_name(name[:-4])}"
        digest = hasher.file(full)
        document.entity(ident, {
            "prov:type": QName("prov4ml:MetricSeries"), "name": name[:-4], "format": "text/csv",
            "path": os.path.join(series_folder, name), "sha256": digest.sha256, "complete": False,
            **series_aggregate(full).attributes("value"),
        })
        document.relation("wasGeneratedBy", {"prov:entity": ident, "prov:activity": run})


def series_aggregate(path: str) -> Aggregate:
    """The aggregate of a series file's values (``step,epoch,time,value`` rows); a torn row is skipped."""
    values = []
    with open(path, "rb") as handle:
        for line in handle.read().splitlines()[1:]:
            fields = line.split(b",")
            try:
                values.append(float(fields[3]))
            except (IndexError, ValueError):
                continue
    aggregate = Aggregate()
    aggregate.extend(values)
    return aggregate


def _valid_json(document: Document) -> bytes:
    """The document's bytes, only when it passes the profile checks (a journal can hold valid JSON that is
    no valid PROV: then nothing is written, and the reason is given)."""
    content = document.to_dict()
    problems = validate_document(content)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RecoveryError(f"the journal does not rebuild a valid document: {problems[0]}{more}")
    return orjson.dumps(content)
