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


def test_a_file_written_then_read_is_one_entity_even_once_deleted(tmp_path):
    """A file the run wrote and hashed, read back unchanged (same size and mtime) after it was deleted, as
    Lightning's learning-rate finder does with its temporary checkpoint: the read uses the written entity."""
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    path = tmp_path / "probe.ckpt"
    path.write_bytes(b"weights")
    stat = os.stat(path)
    written = recorder.file_written(str(path), "prov4ml:Checkpoint", 1.0, {}, (stat.st_size, stat.st_mtime_ns))
    path.unlink()
    recorder.file_read(str(path), "prov4ml:Checkpoint", 2.0, (stat.st_size, stat.st_mtime_ns))
    (use,) = recorder.doc.records("used").values()
    assert use["prov:entity"] == written and written.startswith("sha256:")


def test_a_file_moved_into_place_is_named_where_it_lies_whether_hashed_before_or_after(tmp_path):
    """The atomic save: written as a temporary file, moved into place. Hashed before the move, the entity
    takes the new path; moved before the collector came to it, it waits for the move's event and is hashed
    where it lies, generated at the step it was written at; with no move at all it is recorded as gone."""
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    temporary, final = tmp_path / "ckpt.pt.tmp", tmp_path / "ckpt.pt"
    temporary.write_bytes(b"epoch 1")
    key = written(temporary)
    first = recorder.file_written(str(temporary), "prov4ml:Checkpoint", 1.0, {}, key)
    os.replace(temporary, final)
    recorder.file_moved(str(temporary), str(final), key)
    entity = recorder.doc.get("entity", first)
    assert (entity["prov4ml:path"], entity["prov4ml:savedAs"]) == (str(final), str(temporary))

    temporary.write_bytes(b"epoch 2")
    key = written(temporary)
    os.replace(temporary, final)  # before the collector came to the save
    recorder.await_move(str(temporary), key, "prov4ml:Checkpoint", 2.0, {"api": "torch.save"})
    recorder.global_step = 7  # the training went on meanwhile
    recorder.file_moved(str(temporary), str(final), key)
    second = f"sha256:{hashlib.sha256(b'epoch 2').hexdigest()}"
    entity = recorder.doc.get("entity", second)
    assert (entity["prov4ml:path"], entity["prov4ml:savedAs"], entity["prov4ml:api"]) == (
        str(final), str(temporary), "torch.save")
    generations = [r for r in recorder.doc.records("wasGeneratedBy").values() if r["prov:entity"] == second]
    assert [r["prov4ml:step"]["$"] for r in generations] == ["0"]

    temporary.write_bytes(b"epoch 3")
    key = written(temporary)
    temporary.unlink()
    recorder.await_move(str(temporary), key, "prov4ml:Checkpoint", 3.0, {})
    recorder.settle_unplaced(3.5, final=False)
    assert not any(ident.startswith("run:file/") for ident in recorder.doc.records("entity"))
    recorder.settle_unplaced(4.0, final=False)
    (gone,) = [e for i, e in recorder.doc.records("entity").items() if i.startswith("run:file/")]
    assert gone["prov4ml:hashStatus"] == "removed before it was hashed"


def test_a_copy_of_a_recorded_file_is_listed_on_its_entity_and_other_moves_are_ignored(tmp_path):
    """Copies are listed on the content's entity, under the name they are moved to after (a copy to a temporary
    name moved into place); moves and copies of files the run never recorded add nothing."""
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    latest = tmp_path / "checkpoint.pth"
    latest.write_bytes(b"weights")
    ident = recorder.file_written(str(latest), "prov4ml:Checkpoint", 1.0, {}, written(latest))
    best, staged = tmp_path / "model_best.pth", tmp_path / "archive.tmp"
    for target in (best, best, staged):
        target.write_bytes(b"weights")
        recorder.file_copied(str(latest), written(latest), str(target), written(target))
    os.replace(staged, tmp_path / "archive.pth")
    recorder.file_moved(str(staged), str(tmp_path / "archive.pth"), written(tmp_path / "archive.pth"))
    assert recorder.doc.get("entity", ident)["prov4ml:copiedTo"] == f"{best}, {tmp_path / 'archive.pth'}"
    assert recorder.doc.get("entity", ident)["prov4ml:path"] == str(latest)
    before = recorder.doc.to_dict()
    recorder.file_moved(str(tmp_path / "unrelated.log"), str(tmp_path / "unrelated.log.1"), (3, 4))
    recorder.file_copied(str(tmp_path / "notes.txt"), (3, 4), str(tmp_path / "copy.txt"), (3, 5))
    assert recorder.doc.to_dict() == before


def test_a_folder_read_file_by_file_lists_its_first_files_and_counts_the_rest_but_never_the_runs_own(tmp_path):
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"weights")
    recorder.file_written(str(checkpoint), "prov4ml:Checkpoint", 1.0, {}, written(checkpoint))
    for number in range(70):
        sample = tmp_path / f"{number}.pt"
        sample.write_bytes(str(number).encode())
        recorder.file_read(str(sample), "prov4ml:Checkpoint", 2.0, written(sample))
        recorder.file_read(str(sample), "prov4ml:Checkpoint", 2.0, written(sample))  # read again: nothing new
    recorder.file_read(str(checkpoint), "prov4ml:Checkpoint", 3.0, written(checkpoint))
    used = [relation["prov4ml:path"] for relation in recorder.doc.records("used").values()]
    assert used == [str(tmp_path / f"{number}.pt") for number in range(64)] + [str(checkpoint)]
    recorder.upkeep(4.0, final=False)
    assert recorder.doc.get("activity", "run:run")["prov4ml:filesReadNotListed"] == {"$": "6", "type": "xsd:long"}
    for label in range(5):  # a folder per class, 60 files each: 256 listed below their parent in all
        (tmp_path / "classes" / str(label)).mkdir(parents=True)
        for number in range(60):
            sample = tmp_path / "classes" / str(label) / f"{number}.npy"
            sample.write_bytes(f"{label}-{number}".encode())
            recorder.file_read(str(sample), "prov4ml:DataFile", 5.0, written(sample))
    recorder.upkeep(6.0, final=False)
    assert len(recorder.doc.records("used")) == 64 + 1 + 256
    assert recorder.doc.get("activity", "run:run")["prov4ml:filesReadNotListed"] == {"$": str(6 + 300 - 256),
                                                                                     "type": "xsd:long"}


def test_a_deep_tree_read_file_by_file_lists_4096_files_in_all(tmp_path):
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 60))
    for number in range(17 * 4 * 64):  # 17 splits of 4 classes of 64 files: under each folder's bounds
        folder = tmp_path / f"split{number // 256}" / f"class{number // 64 % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        sample = folder / f"{number}.npy"
        sample.write_bytes(str(number).encode())
        recorder.file_read(str(sample), "prov4ml:DataFile", 1.0, written(sample))
    recorder.upkeep(2.0, final=False)
    assert len(recorder.doc.records("used")) == 4096
    assert recorder.doc.get("activity", "run:run")["prov4ml:filesReadNotListed"]["$"] == str(17 * 256 - 4096)


def test_a_list_of_files_is_one_content_wherever_it_lies(tmp_path):
    """A dataset's list of files is identified by their names below the folder they share, sizes and hashes:
    the same files copied elsewhere are the same entity, and a renamed or changed file is another."""
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    lists = []
    for copy in ("here", "there/deeper", "renamed"):
        folder = tmp_path / copy
        (folder / "part").mkdir(parents=True)
        names = ["a.txt", "part/b.txt"] if copy != "renamed" else ["a.txt", "part/c.txt"]
        for name, text in zip(names, ("first", "second")):
            (folder / name).write_text(text)
        lists.append([str(folder / name) for name in names])
    here, there, renamed = (recorder.files_entity(paths, "prov4ml:DataFiles", {}) for paths in lists)
    assert here == there != renamed and here.startswith("sha256:")
    entity = recorder.doc.records("entity")[here]
    assert entity["prov4ml:path"] == str(tmp_path / "here") and entity["prov4ml:names"] == "a.txt, part/b.txt"
    (tmp_path / "there/deeper/part/b.txt").write_text("changed")
    assert recorder.files_entity(lists[1], "prov4ml:DataFiles", {}) != here


def test_a_dataset_naming_a_folder_and_a_file_has_both_by_content(tmp_path):
    """An ImageFolder-style ``root`` is the folder's files (by their manifest), a ``labels`` path is a file,
    named by its path in its plain form (as a checkpoint's is)."""
    import torch

    from prov4ml_auto.integrations import torch_data

    class FolderDataset(torch.utils.data.Dataset):
        def __init__(self, root: str, labels: str) -> None:
            self.root, self.labels = root, labels

        def __len__(self) -> int:
            return 2

    (tmp_path / "images").mkdir()
    for name in ("0.png", "1.png"):
        (tmp_path / "images" / name).write_bytes(name.encode())
    (tmp_path / "labels.csv").write_text("0,1\n")
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    labels = str(tmp_path / "images" / ".." / "labels.csv")
    torch_data.describe_dataset(recorder, FolderDataset(str(tmp_path / "images"), labels))
    sources = {attributes["prov4ml:attribute"]: (attributes["prov:type"]["$"], attributes["prov4ml:path"])
               for ident, attributes in recorder.doc.to_dict()["entity"].items() if ident.startswith("sha256:")}
    assert sources == {"root": ("prov4ml:DataFiles", str(tmp_path / "images")),
                       "labels": ("prov4ml:DataFile", str(tmp_path / "labels.csv"))}


def test_datasets_name_their_files_as_people_keep_them(tmp_path, monkeypatch):
    """ImageFolder-style ``samples`` of (path, class), a numpy memmap (nanoGPT's tokens), an open file; a list
    longer than the agent hashes is one entity that says so."""
    import numpy
    import torch

    from prov4ml_auto.integrations import torch_data

    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(name.encode())
    tokens = numpy.memmap(tmp_path / "train.bin", dtype=numpy.uint16, mode="w+", shape=(64,))
    tokens.flush()

    class Kept(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.samples = [(str(tmp_path / name), label) for label, name in enumerate(("a.png", "b.png"))]
            self.tokens = numpy.memmap(tmp_path / "train.bin", dtype=numpy.uint16, mode="r")
            self.index = open(tmp_path / "c.png", "rb")
            self.many = [str(tmp_path / "a.png")] * 3

        def __len__(self) -> int:
            return 2

    monkeypatch.setattr(torch_data, "_MAX_LISTED_FILES", 2)
    recorder = Recorder(Document({}), str(tmp_path / "series"), Hasher(1e9, 10))
    dataset = Kept()
    torch_data.describe_dataset(recorder, dataset)
    dataset.index.close()
    found = {attributes["prov4ml:attribute"]: attributes for attributes in recorder.doc.to_dict()["entity"].values()
             if "prov4ml:attribute" in attributes}
    assert found["samples"]["prov4ml:files"]["$"] == "2" and "prov4ml:sha256" in found["samples"]
    assert found["tokens"]["prov4ml:path"] == str(tmp_path / "train.bin")
    assert found["index"]["prov4ml:sha256"] == hashlib.sha256(b"c.png").hexdigest()
    assert found["many"]["prov4ml:files"]["$"] == "3" and found["many"]["prov4ml:hashStatus"] == "more than 2 files"
