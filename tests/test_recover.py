"""``prov4ml recover``: documents rebuilt from the journals of killed runs, on real journals."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import attr, load_valid, prov4ml, start_script
from prov4ml_auto import recover
from prov4ml_auto.document import format_time
from prov4ml_auto.files import Hasher
from prov4ml_auto.validate import validate_document

SCRIPT = "crash_train.py"


def only_folder(root) -> str:
    (folder,) = glob.glob(os.path.join(str(root), "*"))
    return folder


@dataclass
class Runs:
    killed: str  # the folder of a run killed by SIGKILL mid-training
    finished: str  # the folder of a run that finished
    while_running: subprocess.CompletedProcess  # ``prov4ml recover`` on the killed run's root before the kill
    document_while_running: bool


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    base = tmp_path_factory.mktemp("runs")
    killed = start_script(SCRIPT, root=str(base / "killed"))
    finished = start_script(SCRIPT, "--steps", "20", root=str(base / "finished"))
    killed.wait_for("step 150 ")
    while_running = prov4ml("recover", str(base / "killed"))
    document_while_running = os.path.exists(os.path.join(only_folder(base / "killed"), "prov.json"))
    killed.process.send_signal(signal.SIGKILL)
    assert killed.finish() == -signal.SIGKILL and finished.finish() == 0
    return Runs(only_folder(base / "killed"), only_folder(base / "finished"), while_running, document_while_running)


@pytest.fixture
def killed(runs, tmp_path) -> str:
    """A fresh copy of the killed run's folder (each test may recover or damage it)."""
    return shutil.copytree(runs.killed, str(tmp_path / "killed-run"))


def journal_of(folder: str) -> str:
    return os.path.join(folder, "prov.journal.jsonl")


def test_a_killed_run_gets_a_valid_document_marked_interrupted(killed):
    done = prov4ml("recover", killed)
    assert done.returncode == 0 and "recovered: wrote prov.json (interrupted)" in done.stdout, done.stderr
    document = load_valid(os.path.join(killed, "prov.json"))
    run = document["activity"]["run:run"]
    assert attr(run, "status") == "interrupted" and attr(run, "exitKnown") is False and "prov4ml:exit" not in run
    with open(journal_of(killed), "rb") as handle:
        beats = [orjson.loads(line)["t"] for line in handle if line.startswith(b'{"t"')]
    assert run["prov:endTime"] == format_time(max(beats)), "ends at the last sign of life"
    assert attr(document["entity"]["run:optimizer/0"], "class") == "SGD"
    loss = document["entity"]["run:series/loss"]
    assert attr(loss, "complete") is False and attr(loss, "value.count") > 0  # how many: test_crash_safety
    csv = os.path.join(killed, attr(loss, "path"))
    assert attr(loss, "sha256") == Hasher(1e12, 1e12).file(csv).sha256


def test_recovering_twice_changes_nothing_and_finished_runs_are_left_alone(killed, runs, tmp_path):
    finished = shutil.copytree(runs.finished, str(tmp_path / "finished-run"))
    before = open(os.path.join(finished, "prov.json"), "rb").read()
    assert recover.main([killed, finished]) == 0
    first = open(os.path.join(killed, "prov.json"), "rb").read()
    assert recover.main([killed, finished]) == 0
    assert open(os.path.join(killed, "prov.json"), "rb").read() == first
    assert open(os.path.join(finished, "prov.json"), "rb").read() == before


def test_a_root_recovers_every_unfinished_run_below_it(runs, tmp_path, capsys):
    root = tmp_path / "root"
    for name, source in (("a-killed", runs.killed), ("b-finished", runs.finished), ("c-killed", runs.killed)):
        shutil.copytree(source, str(root / "team" / name))
    assert recover.main([str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1].split(" ")[0] for line in lines] == ["recovered:", "finished:", "recovered:"]
    for name in ("a-killed", "c-killed"):
        load_valid(str(root / "team" / name / "prov.json"))


def test_a_finished_journal_whose_document_was_lost_keeps_its_outcome(runs, tmp_path):
    finished = shutil.copytree(runs.finished, str(tmp_path / "finished-run"))
    os.remove(os.path.join(finished, "prov.json"))
    done = prov4ml("recover", finished)
    assert done.returncode == 0 and "it had finished" in done.stdout
    run = load_valid(os.path.join(finished, "prov.json"))["activity"]["run:run"]
    assert attr(run, "status") == "finished" and attr(run, "exit") == 0


def test_a_running_job_is_left_alone(runs):
    done = runs.while_running
    assert done.returncode == 0 and "still running" in done.stdout, done.stdout + done.stderr
    assert not runs.document_while_running


def test_a_fresh_journal_from_another_host_waits_until_it_goes_quiet(killed):
    """On a shared file system the process cannot be asked: a beat in the last two minutes may be a live
    job on another node, so it is left alone until then (a lost node is recovered after)."""
    with open(journal_of(killed), "rb") as handle:
        lines = handle.read().replace(b'"prov4ml:hostname":"', b'"prov4ml:hostname":"elsewhere-').splitlines()
    for age, expected in ((0, "may still be running on elsewhere-"), (600, "recovered")):
        beats_aged = [orjson.dumps({"t": orjson.loads(line)["t"] - age}) if line.startswith(b'{"t"') else line
                      for line in lines]
        with open(journal_of(killed), "wb") as handle:
            handle.write(b"\n".join(beats_aged) + b"\n")
        done = prov4ml("recover", killed)
        assert done.returncode == 0 and expected in done.stdout, done.stdout + done.stderr
    assert os.path.exists(os.path.join(killed, "prov.json"))


@st.composite
def damaged(draw, journal: bytes) -> bytes:
    """The journal as a crash leaves it: some lines written twice, cut anywhere after the header (a torn
    last line, a flush written in part), and perhaps the zeros a lost node leaves after the last block."""
    lines = journal.split(b"\n")[:-1]
    copies = draw(st.lists(st.sampled_from([1, 1, 1, 2]), min_size=len(lines), max_size=len(lines)))
    data = b"".join((line + b"\n") * count for line, count in zip(lines, copies))
    cut = draw(st.integers(len(lines[0]) + 1, len(data)))
    return data[:cut] + b"\0" * draw(st.sampled_from([0, 0, 4096]))


@pytest.fixture(scope="module")
def real_journal(runs) -> bytes:
    with open(journal_of(runs.killed), "rb") as handle:
        return handle.read()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_torn_cut_and_duplicated_journals_still_recover(real_journal, data):
    journal = data.draw(damaged(real_journal))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "prov.journal.jsonl")
        with open(path, "wb") as handle:
            handle.write(journal)
        assert recover.recover(path).startswith("recovered")
        with open(os.path.join(folder, "prov.json"), "rb") as handle:
            document = orjson.loads(handle.read())
    assert validate_document(document) == []
    assert attr(document["activity"]["run:run"], "status") == "interrupted"


GARBAGE = {
    "binary": b"\x00\xff\xfe garbage \x80",
    "not a journal": b'{"prefix": {}, "entity": {}}\n',
    "another version": b'{"prov4ml_journal": 2, "prefix": {}, "run": "run:run"}\n',
    "invalid PROV": b'{"prov4ml_journal": 1, "prefix": {"run": "https://e.org/"}, "run": "run:run"}\n'
                    b'["entity", "run:x", {"prov4ml:n": {"$": "many", "type": "xsd:long"}}]\n{"t": 1.0}\n',
    "unsafe document": b'{"prov4ml_journal": 1, "prefix": {}, "run": "run:run", "document": "../x.json"}\n',
    "time beyond year 9999": b'{"prov4ml_journal": 1, "prefix": {"run": "https://e.org/"}, "run": "run:run"}\n'
                             b'{"t": 1e300}\n',
}


@pytest.mark.parametrize("kind", GARBAGE)
def test_garbage_is_one_clear_line_and_exit_2(tmp_path, capsys, kind):
    path = tmp_path / "prov.journal.jsonl"
    path.write_bytes(GARBAGE[kind])
    assert recover.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(str(path)), err
    assert os.listdir(tmp_path) == ["prov.journal.jsonl"], "nothing written"


def test_the_command_line_says_what_is_wrong(tmp_path):
    missing = prov4ml("recover", str(tmp_path / "nowhere"))
    empty = prov4ml("recover", str(tmp_path))
    assert missing.returncode == empty.returncode == 2
    assert "No such file" in missing.stderr and "no prov4ml journal" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr


def test_recovery_respects_the_umask_and_never_follows_a_planted_link(killed, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    planted = shutil.copytree(killed, str(tmp_path / "planted"))
    os.symlink(victim, os.path.join(planted, "prov.json"))
    old = os.umask(0o077)
    try:
        assert recover.main([killed, planted]) == 0
    finally:
        os.umask(old)
    assert os.stat(os.path.join(killed, "prov.json")).st_mode & 0o777 == 0o600
    assert victim.read_text() == "precious" and os.path.islink(os.path.join(planted, "prov.json"))
