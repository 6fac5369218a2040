"""``prov4ml merge RUN_DIR [MORE_DIRS...]``: the documents of one job's processes, combined into one.

Every recorded process of a job writes its own document in the run folder (``prov.json``, ``prov.rank<N>.json``,
``prov.pid<PID>.json``); without a shared file system each node holds a folder of the same name with its own
ranks' documents. The merged document has:
  * one bundle per process document, as it was but for its blank ids (made unique in the whole document);
  * a job activity at the top level (``job:job``) that started every process's run, spanning them all, with
    the facts they all agree on (run id, SLURM job, torchrun rendezvous...) and the nodes they ran on;
  * each file entity once at the top level: files are named by content (``sha256:``), so the dataset every
    rank hashed is one entity; what its copies agree on is said there, what differs (a path on another node)
    stays in the bundles.
Idempotent: the output (``prov.merged.json`` by default, in the first folder) is never an input, and the same
inputs give the same bytes. Exit 0 when written; 2 when a folder or document is missing, unreadable, invalid,
of another run, conflicting with a copy of itself, or only a journal (run ``prov4ml recover`` first).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from prov4ml_auto import roles
from prov4ml_auto.document import PROV4ML_NS, RELATION_KINDS, SHA256_NS
from prov4ml_auto.files import write_atomic
from prov4ml_auto.recorder import RUN
from prov4ml_auto.validate import DocumentReadError, _one_line, load_strict, validate_document

MERGED_NAME = "prov.merged.json"
JOURNAL_SUFFIX = ".journal.jsonl"
JOB = "job:job"
_DOCUMENT_NAME = re.compile(r"prov(\.[A-Za-z0-9_\-]+)*\.json")
_STANDARD = {"prov", "xsd"}
_ORDER = re.compile(r"(rank|pid)(\d+)(.*)")


class MergeError(Exception):
    """The inputs cannot be merged; the message says why, in one line."""


@dataclass
class Member:
    """One process's document, and where it stands in the run."""

    path: str
    member: str  # '' for prov.json, else rank0, pid4242...
    document: dict

    @property
    def label(self) -> str:
        return self.member or "main"

    @property
    def prefixes(self) -> dict[str, str]:
        return self.document["prefix"]

    @property
    def run(self) -> dict[str, Any]:
        return self.document["activity"][RUN]


def main(folders: list[str], output: str | None) -> int:
    """0: written; 2: the inputs cannot be merged (the reason on stderr)."""
    target = output or os.path.join(folders[0], MERGED_NAME)
    try:
        members = collect(folders, target)
        merged = merge(members)
        write_atomic(target, orjson.dumps(merged))
    except MergeError as exc:
        print(f"prov4ml merge: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"prov4ml merge: cannot write {_one_line(target)}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {_one_line(target)} ({len(members)} documents)")
    return 0


# --- inputs -------------------------------------------------------------------------------------------
def collect(folders: list[str], output: str) -> list[Member]:
    """The process documents in the folders, in a fixed order: one per file name (identical copies in
    several folders count once); a journal whose document is nowhere means a process that did not finish."""
    copies: list[tuple[str, str, bytes]] = []
    journals: dict[str, str] = {}
    for folder in folders:
        for name in _listing(folder):
            path = os.path.join(folder, name)
            if name.endswith(JOURNAL_SUFFIX):
                journals[name[: -len(JOURNAL_SUFFIX)] + ".json"] = path
            elif _DOCUMENT_NAME.fullmatch(name) and name != MERGED_NAME and not _same_path(path, output):
                copies.append((name, path, _read(path)))
    unfinished = sorted(journals[name] for name in set(journals) - {name for name, _, _ in copies})
    if unfinished:
        raise MergeError(f"{unfinished[0]} has no document (its process was killed, or still runs): "
                         f"run `prov4ml recover {os.path.dirname(unfinished[0]) or '.'}` first")
    if not copies:
        raise MergeError(f"no process documents (prov*.json) in {', '.join(folders)}")
    members = [(name, data, _member(path, name, data)) for name, path, data in copies]
    _same_run([member for _, _, member in members])
    return [member for _, member in sorted(_one_copy_each(members).items(), key=_order)]


def _listing(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except FileNotFoundError:
        raise MergeError(f"{folder}: no such run folder") from None
    except NotADirectoryError:
        raise MergeError(f"{folder}: not a folder (give run folders)") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{folder}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _same_path(path: str, other: str) -> bool:
    return os.path.abspath(path) == os.path.abspath(other)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise MergeError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _one_copy_each(members: list[tuple[str, bytes, Member]]) -> dict[str, Member]:
    """By file name; copies of one document in several folders must be the same bytes."""
    found: dict[str, tuple[bytes, Member]] = {}
    for name, data, member in members:
        if name in found and found[name][0] != data:
            raise MergeError(f"{found[name][1].path} and {member.path} are two different documents of one process")
        found.setdefault(name, (data, member))
    return {name: member for name, (_, member) in found.items()}


def _order(item: tuple[str, Any]) -> tuple:
    """prov.json, then ranks and pids in numeric order, then anything else."""
    member = roles.member_of(item[0])
    match = _ORDER.fullmatch(member)
    if not member:
        return (0, 0, "")
    if match:
        return (1 if match.group(1) == "rank" else 2, int(match.group(2)), match.group(3))
    return (3, 0, member)


def _member(path: str, name: str, data: bytes) -> Member:
    try:
        document = load_strict(data)
    except DocumentReadError as exc:
        raise MergeError(f"{path}: {exc}") from None
    problems = validate_document(document)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MergeError(f"{path}: not a valid document: {problems[0]}{more}")
    if "bundle" in document:
        raise MergeError(f"{path}: a merged document, not one process's")
    if not isinstance(document.get("activity", {}).get(RUN), dict) or "run" not in document["prefix"]:
        raise MergeError(f"{path}: not a prov4ml-auto run document (it has no {RUN} activity)")
    return Member(path, roles.member_of(name), document)


def _same_run(members: list[Member]) -> None:
    """Every document's namespace must be its run's followed by its own member name (as the agent makes it)."""
    first = _namespace(members[0])
    for member in members[1:]:
        if _namespace(member) != first:
            raise MergeError(f"{members[0].path} and {member.path} belong to different runs "
                             f"({first} and {_namespace(member)})")


def _namespace(member: Member) -> str:
    namespace = roles.run_namespace(member.prefixes["run"], member.member)
    if namespace is None:
        raise MergeError(f"{member.path}: its run namespace {member.prefixes['run']} does not match its file name")
    return namespace


# --- the merged document ------------------------------------------------------------------------------
def merge(members: list[Member]) -> dict[str, Any]:
    """One document: the job, the file entities, a bundle per member. ``members`` are changed in place."""
    prefixes = {"prov4ml": PROV4ML_NS, "job": _namespace(members[0]), "sha256": SHA256_NS}
    files = _hoist_files(members, prefixes)
    merged: dict[str, Any] = {"prefix": prefixes}
    if files:
        merged["entity"] = files
    merged["activity"] = {JOB: _job(members)}
    merged["wasStartedBy"] = {f"_:started.{m.label}": _started(m, prefixes["job"]) for m in members}
    merged["bundle"] = {f"job:bundle/{m.label}": _relabel_blanks(m.document, m.label) for m in members}
    return merged


def _job(members: list[Member]) -> dict[str, Any]:
    """The job: what every process that states a fact agrees on, the nodes, and the span of all runs."""
    runs = [member.run for member in members]
    job: dict[str, Any] = {"prov:type": {"$": "prov4ml:Job", "type": "xsd:QName"},
                           "prov4ml:documents": {"$": str(len(members)), "type": "xsd:long"}}
    for name in ("runId", "worldSize") + roles.SCHEDULER_ATTRIBUTES:
        stated = [run[f"prov4ml:{name}"] for run in runs if f"prov4ml:{name}" in run]
        if stated and all(value == stated[0] for value in stated):
            job[f"prov4ml:{name}"] = stated[0]
    nodes = sorted({run["prov4ml:node"] for run in runs if isinstance(run.get("prov4ml:node"), str)})
    if nodes:
        job["prov4ml:nodes"] = " ".join(nodes)
    starts = [run["prov:startTime"] for run in runs if "prov:startTime" in run]
    ends = [run["prov:endTime"] for run in runs if "prov:endTime" in run]
    if starts:
        job["prov:startTime"] = min(starts, key=_moment)
    if ends and len(ends) == len(runs):
        job["prov:endTime"] = max(ends, key=_moment)
    return job


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _started(member: Member, job_namespace: str) -> dict[str, Any]:
    """The job started this process's run (its run activity, named from the top level)."""
    run_iri = roles.member_namespace(job_namespace, member.member) + RUN.partition(":")[2]
    relation = {"prov:activity": "job:" + run_iri[len(job_namespace):], "prov:starter": JOB}
    if "prov:startTime" in member.run:
        relation["prov:time"] = member.run["prov:startTime"]
    return relation


def _hoist_files(members: list[Member], prefixes: dict[str, str]) -> dict[str, dict]:
    """File entities, by content: the attributes all copies agree on (and that mean the same at the top
    level) move there; each bundle keeps what differs, or nothing."""
    copies: dict[str, list[tuple[Member, str]]] = {}
    for member in members:
        for ident in member.document.get("entity", {}):
            iri = _expand(ident, member.prefixes)
            if iri.startswith(SHA256_NS):
                copies.setdefault(iri[len(SHA256_NS):], []).append((member, ident))
    files: dict[str, dict] = {}
    for digest, holders in sorted(copies.items()):
        records = [member.document["entity"][ident] for member, ident in holders]
        files[f"sha256:{digest}"] = shared = {
            key: value for key, value in records[0].items()
            if all(record.get(key) == value for record in records[1:])
            and all(_portable(key, value, member.prefixes, prefixes) for member, _ in holders)}
        for (member, ident), record in zip(holders, records):
            rest = {key: value for key, value in record.items() if key not in shared}
            if rest:
                member.document["entity"][ident] = rest
            else:
                del member.document["entity"][ident]
    return files


def _expand(name: str, prefixes: dict[str, str]) -> str:
    prefix, _, local = name.partition(":")
    return prefixes.get(prefix, prefix + ":") + local


def _portable(key: str, value: Any, inner: dict[str, str], outer: dict[str, str]) -> bool:
    """An attribute means the same at the top level when every prefix it uses is bound there alike."""
    names = [key]
    if isinstance(value, dict) and value.get("type") == "xsd:QName" and isinstance(value.get("$"), str):
        names.append(value["$"])
    used = {name.partition(":")[0] for name in names}
    return all(prefix in _STANDARD or (prefix in outer and inner.get(prefix) == outer[prefix]) for prefix in used)


def _relabel_blanks(document: dict, label: str) -> dict:
    """The document as a bundle: blank ids (unique only within one document) get the member's label."""
    bundle = dict(document)
    for kind in RELATION_KINDS:
        if kind in bundle:
            bundle[kind] = {_blank(ident, label): {key: _blank(value, label) for key, value in record.items()}
                            for ident, record in bundle[kind].items()}
    return bundle


def _blank(value: Any, label: str) -> Any:
    return f"_:{label}.{value[2:]}" if isinstance(value, str) and value.startswith("_:") else value
