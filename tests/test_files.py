"""Hashing a file written earlier: by the time the collector gets to it, it may have changed or be gone."""

from __future__ import annotations

import hashlib
import os

from prov4ml_auto.document import Document
from prov4ml_auto.files import Hasher
from prov4ml_auto.recorder import Recorder


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


def test_the_same_bytes_under_two_names_keep_the_first_path_and_each_use_names_its_own(tmp_path):
    """A checkpoint saved as last.pt, copied to best.pt, and best.pt loaded later: one entity (its content),
    with the path it was written under; the load's relation says which file was read."""
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    last.write_bytes(b"weights")
    best.write_bytes(b"weights")
    ident = recorder.file_written(str(last), "prov4ml:Checkpoint", 1.0, {"api": "torch.save"}, written(last))
    recorder.file_read(str(best), "prov4ml:Checkpoint", 2.0, written(best))
    entity = recorder.doc.get("entity", ident)
    assert entity["prov4ml:path"] == str(last) and entity["prov4ml:api"] == "torch.save"
    (use,) = recorder.doc.records("used").values()
    assert use["prov:entity"] == ident and use["prov4ml:path"] == str(best)
