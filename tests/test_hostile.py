"""Hostile user code, and the agent's own hooks failing: the job never notices.

Each comparison runs the same script with and without the agent, at the same time (two cores), and asks
for the same stdout, exit code and, where the script saves them, the same final weights.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import pytest
import torch

from helpers import Job, attr, load_valid, records_of_type, start_script

# non-UTF-8 bytes, as a shell passes them (Python shows them as lone surrogates), and four arguments of
# 120 000 characters (Linux allows at most 128 KiB per argument)
HOSTILE_ARGV = ["--note", os.fsdecode(b"\xff\xfe caf\xc3\xa9"), *(letter * 120_000 for letter in "wxyz")]


def both(script: str, *args: str, work, env: dict[str, str] | None = None) -> tuple[Job, Job]:
    """The script with the agent (fail-open, as users run it) and without, started together."""
    for name in ("agent", "plain"):
        (work / name).mkdir(parents=True)
    return (start_script(script, *args, root=str(work / "agent" / "runs"), cwd=str(work / "agent"),
                         env={"PROV4ML_STRICT": "0", **(env or {})}),
            start_script(script, *args, root=str(work / "plain" / "runs"), cwd=str(work / "plain"), agent=False))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Job, Job, dict]:
    work = tmp_path_factory.mktemp("hostile")
    agent, plain = both("hostile_train.py", *HOSTILE_ARGV, work=work)
    agent.finish(), plain.finish()
    (folder,) = glob.glob(str(work / "agent" / "runs" / "*"))
    return agent, plain, load_valid(os.path.join(folder, "prov.json"))


def test_hostile_code_runs_as_without_the_agent_and_leaves_a_valid_document(hostile):
    agent, plain, _ = hostile
    assert agent.process.returncode == plain.process.returncode == 0, agent.stderr
    assert agent.stdout == plain.stdout


def test_what_hostile_code_did_is_recorded_faithfully(hostile):
    _, _, document = hostile
    run = document["activity"]["run:run"]
    command = attr(run, "command")
    assert "--note \\xff\\xfe café" in command and "w" * 4000 in command
    assert command.endswith(" more characters)") and len(command) < 9000  # 480 KB of argv, kept compact
    entities = document["entity"]
    horizon = entities["run:param/argparse/horizon"]["prov:value"]
    assert horizon == {"$": str(2**100), "type": "xsd:integer"}
    assert attr(entities["run:param/argparse/universe"], "prov:value") == "<integer of 16610 bits>"
    assert attr(entities["run:param/argparse/callback"], "prov:value").startswith("<unrepresentable Hostile")
    datasets = {attr(rec, "class"): rec for rec in records_of_type(document, "entity", "prov4ml:Dataset").values()}
    assert attr(datasets["Stream"], "iterable") is True and "prov4ml:length" not in datasets["Stream"]
    assert attr(datasets["Touchy"], "length") == 16
    optimizers = {attr(rec, "class") for rec in records_of_type(document, "entity", "prov4ml:Optimizer").values()}
    assert "Lion" in optimizers
    lion = next(rec for rec in entities.values() if attr(rec, "class") == "Lion")
    assert lion["prov4ml:group0.horizon"] == {"$": str(2**80), "type": "xsd:integer"}
    assert attr(entities["run:series/loss"], "value.nonFinite") >= 2
    # five optimizers, each created when the one before has finished: the run's step carries on across them
    steps = [attr(rec, "steps") for rec in records_of_type(document, "entity", "prov4ml:Optimizer").values()]
    assert len(steps) == 5 and min(steps) >= 1 and attr(run, "stepsTotal") == sum(steps)


def test_hostile_code_causes_no_agent_error(hostile):
    run = hostile[2]["activity"]["run:run"]
    assert attr(run, "agentErrors") == 0, attr(run, "agentErrorSummary")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 re-raises the traceback as it was caught")
def test_tracebacks_through_hooked_calls_read_as_without_the_agent(tmp_path):
    """Errors raised inside hooked calls (a function, one written in C, a method, a staticmethod's arguments,
    a loss, backward, a scheduler step, a DataLoader's next), printed by the script and, for the last, by
    Python: no frame of the agent's."""
    agent, plain = both("raising_calls.py", work=tmp_path)
    assert agent.finish() == plain.finish() == 1
    assert agent.stdout == plain.stdout and sum(line.startswith("Traceback") for line in agent.stdout) == 10
    assert "prov4ml_auto" not in agent.stderr
    assert [line for line in agent.stderr.splitlines() if not line.startswith("prov4ml:")] == \
        plain.stderr.splitlines()
    assert "self.cache[index]" in plain.stderr


def test_patched_functions_pickle_by_reference_into_spawned_processes(tmp_path):
    """os.replace mapped by a spawned pool, torch.load held by a dataset in spawned workers: the patched
    functions pickle as the originals do (pickle finds them by the names they are installed under)."""
    agent, plain = both("pickled_functions.py", work=tmp_path)
    assert agent.finish(timeout=240) == plain.finish(timeout=240) == 0, agent.stderr
    assert agent.stdout == plain.stdout
    printed = json.loads(agent.stdout[-1])
    assert all(printed["round_trips"].values()) and printed["loaded"] == [0, 1, 2]


# --- fault injection ---------------------------------------------------------------------------------
INJECTED = ("argparse", "seeds", "torch.optim", "torch.data", "torch.loss", "torch.checkpoint")
TRAIN = ("train_plain.py", "--epochs", "1", "--workers", "0", "--save-weights", "weights.pt")


@pytest.fixture(scope="module")
def injected(tmp_path_factory) -> dict[str, tuple[Job, str]]:
    """train_plain.py once without the agent, and once per integration with that integration's emitters
    raising (PROV4ML_FAULT_INJECT), all at once: {integration or 'plain': (job, its work folder)}."""
    base = tmp_path_factory.mktemp("inject")
    jobs = {}
    for name in ("plain", *INJECTED):
        work = base / name.replace(".", "_")
        work.mkdir()
        jobs[name] = (start_script(*TRAIN, root=str(work / "runs"), cwd=str(work), agent=name != "plain",
                                   env={"PROV4ML_STRICT": "0", "PROV4ML_FAULT_INJECT": name}), str(work))
    for job, _ in jobs.values():
        job.finish(timeout=300)
    return jobs


@pytest.mark.parametrize("integration", INJECTED)
def test_a_failing_integration_changes_nothing_and_is_counted(injected, integration):
    plain, plain_work = injected["plain"]
    job, work = injected[integration]
    assert job.process.returncode == plain.process.returncode == 0, job.stderr
    assert job.stdout == plain.stdout
    expected, got = (torch.load(os.path.join(folder, "weights.pt")) for folder in (plain_work, work))
    assert expected.keys() == got.keys() and all(torch.equal(expected[key], got[key]) for key in expected)
    (folder,) = glob.glob(os.path.join(work, "runs", "*"))
    run = load_valid(os.path.join(folder, "prov.json"))["activity"]["run:run"]
    assert attr(run, "agentErrors") >= 1 and f"{integration} x" in attr(run, "agentErrorSummary")
    assert "Traceback" not in job.stderr
