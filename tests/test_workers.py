"""Processes that do not train never make runs or hang; processes a run starts that do train join it.

Real processes: DataLoader workers of every start method (fork, spawn, forkserver, persistent), with
the model and optimizer built at module level so that spawn and the forkserver build one again; and a main
process that starts a forkserver helper that only evaluates, forkserver trainers (one fails),
torch.multiprocessing.spawn DDP workers, and Python subprocesses, one training and one not.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from helpers import BIN, INTEGRATION, PYTHON, attr, documents_in, finish_all, free_port, load_valid, prov4ml, \
    records_of_type, relations, start_command
from prov4ml_auto import agent

TIMEOUT = 90
LOADERS = 4  # fork, spawn, forkserver, persistent forkserver (workers_train.LOADERS)


def prov4ml_run(script: str, *args: str) -> list[str]:
    return [os.path.join(BIN, "prov4ml-run"), PYTHON, os.path.join(INTEGRATION, script), *args]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    """64 rows: 4 batches of 16."""
    rows = random.Random(2)
    path = tmp_path_factory.mktemp("data") / "data.csv"
    path.write_text("".join(",".join(f"{rows.uniform(-1, 1):.4f}" for _ in range(5)) + "\n" for _ in range(64)))
    return str(path)


def run_folder(script: str, *args: str, root) -> tuple[str, list[str]]:
    """Run an integration script under prov4ml-run; its only run folder, and its output lines."""
    job = start_command(prov4ml_run(script, *args), root=str(root / "runs"), cwd=str(root))
    assert finish_all([job], TIMEOUT) == [0], job.stderr
    folders = os.listdir(root / "runs")
    assert len(folders) == 1, folders  # no folder of a worker or helper
    return str(root / "runs" / folders[0]), job.stdout


def test_dataloader_workers_of_every_start_method_make_no_run(tmp_path, data):
    folder, _ = run_folder("workers_train.py", "--data", data, root=tmp_path)
    documents = documents_in(folder)
    assert list(documents) == ["prov.json"]
    assert not [name for name in os.listdir(folder) if "pid" in name or "rank" in name]
    document = documents["prov.json"]
    run = document["activity"]["run:run"]
    epochs = LOADERS + 1  # the persistent workers served two epochs
    assert (attr(run, "status"), attr(run, "stepsTotal")) == ("finished", 4 * epochs)
    assert len(records_of_type(document, "activity", "prov4ml:Epoch")) == epochs
    loaders = records_of_type(document, "entity", "prov4ml:DataLoader").values()
    assert sorted(attr(loader, "persistentWorkers") for loader in loaders) == [False, False, False, True]
    assert all(attr(loader, "numWorkers") == 1 for loader in loaders)
    assert len(records_of_type(document, "entity", "prov4ml:DataFile")) == 1


@pytest.fixture(scope="module")
def helpers_run(tmp_path_factory, data) -> str:
    root = tmp_path_factory.mktemp("helpers")
    folder, output = run_folder("spawn_helpers.py", "--data", data, "--port", str(free_port()), root=root)
    assert "exit codes evaluate=0 train=0 failing=1" in output
    return folder


def test_only_processes_that_train_are_recorded(helpers_run):
    documents = documents_in(helpers_run)
    children = [name for name in documents if name != "prov.json"]
    pids = [name for name in children if name.startswith("prov.pid")]
    # two forkserver trainers and the subprocess trainer; the evaluating and seeding helpers made nothing
    assert len(pids) == 3 and sorted(set(children) - set(pids)) == ["prov.rank0.json", "prov.rank1.json"]
    runs = {name: document["activity"]["run:run"] for name, document in documents.items()}
    assert sorted(attr(runs[name], "status") for name in pids) == ["failed", "finished", "finished"]
    failed = next(runs[name] for name in pids if attr(runs[name], "status") == "failed")
    assert attr(failed, "exception") == "builtins.RuntimeError" and attr(failed, "exit") == 1
    assert [(attr(runs[f"prov.rank{r}.json"], "rank"), attr(runs[f"prov.rank{r}.json"], "worldSize"))
            for r in range(2)] == [(0, 2), (1, 2)]
    assert all(attr(runs[name], "rank") is None for name in pids)  # no rank of their own
    assert [attr(runs[name], "stepsTotal") for name in sorted(children)] == [4, 4, 4, 2, 2]


def test_what_a_child_did_before_it_trained_is_kept(helpers_run):
    """The initial weights were loaded before the optimizer existed: held, then recorded."""
    documents = documents_in(helpers_run)
    written = set(records_of_type(documents.pop("prov.json"), "entity", "prov4ml:Checkpoint"))
    assert len(written) == 1
    for name, document in documents.items():
        loaded = set(records_of_type(document, "entity", "prov4ml:Checkpoint"))
        assert loaded == written and relations(document, "used", activity="run:run", entity=next(iter(loaded))), name
        assert len(records_of_type(document, "entity", "prov4ml:DataFile")) == 1


def test_children_link_to_their_parent(helpers_run):
    documents = documents_in(helpers_run)
    parent = documents.pop("prov.json")
    parent_pid = attr(parent["activity"]["run:run"], "pid")
    for name, document in documents.items():
        assert document["prefix"]["parent"] == parent["prefix"]["run"], name
        stub = document["activity"]["parent:run"]
        assert (attr(stub, "pid"), attr(stub, "document")) == (parent_pid, "prov.json")
        assert len(relations(document, "wasStartedBy", activity="run:run", starter="parent:run")) == 1
        assert attr(document["activity"]["run:run"], "parentRun") == "parent:run"
        assert document["prefix"]["run"] == parent["prefix"]["run"] + name[len("prov."):-len(".json")] + "/"


def test_merge_of_parent_and_children(helpers_run):
    done = prov4ml("merge", helpers_run)
    assert done.returncode == 0, done.stderr
    merged = load_valid(os.path.join(helpers_run, "prov.merged.json"))
    assert len(merged["bundle"]) == 6 and "job:bundle/main" in merged["bundle"]
    assert len(relations(merged, "wasStartedBy", starter="job:job")) == 6
    files = records_of_type(merged, "entity", "prov4ml:Checkpoint") | records_of_type(merged, "entity",
                                                                                      "prov4ml:DataFile")
    assert len(files) == 2  # the initial weights and the data file, once each for six documents


def test_a_process_waiting_to_train_holds_little():
    """Until its run opens, a spawned process keeps the first lineage events (a bounded number, the rest
    counted) and no per-step event; a training event it may not open on (a worker's) is held like another."""
    may_open = [False]
    buffer = agent._HeldBuffer(agent._HELD_MAX * 2, lambda: may_open[0])
    for number in range(agent._HELD_MAX + 5):
        buffer.emit("seed", number)
    buffer.emit_hot((time.time(), "loss", 1.0))
    buffer.emit("optimizer", "refused")
    assert (len(buffer.queue), buffer.dropped, buffer.waiting) == (agent._HELD_MAX, 6, True)
    may_open[0] = True
    buffer.emit("optimizer", "opens the run")
    buffer.emit_hot((time.time(), "step"))
    assert not buffer.waiting and [event[1:] for event in list(buffer.queue)[-2:]] == [
        ("optimizer", "opens the run"), ("step",)]
