"""File output and content hashing, used on the collector thread only."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from typing import Any, Iterable, Iterator, NamedTuple

_CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW


def claim_folder(base: str, attempts: int = 1000) -> str:
    """A new folder that is ours alone: ``base``, else ``base-2``, ``base-3``... Two processes given one run id
    and script (a job script running train.py twice) never share one, and a planted symlink is never used."""
    os.makedirs(os.path.dirname(base), exist_ok=True)
    for number in range(1, attempts + 1):
        folder = base if number == 1 else f"{base}-{number}"
        try:
            os.mkdir(folder)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{attempts} run folders already exist", base)


def make_folder(path: str) -> None:
    """A folder several processes share (the ranks of one job), never reached through a planted symlink."""
    os.makedirs(path, exist_ok=True)
    if os.path.islink(path):
        raise OSError(errno.ELOOP, "refusing an output folder that is a symbolic link", path)


def open_for_writing(path: str) -> int:
    """A file descriptor for writing ``path`` from its start; a symlink planted there is refused, not followed."""
    return os.open(path, _WRITE_FLAGS, 0o666)


def write_atomic(path: str, data: bytes) -> None:
    """Write to a fresh temp file beside ``path``, then rename: readers never see half a document,
    and a symlink planted at ``path`` is replaced, never followed."""
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, _TMP_FLAGS, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)  # a full disk leaves no half-written temp file behind
        raise


class FileDigest(NamedTuple):
    """A file's identity: sha256 when it could be hashed, else why not (status)."""

    path: str
    size: int
    sha256: str | None
    status: str  # "hashed", "too large", "over time budget", "changed while hashing", "unreadable: ...",
    # "overwritten before it was hashed", "removed before it was hashed"


class Hasher:
    """sha256 of files and folders within a per-file size limit and a per-run time budget."""

    def __init__(self, max_bytes: float, budget_seconds: float) -> None:
        self.max_bytes = max_bytes
        self.budget_left = budget_seconds
        self.deadline: float | None = None  # set at exit: nothing may run past it

    def file(self, path: str, expected: tuple[int, int] | None = None) -> FileDigest:
        """``expected`` is the (size, mtime_ns) seen when the file was written: if the file changed since,
        hashing it now would name the wrong content; if it is gone (a trainer keeping its last few
        checkpoints), its size is still the one it was written with."""
        try:
            before = os.stat(path)
        except OSError as exc:
            if expected is not None and isinstance(exc, FileNotFoundError):
                return FileDigest(path, expected[0], None, "removed before it was hashed")
            return FileDigest(path, 0, None, f"unreadable: {exc.strerror}")
        if expected is not None and (before.st_size, before.st_mtime_ns) != tuple(expected):
            return FileDigest(path, before.st_size, None, "overwritten before it was hashed")
        refusal = self._refusal(before.st_size)
        if refusal:
            return FileDigest(path, before.st_size, None, refusal)
        started = time.monotonic()
        try:
            digest = self._sha256(path)
        except FileNotFoundError:  # removed between the look and the read
            return FileDigest(path, before.st_size, None, "removed before it was hashed")
        except (OSError, TimeoutError) as exc:
            return FileDigest(path, before.st_size, None, _failure(exc))
        finally:
            self.budget_left -= time.monotonic() - started
        after = os.stat(path)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            return FileDigest(path, after.st_size, None, "changed while hashing")
        return FileDigest(path, before.st_size, digest, "hashed")

    def folder(self, path: str) -> FileDigest:
        """A folder by the manifest of the files below it."""
        return self.manifest(path, _walk(path))

    def manifest(self, label: str, files: Iterable[tuple[str, str]], max_files: int = 10000) -> FileDigest:
        """sha256 over sorted-as-given (name, size, sha256) lines: the identity of a set of files."""
        manifest = new_sha256()
        total = 0
        for count, (name, full) in enumerate(files):
            if count >= max_files:
                return FileDigest(label, total, None, f"more than {max_files} files")
            digest = self.file(full)
            if digest.sha256 is None:
                return FileDigest(label, total, None, f"{name}: {digest.status}")
            total += digest.size
            manifest.update(f"{name}\0{digest.size}\0{digest.sha256}\n".encode("utf-8", "surrogateescape"))
        return FileDigest(label, total, manifest.hexdigest(), "hashed")

    def _refusal(self, size: int) -> str:
        if size > self.max_bytes:
            return "too large"
        if self.budget_left <= 0:
            return "over time budget"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "not hashed before exit"
        return ""

    def _sha256(self, path: str) -> str:
        return file_sha256(path, self.deadline)


def new_sha256() -> Any:
    """hashlib loads OpenSSL (~10 ms): imported on first use, on the collector, not at interpreter start."""
    import hashlib

    return hashlib.sha256()


def file_sha256(path: str, deadline: float | None = None) -> str:
    """Read in chunks; past ``deadline`` (time.monotonic) give up with TimeoutError, so exit stays bounded."""
    digest = new_sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("not hashed before exit")
    return digest.hexdigest()


def _failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return str(exc)
    return f"unreadable: {getattr(exc, 'strerror', None) or exc}"


def _walk(root: str) -> Iterator[tuple[str, str]]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(folder, name)
            yield os.path.relpath(full, root), full
