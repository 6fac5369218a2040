"""Hashing a file written earlier: by the time the collector gets to it, it may have changed or be gone."""

from __future__ import annotations

import hashlib
import os

from prov4ml_auto.files import Hasher


def written(path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def test_a_file_as_written_is_hashed_and_one_changed_or_removed_since_is_not(tmp_path):
    hasher, path = Hasher(1e9, 10), tmp_path / "epoch1.pt"
    path.write_bytes(b"weights")
    as_written = written(path)
    digest = hasher.file(str(path), as_written)
    assert (digest.sha256, digest.size, digest.status) == (hashlib.sha256(b"weights").hexdigest(), 7, "hashed")
    path.write_bytes(b"other weights")  # saved again under the same name
    os.utime(path, ns=(0, as_written[1] + 1))
    digest = hasher.file(str(path), as_written)
    assert (digest.sha256, digest.size, digest.status) == (None, 13, "overwritten before it was hashed")
    path.unlink()  # a trainer keeping its last few checkpoints removed it
    digest = hasher.file(str(path), as_written)
    assert (digest.sha256, digest.size, digest.status) == (None, 7, "removed before it was hashed")
    assert hasher.file(str(path)).status == "unreadable: No such file or directory"  # a load that failed
