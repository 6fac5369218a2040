"""Every way a job can end, on real processes: the record survives, and the job ends as it would have.

integration/crash_train.py reseeds ``random`` with the step number at every step, so the document says
exactly which steps it reached, and when.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import random
import re
import resource
import signal
import time

import pytest

from helpers import Job, attr, load_valid, prov4ml, records_of_type, start_script

SCRIPT = "crash_train.py"


def seed_times(document: dict) -> dict[int, float]:
    """Step number -> the moment its ``random.seed(step)`` was recorded."""
    seeds = {ident: int(attr(record, "prov:value"))
             for ident, record in records_of_type(document, "entity", "prov4ml:Seed").items()
             if attr(record, "function") == "random.seed"}
    return {seeds[rel["prov:entity"]]: dt.datetime.fromisoformat(rel["prov:time"]).timestamp()
            for rel in document.get("used", {}).values() if rel["prov:entity"] in seeds}


def folder_of(root: str) -> str:
    (folder,) = glob.glob(os.path.join(root, "*"))
    return folder


def recovered(root: str) -> dict:
    """``prov4ml recover`` on the output root, then the run's document, checked valid."""
    done = prov4ml("recover", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recovered" in done.stdout
    return load_valid(os.path.join(folder_of(root), "prov.json"))


def printed_steps(job: Job) -> dict[int, float]:
    """Step number -> when the job printed it (just after reseeding); a line cut by the kill is no step."""
    found = (re.fullmatch(r"step (\d+) (\d+\.\d{6})", line) for line in job.stdout)
    return {int(match.group(1)): float(match.group(2)) for match in found if match}


def assert_interrupted(document: dict, job: Job, since: float) -> None:
    """The run is marked interrupted with an unknown exit, and it kept every step taken before ``since``
    (the steps it lost are the last ones only)."""
    run = document["activity"]["run:run"]
    assert attr(run, "status") == "interrupted" and attr(run, "exitKnown") is False and "prov4ml:exit" not in run
    assert run["prov:endTime"] >= run["prov:startTime"]
    kept = sorted(seed_times(document))
    assert kept == list(range(len(kept))), "no gaps"
    old_enough = [step for step, moment in printed_steps(job).items() if moment <= since]
    assert old_enough and max(old_enough) < len(kept), f"lost steps taken before {since} ({len(kept)} kept)"


def test_sigkill_at_a_random_moment_loses_at_most_about_one_second(tmp_path):
    target = random.randrange(220, 350)  # steps of 10+ ms: a kill somewhere 2.2-3.5 s into training
    job = start_script(SCRIPT, root=str(tmp_path))
    job.wait_for(f"step {target} ")
    killed_at = time.time()
    job.process.kill()
    assert job.finish() == -signal.SIGKILL
    assert not os.path.exists(os.path.join(folder_of(str(tmp_path)), "prov.json"))
    assert_interrupted(recovered(str(tmp_path)), job, since=killed_at - 2.0)


def test_the_interval_sets_what_a_kill_can_lose(tmp_path):
    """With PROV4ML_JOURNAL_INTERVAL=30 a job killed a few seconds in has flushed nothing yet."""
    job = start_script(SCRIPT, root=str(tmp_path), env={"PROV4ML_JOURNAL_INTERVAL": "30"})
    job.wait_for("step 5 ")
    job.process.kill()
    job.finish()
    done = prov4ml("recover", str(tmp_path))
    assert done.returncode == 0 and "nothing to recover" in done.stdout, done.stdout + done.stderr
    assert not os.path.exists(os.path.join(folder_of(str(tmp_path)), "prov.json"))


def blanked(lines: list[str]) -> list[str]:
    """Output with step numbers and times blanked: two runs reach different steps at different moments."""
    return [re.sub(r"[0-9.]+", "N", line) for line in lines]


# how the script's handler behaves -> what it says from the signal on (found in the output rather than read
# line by line: a signal can arrive between a step's text and its newline), its exit code, the status recorded
SIGTERM_STYLES = {
    "default": ([], -signal.SIGTERM, "terminated"),  # no handler of its own: ours stands in for SIG_DFL
    "exit": (["got SIGTERM"], 7, "failed"),  # sys.exit(7)
    # calls "the previous handler" (ours) as Lightning does, sets a flag, ends after a clean step
    "requeue": (["got SIGTERM", "stopping after a clean step", "done"], 0, "finished"),
    "reraise": (["got SIGTERM"], -signal.SIGTERM, "terminated"),  # restores the previous handler, re-signals
}


def test_sigterm_keeps_each_jobs_behaviour_and_writes_the_document_within_5_s(tmp_path):
    """Without a handler the job ends by SIGTERM; with one, exactly as that handler decides (as Lightning's
    requeue relies on); either way within 5 s and with a complete document."""
    jobs = {style: start_script(SCRIPT, "--sigterm", style, root=str(tmp_path / style)) for style in SIGTERM_STYLES}
    sent = {}
    for style, job in jobs.items():
        job.wait_for("step 20 ")
        job.process.send_signal(signal.SIGTERM)
        sent[style] = time.monotonic()
    for style, (tail, code, status) in SIGTERM_STYLES.items():
        job = jobs[style]
        assert job.finish() == code, f"{style}: {job.stderr}"
        assert time.monotonic() - sent[style] < 5
        said = re.findall(r"got SIGTERM|stopping after a clean step|done", "\n".join(job.stdout))
        assert said == tail, style
        run = load_valid(os.path.join(folder_of(str(tmp_path / style)), "prov.json"))["activity"]["run:run"]
        assert (attr(run, "status"), attr(run, "exit")) == (status, code), style
        assert attr(run, "stepsTotal") >= 21


@pytest.mark.parametrize("number", [signal.SIGHUP])
def test_other_signals_that_end_a_job_leave_the_document_too(tmp_path, number):
    """A closed terminal's SIGHUP, left at its default: the job ends by the signal as it would, with its
    document written first. (SIGUSR1 is left alone: see agent._ENDING_SIGNALS.)"""
    job = start_script(SCRIPT, root=str(tmp_path))
    job.wait_for("step 20 ")
    job.process.send_signal(number)
    assert job.finish() == -number
    run = load_valid(os.path.join(folder_of(str(tmp_path)), "prov.json"))["activity"]["run:run"]
    assert (attr(run, "status"), attr(run, "exit"), attr(run, "signal")) == (
        "terminated", -number, signal.Signals(number).name)


def test_os_exit_and_abort_are_recovered_from_the_journal(tmp_path):
    ends = {"os_exit": 3, "abort": -signal.SIGABRT}
    jobs = {end: start_script(SCRIPT, "--steps", "250", "--end", end, root=str(tmp_path / end), cwd=str(tmp_path),
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0))) for end in ends}
    for end, code in ends.items():
        assert jobs[end].finish() == code
        assert jobs[end].stdout[-1].startswith("step 249 ")
        ended = printed_steps(jobs[end])[249]  # it ends right after its last step
        assert not os.path.exists(os.path.join(folder_of(str(tmp_path / end)), "prov.json"))
        assert_interrupted(recovered(str(tmp_path / end)), jobs[end], since=ended - 2.0)


def _full_disk() -> None:
    """Files may not grow past 4 KiB, as on a full disk (EFBIG instead of the signal that would kill)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_unwritable_output_is_one_warning_and_leaves_the_job_untouched(tmp_path):
    """A full disk mid-run, and an output root that cannot be created (a file is in the way)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the output folder should be")
    roots = {"full disk": (tmp_path / "full", _full_disk), "no folder": (blocked / "runs", None)}
    jobs = {trouble: start_script(SCRIPT, "--steps", "40", root=str(root), cwd=str(tmp_path),
                                  env={"PROV4ML_STRICT": "0"}, preexec_fn=limit)
            for trouble, (root, limit) in roots.items()}
    for trouble, job in jobs.items():
        assert job.finish() == 0 and blanked(job.stdout) == ["step N N"] * 40 + ["done"], trouble
        warnings = [line for line in job.stderr.splitlines() if not line.startswith("prov4ml: recording run")]
        assert len(warnings) == 1 and warnings[0].startswith("prov4ml: "), job.stderr
    assert not glob.glob(str(tmp_path / "**" / "*.tmp"), recursive=True), "no half-written files left"


def test_concurrent_runs_sharing_an_output_root_never_collide(tmp_path):
    """The hardest case: a job script that starts the same script twice at once, under one run id (jobs
    with ids of their own differ in folder name already)."""
    jobs = [start_script(SCRIPT, "--steps", "30", root=str(tmp_path), env={"PROV4ML_RUN_ID": "job-42"})
            for _ in range(2)]
    assert [job.finish() for job in jobs] == [0, 0]
    folders = sorted(glob.glob(os.path.join(str(tmp_path), "*")))
    assert [os.path.basename(folder) for folder in folders] == ["crash_train-job-42", "crash_train-job-42-2"]
    documents = [load_valid(os.path.join(folder, "prov.json")) for folder in folders]
    assert len({attr(d["activity"]["run:run"], "pid") for d in documents}) == 2
    assert len({d["prefix"]["run"] for d in documents}) == 2, "record ids never clash when documents are merged"
    for folder, document in zip(folders, documents):
        with open(os.path.join(folder, "prov.journal.jsonl"), "rb") as handle:
            assert handle.read().count(b'"prov4ml_journal"') == 1, "one writer per journal"
        assert sorted(seed_times(document)) == list(range(30))
