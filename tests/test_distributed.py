"""One job, one run: torchrun ranks, SLURM tasks (simulated environment) and a two-node torchrun without a
shared disk, all real processes training with gloo on CPU; every document, and their merge, valid.

Also the rules behind them, as plain functions: roles, rank and world size precedence, run ids, job tags.
"""

from __future__ import annotations

import glob
import os
import random
import socket

import pytest

from helpers import BIN, INTEGRATION, PYTHON, attr, documents_in, finish_all, free_port, load_valid, prov4ml, \
    records_of_type, relations, start_command
from prov4ml_auto import roles
from prov4ml_auto.roles import default_run_id

SCRIPT = os.path.join(INTEGRATION, "ddp_train.py")
TIMEOUT = 90


@pytest.fixture
def data(tmp_path) -> str:
    """64 rows, 4 features and a target: 4 batches of 8 per rank and epoch with 2 ranks."""
    rows = random.Random(1)
    path = tmp_path / "data.csv"
    path.write_text("".join(",".join(f"{rows.uniform(-1, 1):.4f}" for _ in range(5)) + "\n" for _ in range(64)))
    return str(path)


def torchrun(*options: str) -> list[str]:
    return [os.path.join(BIN, "prov4ml-run"), os.path.join(BIN, "torchrun"), *options]


def only_folder(root) -> str:
    folders = glob.glob(os.path.join(str(root), "*"))
    assert len(folders) == 1, folders
    return folders[0]


def run_of(document: dict) -> dict:
    return document["activity"]["run:run"]


def assert_ranks_trained(documents: dict[str, dict], world_size: int) -> None:
    """Each rank: its place in the job, DistributedSampler batches, the shared data file by content."""
    for rank in range(world_size):
        run = run_of(documents[f"prov.rank{rank}.json"])
        assert (attr(run, "rank"), attr(run, "worldSize"), attr(run, "status")) == (rank, world_size, "finished")
        assert attr(run, "stepsTotal") == 2 * 64 // 8 // world_size
        loaders = records_of_type(documents[f"prov.rank{rank}.json"], "entity", "prov4ml:DataLoader")
        assert [attr(loader, "sampler") for loader in loaders.values()] == ["DistributedSampler"]
    data_files = [set(records_of_type(doc, "entity", "prov4ml:DataFile")) for doc in documents.values()]
    assert len(data_files[0]) == 1 and all(files == data_files[0] for files in data_files)
    assert len({attr(run_of(doc), "runId") for doc in documents.values()}) == 1


def merged(*folders: str) -> dict:
    done = prov4ml("merge", *folders)
    assert done.returncode == 0, done.stderr
    return load_valid(os.path.join(folders[0], "prov.merged.json"))


def test_torchrun_ranks_are_one_run(tmp_path, data):
    job = start_command(torchrun("--nproc-per-node", "2", "--master-port", str(free_port()), SCRIPT, "--data", data),
                        root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert finish_all([job], TIMEOUT) == [0], job.stderr
    folder = only_folder(tmp_path / "runs")
    documents = documents_in(folder)
    assert sorted(documents) == ["prov.rank0.json", "prov.rank1.json"]  # the launcher made no run
    assert_ranks_trained(documents, 2)
    runs = [run_of(documents[f"prov.rank{rank}.json"]) for rank in range(2)]
    assert [attr(run, "localRank") for run in runs] == [0, 1]
    assert {attr(run, "node") for run in runs} == {socket.gethostname()}
    assert len({attr(run, "parentPid") for run in runs}) == 1  # both started by torchrun's agent
    assert all(attr(run, "localWorldSize") == 2 for run in runs)
    job_document = merged(folder)
    job_activity = job_document["activity"]["job:job"]
    assert attr(job_activity, "documents") == 2 and attr(job_activity, "worldSize") == 2
    assert sorted(rel["prov:activity"] for rel in job_document["wasStartedBy"].values()) == ["job:rank0/run",
                                                                                             "job:rank1/run"]


SLURM = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "toy-ddp", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2",
         "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2", "SLURM_RESTART_COUNT": "1",
         "SLURMD_NODENAME": "node-a", "SLURM_NODEID": "0", "MASTER_ADDR": "127.0.0.1"}


def test_slurm_tasks_are_one_run(tmp_path, data):
    """``srun prov4ml-run python ddp_train.py``: rank and world size from SLURM_PROCID and SLURM_NTASKS."""
    port = str(free_port())
    jobs = [start_command([os.path.join(BIN, "prov4ml-run"), PYTHON, SCRIPT, "--data", data], root=str(tmp_path / "runs"),
                          env={**SLURM, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank), "MASTER_PORT": port},
                          cwd=str(tmp_path))
            for rank in range(2)]
    assert finish_all(jobs, TIMEOUT) == [0, 0], [job.stderr for job in jobs]
    folder = only_folder(tmp_path / "runs")
    assert os.path.basename(folder) == "ddp_train-slurm-4242-0-2-1"
    documents = documents_in(folder)
    assert sorted(documents) == ["prov.rank0.json", "prov.rank1.json"]
    assert_ranks_trained(documents, 2)
    for rank in range(2):
        run = run_of(documents[f"prov.rank{rank}.json"])
        assert attr(run, "localRank") == rank
        assert (attr(run, "slurmJobId"), attr(run, "slurmJobName"), attr(run, "slurmStepId")) == ("4242", "toy-ddp", "0")
        assert (attr(run, "slurmArrayJobId"), attr(run, "slurmArrayTaskId")) == ("4240", "2")
        assert (attr(run, "slurmRestartCount"), attr(run, "node")) == (1, "node-a")
    job_activity = merged(folder)["activity"]["job:job"]
    assert (attr(job_activity, "slurmJobId"), attr(job_activity, "nodes")) == ("4242", "node-a")


def test_two_node_torchrun_without_a_shared_disk(tmp_path, data):
    """Two launchers (one per node) agree on the run through the rendezvous id; each node writes its own
    folder, and merge takes both."""
    endpoint = f"127.0.0.1:{free_port()}"
    jobs = [start_command(torchrun("--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "1",
                                   "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "toy42",
                                   SCRIPT, "--data", data, "--out", f"checkpoints{node}"),
                          root=str(tmp_path / f"node{node}"), cwd=str(tmp_path))
            for node in range(2)]
    assert finish_all(jobs, TIMEOUT) == [0, 0], [job.stderr for job in jobs]
    folders = [only_folder(tmp_path / f"node{node}") for node in range(2)]
    assert {os.path.basename(folder) for folder in folders} == {"ddp_train-elastic-toy42"}
    documents = {**documents_in(folders[0]), **documents_in(folders[1])}
    assert sorted(documents) == ["prov.rank0.json", "prov.rank1.json"]
    assert_ranks_trained(documents, 2)
    assert all(attr(run_of(doc), "elasticRunId") == "toy42" for doc in documents.values())
    job_document = merged(*folders)
    assert sorted(job_document["bundle"]) == ["job:bundle/rank0", "job:bundle/rank1"]
    data_file = next(iter(records_of_type(documents["prov.rank0.json"], "entity", "prov4ml:DataFile")))
    assert data_file in job_document["entity"]
    assert all(data_file not in bundle.get("entity", {}) for bundle in job_document["bundle"].values())
    assert len(relations(job_document, "wasStartedBy", starter="job:job")) == 2


# --- the rules, as functions ----------------------------------------------------------------------------
SPAWN_CHILD = ["python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)",
               "--multiprocessing-fork"]


@pytest.mark.parametrize("argv, environ, role", [
    (["python", "train.py"], {}, roles.MAIN),
    (["python", "train.py"], {roles.PARENT_PID: "10"}, roles.SPAWNED),
    (SPAWN_CHILD, {}, roles.SPAWNED),
    (["python", "-c", "from multiprocessing.forkserver import main; main(3, 4, ['__main__'])"], {}, roles.SPAWNED),
    (["python", "-c", "from multiprocessing.resource_tracker import main;main(5)"], {}, roles.HELPER),
    (["python", "/venv/bin/torchrun", "--nproc-per-node", "2", "train.py"], {roles.PARENT_PID: "10"}, roles.LAUNCHER),
    (["python", "-m", "torch.distributed.run", "train.py"], {}, roles.LAUNCHER),
    (["python", "/venv/bin/prov4ml-run", "python", "train.py"], {}, roles.HELPER),
])
def test_roles(argv, environ, role):
    assert roles.detect_role(argv, environ) == role


def test_rank_and_world_size_precedence():
    both = {"RANK": "3", "SLURM_PROCID": "1", "WORLD_SIZE": "8", "SLURM_NTASKS": "2", "LOCAL_RANK": "1"}
    assert roles.detect_placement(both) == roles.Placement(rank=3, local_rank=1, world_size=8)
    slurm = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "0"}
    assert roles.detect_placement(slurm) == roles.Placement(rank=1, local_rank=0, world_size=2)
    mpi = {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "TORCHELASTIC_RESTART_COUNT": "1"}
    assert roles.detect_placement(mpi) == roles.Placement(rank=2, local_rank=0, world_size=4, restart=1)
    assert not roles.detect_placement({}).distributed


def test_run_ids_and_tags():
    assert default_run_id({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "1", "TORCHELASTIC_RUN_ID": "x"}, []) == "slurm-7-1"
    assert default_run_id({"TORCHELASTIC_RUN_ID": "abc"}, []) == "elastic-abc"
    launcher = ["python", "/venv/bin/prov4ml-run", "torchrun", "--rdzv-id=j9", "train.py", "--rdzv-id", "no"]
    assert default_run_id({"TORCHELASTIC_RUN_ID": "none"}, launcher) == "elastic-j9"
    generated = default_run_id({"TORCHELASTIC_RUN_ID": "none"}, ["python", "train.py", "--rdzv-id", "no"])
    assert not generated.startswith("elastic")
    tags = roles.job_tags({"TORCHELASTIC_RUN_ID": "none", "SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n3"})
    assert tags == {"node": "n3", "slurmJobId": "7"}
