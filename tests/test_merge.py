"""``prov4ml merge``: the per-rank documents of a real job (two SLURM tasks, simulated environment, training
the same model on the same data file) combined into one valid document; idempotent; several folders; and a
clear error with exit status 2 for every input it cannot merge.
"""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest

from helpers import BIN, INTEGRATION, PYTHON, attr, finish_all, load_valid, prov4ml, relations, start_command

SLURM = {"SLURM_JOB_ID": "77", "SLURM_JOB_NAME": "toy", "SLURM_NTASKS": "2", "SLURMD_NODENAME": "node-b"}
RANKS = ("prov.rank0.json", "prov.rank1.json")


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> str:
    """The run folder of two tasks of train_plain.py; each saves the same weights under its own path."""
    root = tmp_path_factory.mktemp("job")
    rows = random.Random(3)
    data = root / "data.csv"
    data.write_text("".join(",".join(f"{rows.uniform(-1, 1):.4f}" for _ in range(9)) + "\n" for _ in range(256)))
    command = [os.path.join(BIN, "prov4ml-run"), PYTHON, os.path.join(INTEGRATION, "train_plain.py"),
               "--data", str(data), "--epochs", "1"]
    jobs = [start_command(command + ["--out", f"checkpoints{rank}"], root=str(root / "runs"), cwd=str(root),
                          env={**SLURM, "SLURM_PROCID": str(rank)})
            for rank in range(2)]
    assert finish_all(jobs, 90) == [0, 0], [job.stderr for job in jobs]
    folder = str(root / "runs" / "train_plain-slurm-77")
    assert sorted(name for name in os.listdir(folder) if name.endswith(".json")) == list(RANKS)
    return folder


def copy_of(folder: str, destination, names: tuple[str, ...] = RANKS) -> str:
    """The documents (and their journals) of ``folder`` in a folder of the same name below ``destination``."""
    target = os.path.join(str(destination), os.path.basename(folder))
    os.makedirs(target, exist_ok=True)
    for name in names:
        shutil.copy(os.path.join(folder, name), target)
        shutil.copy(os.path.join(folder, name.replace(".json", ".journal.jsonl")), target)
    return target


def merge_ok(*args: str) -> None:
    done = prov4ml("merge", *args)
    assert done.returncode == 0, done.stderr


def read(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def merged(job) -> dict:
    merge_ok(job)
    return load_valid(os.path.join(job, "prov.merged.json"))


def test_one_bundle_per_process_and_the_job(job, merged):
    assert sorted(merged["bundle"]) == ["job:bundle/rank0", "job:bundle/rank1"]
    for rank, name in enumerate(RANKS):
        original = read(os.path.join(job, name))
        bundle = merged["bundle"][f"job:bundle/rank{rank}"]
        assert bundle["prefix"] == original["prefix"] and bundle["activity"] == original["activity"]
        assert len(bundle["used"]) == len(original["used"])  # relations kept, blank ids renamed
        assert all(ident.startswith(f"_:rank{rank}.") for ident in bundle["used"])
    job_activity = merged["activity"]["job:job"]
    assert (attr(job_activity, "documents"), attr(job_activity, "worldSize")) == (2, 2)
    assert (attr(job_activity, "runId"), attr(job_activity, "slurmJobId")) == ("slurm-77", "77")
    assert (attr(job_activity, "slurmJobName"), attr(job_activity, "nodes")) == ("toy", "node-b")
    starts = [rel["prov:time"] for rel in relations(merged, "wasStartedBy", starter="job:job")]
    assert sorted(starts)[0] == job_activity["prov:startTime"] and len(starts) == 2


def test_identical_files_become_one(merged):
    """The data file both tasks hashed is one entity; the weights both saved (same bytes, two paths) are one
    entity too, the path each wrote staying with its own bundle."""
    files = merged["entity"]
    data_file = next(ident for ident, record in files.items() if attr(record, "prov:type") == "prov4ml:DataFile")
    assert attr(files[data_file], "path").endswith("data.csv")
    checkpoints = [ident for ident, record in files.items() if attr(record, "prov:type") == "prov4ml:Checkpoint"]
    assert len(checkpoints) == 1 and attr(files[checkpoints[0]], "path") is None
    for rank in range(2):
        bundle = merged["bundle"][f"job:bundle/rank{rank}"]
        assert data_file not in bundle["entity"]
        assert attr(bundle["entity"][checkpoints[0]], "path").endswith(f"checkpoints{rank}/epoch0.pt")


def test_merge_is_idempotent(job, merged, tmp_path):
    output = os.path.join(job, "prov.merged.json")
    with open(output, "rb") as handle:
        first = handle.read()
    merge_ok(job)
    merge_ok(job, "-o", str(tmp_path / "elsewhere.json"))
    with open(output, "rb") as handle:
        assert handle.read() == first
    assert (tmp_path / "elsewhere.json").read_bytes() == first


def test_folders_of_several_nodes(job, merged, tmp_path):
    """No shared disk: each node's copy of the run folder holds its own rank; overlapping copies count once."""
    node0 = copy_of(job, tmp_path / "node0", RANKS[:1])
    node1 = copy_of(job, tmp_path / "node1", RANKS)
    merge_ok(node0, node1)
    assert read(os.path.join(node0, "prov.merged.json")) == merged


def broken_copy(job: str, tmp_path, how: str) -> list[str]:
    """merge's arguments for one kind of input it must refuse."""
    folder = copy_of(job, tmp_path / "copy")
    rank1 = os.path.join(folder, RANKS[1])
    document = read(rank1)
    if how == "missing":
        return [str(tmp_path / "no-such-run")]
    if how == "empty":
        os.makedirs(tmp_path / "empty")
        return [str(tmp_path / "empty")]
    if how == "truncated":
        with open(rank1, "r+b") as handle:
            handle.truncate(os.path.getsize(rank1) // 2)
    elif how == "journal only":
        os.remove(rank1)
    elif how == "not PROV":
        del next(iter(document["used"].values()))["prov:activity"]
        write(rank1, document)
    elif how == "another run":
        document["prefix"]["run"] = document["prefix"]["run"].replace("slurm-77", "slurm-78")
        write(rank1, document)
    elif how == "conflicting copy":
        other = copy_of(job, tmp_path / "other", RANKS[1:])
        document["activity"]["run:run"]["prov4ml:status"] = "failed"
        write(os.path.join(other, RANKS[1]), document)
        return [job, other]
    return [folder]


def write(path: str, document: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


@pytest.mark.parametrize("how, message", [
    ("missing", "no such run folder"),
    ("empty", "no process documents"),
    ("truncated", "prov.rank1.json: truncated JSON"),
    ("journal only", "run `prov4ml recover"),
    ("not PROV", "prov.rank1.json: not a valid document"),
    ("another run", "belong to different runs"),
    ("conflicting copy", "two different documents of one process"),
])
def test_inputs_it_cannot_merge(job, tmp_path, how, message):
    folders = broken_copy(job, tmp_path, how)
    output = tmp_path / "out.json"
    done = prov4ml("merge", *folders, "-o", str(output))
    assert done.returncode == 2 and not output.exists()
    assert done.stderr.startswith("prov4ml merge: ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and not done.stdout
