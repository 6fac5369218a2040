"""The core agent, end to end: the three ways to switch it on, run facts, exit paths, configuration."""

from __future__ import annotations

import argparse
import dataclasses
import glob
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import typing

import pytest

from helpers import BIN, INTEGRATION, PYTHON, ROOT, Run, agent_env, attr, load_valid, records_of_type, relations, run_script

SCRIPT = os.path.join(INTEGRATION, "train_plain.py")
SECRET = "hunter2-very-secret-value"


def all_output_text(folder: str) -> str:
    chunks = []
    for path in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                chunks.append(handle.read().decode("utf-8", "replace"))
    return "\n".join(chunks)


def git_repo(path: str) -> None:
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=path, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path):
    """A user's project: the training script in a git repository, with an uncommitted change."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(SCRIPT, folder / "train.py")
    git_repo(str(folder))
    with open(folder / "train.py", "a") as handle:
        handle.write("\n# local edit\n")
    return folder


def run_project(project, tmp_path, how: str, *args: str, env: dict | None = None) -> Run:
    root = str(tmp_path / "runs")
    return run_script(str(project / "train.py"), "--epochs", "1", *args, root=root, how=how, env=env, cwd=str(project))


@pytest.mark.parametrize("how", ["launcher", "enable", "template"])
def test_each_activation_records_the_run(project, tmp_path, how):
    env = None
    if how == "template":  # what an admin does: the template on the path, PROV4ML_ENABLE in a module file
        env = {"PYTHONPATH": os.path.join(ROOT, "sitecustomize_template")}
        how = "enable"
    run = run_project(project, tmp_path, how, "--lr", "0.02", env=env)
    assert run.returncode == 0, run.stderr
    assert "prov4ml: recording run" in run.stderr and "prov4ml: wrote" in run.stderr
    document = run.document()
    activity = document["activity"]["run:run"]
    assert attr(activity, "status") == "finished" and attr(activity, "exit") == 0
    assert attr(activity, "agentErrors") == 0 and attr(activity, "eventsDropped") == 0
    assert attr(activity, "agentEvents") > 10 and 0 < attr(activity, "agentCpuSeconds") < 60
    assert "train.py --epochs 1 --lr 0.02" in attr(activity, "command")
    assert attr(activity, "cwd") == str(project) and attr(activity, "pid") > 0
    assert activity["prov:startTime"].endswith("+00:00") and activity["prov:endTime"] >= activity["prov:startTime"]
    environment = document["entity"]["run:environment"]
    assert attr(environment, "python") == "%d.%d.%d" % sys.version_info[:3]
    assert "torch==" in attr(environment, "distributions") and attr(environment, "torch").startswith("2.")
    code = document["entity"]["run:code"]
    assert attr(code, "gitStatus") == "repository" and len(attr(code, "gitCommit")) == 40
    assert attr(code, "gitDirty") is True and len(attr(code, "gitDiffSha256")) == 64
    script = document["agent"]["run:script"]
    assert attr(script, "path") == str(project / "train.py") and len(attr(script, "sha256")) == 64
    assert attr(document["agent"]["run:user"], "prov:type") == "prov:Person"
    assert relations(document, "wasAssociatedWith", activity="run:run", agent="run:script")
    lr = document["entity"]["run:param/argparse/lr"]
    assert attr(lr, "prov:value") == 0.02 and lr["prov:value"]["type"] == "xsd:double"
    assert attr(document["entity"]["run:param/argparse/epochs"], "prov:value") == 1
    assert attr(document["entity"]["run:param/argparse/out"], "prov:value") == "checkpoints"  # a type=Path value
    seeds = records_of_type(document, "entity", "prov4ml:Seed")
    # torch.manual_seed seeds CUDA itself (torch.cuda.manual_seed_all): only the script's own calls count
    assert sorted(attr(s, "function") for s in seeds.values()) == ["random.seed", "torch.manual_seed"]
    assert all(attr(s, "prov:value") == 7 for s in seeds.values())


def test_a_seed_per_sample_is_counted_not_listed(tmp_path):
    """A dataset seeding every sample (torchvision's FakeData) lists the first 1000 seeds and counts the rest,
    so the document does not grow with the data."""
    run = run_script("seeded_samples.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    calls = json.loads(run.stdout.splitlines()[-1])["seed_calls"]
    document = run.document()
    assert len(records_of_type(document, "entity", "prov4ml:Seed")) == 1000
    assert attr(document["activity"]["run:run"], "seedCallsNotListed") == calls - 1000


def test_no_switch_writes_nothing_and_loads_nothing(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import sys, argparse\nprint(sorted(m for m in sys.modules if m.startswith('prov4ml')))\n")
    env = {k: v for k, v in agent_env(str(tmp_path / "runs")).items() if k != "PROV4ML_ENABLE"}
    done = subprocess.run([PYTHON, str(probe)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]" and done.stderr == ""
    assert not (tmp_path / "runs").exists()


def test_no_git_repository_is_stated(tmp_path):
    run = run_script("exits.py", "0", root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert attr(run.document()["entity"]["run:code"], "gitStatus") in ("no repository", "repository")


def test_users_sitecustomize_still_runs(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = 'yes'\n")
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nprint(os.environ.get('USER_SITE_RAN'))\n")
    run = run_script(str(probe), root=str(tmp_path / "runs"), env={"PYTHONPATH": str(theirs)})
    assert run.returncode == 0 and run.stdout.strip() == "yes", run.stderr
    run.document()


def test_python_dash_m_and_shebang(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copy(SCRIPT, package / "train.py")
    env = agent_env(str(tmp_path / "runs"), PYTHONPATH=str(tmp_path))
    done = subprocess.run([os.path.join(BIN, "prov4ml-run"), PYTHON, "-m", "pkg.train", "--epochs", "1"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    document = load_valid(glob.glob(str(tmp_path / "runs" / "train-*" / "prov.json"))[0])
    assert attr(document["agent"]["run:script"], "path") == str(package / "train.py")

    script = tmp_path / "shebang_train"
    script.write_text(f"#!{PYTHON}\n" + open(SCRIPT).read())
    script.chmod(0o755)
    done = subprocess.run([os.path.join(BIN, "prov4ml-run"), str(script), "--epochs", "1"], capture_output=True,
                          text=True, env=agent_env(str(tmp_path / "runs2")), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    load_valid(glob.glob(str(tmp_path / "runs2" / "shebang_train-*" / "prov.json"))[0])


def test_exception_keeps_exit_code_and_traceback(tmp_path):
    plain = run_script("fails.py", root=str(tmp_path / "plain"), how="plain")
    run = run_script("fails.py", root=str(tmp_path / "runs"))
    assert run.returncode == plain.returncode == 1
    assert "ValueError: diverged at step 3" in run.stderr and "Traceback (most recent call last)" in run.stderr
    assert run.stdout == plain.stdout
    activity = run.document()["activity"]["run:run"]
    assert attr(activity, "status") == "failed" and attr(activity, "exit") == 1
    assert attr(activity, "exception") == "builtins.ValueError"
    assert attr(activity, "exceptionMessage") == "diverged at step 3"
    assert "fails.py" in attr(activity, "traceback")
    innermost = 'raise ValueError("diverged at step 3")\nValueError: diverged at step 3\n'
    assert attr(activity, "traceback").endswith(innermost)


def test_sys_exit_code_is_recorded(tmp_path):
    run = run_script("exits.py", "3", root=str(tmp_path / "runs"))
    assert run.returncode == 3 and run.stdout == "about to exit\n"
    activity = run.document()["activity"]["run:run"]
    assert attr(activity, "exit") == 3 and attr(activity, "status") == "failed"


def test_an_exception_that_ends_a_thread_is_recorded_beside_the_outcome(tmp_path):
    """The training thread dies, the main thread ends normally: exit 0 and the thread's traceback on stderr,
    as without the agent; the run finished, with the thread's exception listed."""
    run = run_script("exits.py", "thread-fails", root=str(tmp_path / "runs"))
    assert run.returncode == 0 and run.stdout == "main thread done\n"
    assert "FloatingPointError: loss diverged at step 2" in run.stderr
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status")) == (0, "finished")
    assert attr(activity, "threadExceptions") == 1
    assert attr(activity, "threadExceptionsListed") == "trainer: builtins.FloatingPointError: loss diverged at step 2"


def test_a_failure_shown_by_an_excepthook_of_the_scripts_own_is_recorded(tmp_path):
    """typer, rich and logging setups replace sys.excepthook without calling the one before: the exception that
    ended the script is still the run's outcome."""
    run = run_script("exits.py", "own-excepthook", root=str(tmp_path / "runs"))
    assert run.returncode == 1 and "logged: ValueError: bad batch shape" in run.stderr
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status")) == (1, "failed")
    assert attr(activity, "exception") == "builtins.ValueError"
    assert attr(activity, "exceptionMessage") == "bad batch shape"


def test_a_boolean_exit_is_recorded_as_the_code_python_exits_with(tmp_path):
    run = run_script("exits.py", "not-ok", root=str(tmp_path / "runs"))
    assert run.returncode == 1
    activity = run.document()["activity"]["run:run"]
    assert activity["prov4ml:exit"] == {"$": "1", "type": "xsd:long"} and attr(activity, "status") == "failed"


def test_a_script_read_from_standard_input_is_no_missing_file(tmp_path):
    """``python - ARGS < train.py``: argv[0] is "-" and the script has no file; the run is named "stdin"."""
    with open(os.path.join(INTEGRATION, "exits.py"), "rb") as script:
        done = subprocess.run([os.path.join(BIN, "prov4ml-run"), PYTHON, "-", "0"], stdin=script,
                              capture_output=True, text=True, env=agent_env(str(tmp_path / "runs")), timeout=120)
    run = Run(done.returncode, done.stdout, done.stderr, str(tmp_path / "runs"))
    assert run.returncode == 0 and run.stdout == "about to exit\n"
    assert os.path.basename(run.folder).startswith("stdin-")
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status")) == (0, "finished")


def test_a_warning_shown_once_stays_shown_once(tmp_path):
    """The collector's probes never reset Python's once-per-location warning memory (see facts.py)."""
    run = run_script("warns_twice.py", root=str(tmp_path / "runs"))
    assert run.returncode == 0 and run.stderr.count("UserWarning: shown once") == 1, run.stderr


def test_an_uncaught_keyboard_interrupt_ends_by_sigint_and_is_recorded_so(tmp_path):
    """Python ends by SIGINT after an uncaught KeyboardInterrupt, unless a pure-Python module is first imported
    during its exit (CPython resets its flag then): the collector's first pass imports some, so the script
    raises a second into the job, as a Ctrl-C does."""
    run = run_script("exits.py", "interrupted", root=str(tmp_path / "runs"))
    assert run.returncode == -signal.SIGINT and "KeyboardInterrupt" in run.stderr
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status"), attr(activity, "signal")) == (-2, "interrupted", "SIGINT")


def test_a_script_that_does_not_exist_is_a_failure(tmp_path):
    run = run_script(str(tmp_path / "nosuch.py"), root=str(tmp_path / "runs"))
    assert run.returncode == 2 and "can't open file" in run.stderr
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status")) == (2, "failed")


def test_an_exit_that_answers_a_keyboard_interrupt_is_an_interruption(tmp_path):
    run = run_script("exits.py", "exit-on-interrupt", root=str(tmp_path / "runs"))
    assert run.returncode == 1 and run.stdout == "shutting down\n"
    activity = run.document()["activity"]["run:run"]
    assert (attr(activity, "exit"), attr(activity, "status"), attr(activity, "exception")) == (
        1, "interrupted", "builtins.KeyboardInterrupt")


def test_a_caught_sys_exit_that_training_went_on_after_ends_nothing(tmp_path):
    run = run_script("exits.py", "caught", root=str(tmp_path / "runs"))
    assert run.returncode == 0 and run.stdout == "trained on\n" and "unrecognized arguments: -f" in run.stderr
    activity = run.document()["activity"]["run:run"]
    assert attr(activity, "exit") == 0 and attr(activity, "status") == "finished"
    assert attr(activity, "stepsTotal") == 3 and "prov4ml:exitCalled" not in activity


def test_sigterm_ends_by_sigterm_with_a_document(tmp_path):
    env = agent_env(str(tmp_path / "runs"))
    process = subprocess.Popen([os.path.join(BIN, "prov4ml-run"), PYTHON, os.path.join(INTEGRATION, "long_loop.py")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert process.stdout.readline().strip() == "ready"
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGTERM and time.monotonic() - sent < 5
    run = Run(process.returncode, "", process.stderr.read(), str(tmp_path / "runs"))
    document = run.document()
    activity = document["activity"]["run:run"]
    assert attr(activity, "status") == "terminated" and attr(activity, "signal") == "SIGTERM"
    assert attr(activity, "stepsTotal") >= 20


def test_secrets_never_reach_a_file(tmp_path):
    env = {"HF_TOKEN": SECRET, "WANDB_API_KEY": SECRET, "SLURM_JOB_ID": "77", "NCCL_PASSWORD": SECRET,
           "MASTER_ADDR": f"https://user:{SECRET}@host.example"}
    run = run_script("train_plain.py", "--epochs", "1", "--api-token", SECRET, "--data=data.csv",
                     root=str(tmp_path / "runs"), env=env)
    assert run.returncode == 0, run.stderr
    document = run.document()
    assert attr(document["entity"]["run:environment"], "env.SLURM_JOB_ID") == "77"
    assert SECRET not in all_output_text(run.folder) and SECRET not in run.stderr
    assert "<redacted>" in attr(document["activity"]["run:run"], "command")


def test_unwritable_output_warns_once_and_leaves_the_job_alone(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    plain = run_script("exits.py", "0", root=str(tmp_path / "plain"), how="plain")
    run = run_script("exits.py", "0", root=str(blocker / "runs"))
    assert run.returncode == plain.returncode == 0 and run.stdout == plain.stdout
    lines = [line for line in run.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("prov4ml: not recording") and "Traceback" not in run.stderr


def test_bad_configuration_is_one_warning_and_the_job_runs(tmp_path):
    run = run_script("exits.py", "0", root=str(tmp_path / "runs"), env={"PROV4ML_JOURNAL_INTERVAL": "often"})
    assert run.returncode == 0
    assert "prov4ml: ignoring PROV4ML_JOURNAL_INTERVAL='often'" in run.stderr and "Traceback" not in run.stderr
    run.document()


@pytest.mark.parametrize("how", ["launcher", "enable"])
def test_a_run_name_or_id_that_could_leave_the_output_folder_is_refused(tmp_path, how):
    """Both name the run's folder and its namespace IRI: one warning each, and the defaults."""
    run = run_script("exits.py", "0", root=str(tmp_path / "root" / "runs"), how=how,
                     env={"PROV4ML_RUN_NAME": "../../escape", "PROV4ML_RUN_ID": "my run#1"})
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert "ignoring PROV4ML_RUN_NAME='../../escape'" in run.stderr
    assert "ignoring PROV4ML_RUN_ID='my run#1'" in run.stderr
    assert os.listdir(tmp_path) == ["root"] and os.path.basename(run.folder).startswith("exits-")
    run.document()


def test_quiet_silences_the_agent(tmp_path):
    run = run_script("exits.py", "0", root=str(tmp_path / "runs"), env={"PROV4ML_QUIET": "1"})
    assert run.returncode == 0 and run.stderr == ""
    run.document()


def test_launcher_help_and_bad_options(tmp_path):
    launcher = os.path.join(BIN, "prov4ml-run")
    shown = subprocess.run([launcher, "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0
    for flag in ("--dir", "--run-name", "--disable", "--quiet", "--strict", "--journal-interval", "--system-interval"):
        assert flag in shown.stdout
    bad = subprocess.run([launcher, "--no-such-option", "python"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    missing = subprocess.run([launcher, "no-such-command-xyz"], capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "command not found" in missing.stderr


def test_flags_and_user_variables(tmp_path):
    """A flag sets its variable; a variable the user already set wins."""
    launcher = os.path.join(BIN, "prov4ml-run")
    env = agent_env(str(tmp_path / "from-env"))
    done = subprocess.run([launcher, "--dir", str(tmp_path / "from-flag"), "--run-name", "named", PYTHON,
                           os.path.join(INTEGRATION, "exits.py"), "0"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert glob.glob(str(tmp_path / "from-env" / "named-*" / "prov.json"))
    assert not (tmp_path / "from-flag").exists()


def test_disabling_an_integration(tmp_path):
    run = run_script("train_plain.py", "--epochs", "1", root=str(tmp_path / "runs"),
                     env={"PROV4ML_DISABLE": "argparse,torch.optim"})
    document = run.document()
    assert not records_of_type(document, "entity", "prov4ml:Hyperparameter")
    assert not records_of_type(document, "entity", "prov4ml:Optimizer")
    assert records_of_type(document, "activity", "prov4ml:Epoch")


def test_a_misspelt_integration_is_named_once():
    from prov4ml_auto import config, integrations

    names = {importlib.import_module(path).NAME for path in integrations.MODULES} | {"system", "constants"}
    assert set(config.INTEGRATIONS) == names
    shown = subprocess.run([os.path.join(BIN, "prov4ml"), "info"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PROV4ML_DISABLE": "torch.optm,seeds"})
    assert shown.returncode == 0 and "Traceback" not in shown.stdout + shown.stderr
    assert "ignoring PROV4ML_DISABLE='torch.optm,seeds' (unknown integration torch.optm;" in shown.stdout
    (warning,) = config.Config({"PROV4ML_FAULT_INJECT": "torch.lss"}).warnings  # the test switch, likewise
    assert "ignoring PROV4ML_FAULT_INJECT='torch.lss' (unknown integration torch.lss;" in warning


def test_a_log_file_the_script_made_its_stderr_is_left_as_it_would_be(tmp_path):
    run = run_script("own_log.py", root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert run.returncode == 0
    log = (tmp_path / "train.log").read_text().splitlines()
    assert [line.split(" loss")[0] for line in log] == ["step 0", "step 1", "step 2"]
    assert "prov4ml: wrote" in run.stderr  # on the process's stderr instead


def test_validate_command(tmp_path):
    run = run_script("exits.py", "0", root=str(tmp_path / "runs"))
    path = os.path.join(run.folder, "prov.json")
    tool = os.path.join(BIN, "prov4ml")
    ok = subprocess.run([tool, "validate", path], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("OK")
    truncated = tmp_path / "cut.json"
    truncated.write_bytes(open(path, "rb").read()[:50])
    bad = subprocess.run([tool, "validate", str(truncated)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_info_command_lists_settings_and_integrations():
    shown = subprocess.run([os.path.join(BIN, "prov4ml"), "info"], capture_output=True, text=True, timeout=60,
                   env={**os.environ, "PROV4ML_SYSTEM_INTERVAL": "soon"})
    assert shown.returncode == 0, shown.stderr
    assert "PROV4ML_DIR" in shown.stdout and "torch.optim" in shown.stdout
    assert "ignoring PROV4ML_SYSTEM_INTERVAL='soon'" in shown.stdout


def test_readme_documents_every_setting():
    from prov4ml_auto.config import SETTINGS

    with open(os.path.join(ROOT, "README.md")) as handle:
        readme = handle.read()
    assert [s.env for s in SETTINGS if f"`{s.env}`" not in readme] == []


def test_a_scripts_settings_are_the_names_it_binds_once_at_module_level_to_literals_and_never_changes():
    """Read from the source: a value computed by a call or from a name that is no setting, a name bound
    again (a loop's variables, a second phase's rate, a fallback in ``except``) or changed anywhere
    (``global``, an augmented assignment, an item set, a mutating method, in functions too) is no setting;
    blocks under ``if``/``try``/``with`` are module level, and reading a dict (``config.get``) changes
    nothing."""
    from prov4ml_auto.constants import settings_assigned, settings_of

    source = '''
import time
import torch
lr = 0.1
batch_size, epochs = 32, -10
betas: tuple = (0.9, 0.95)
best_acc = 0.0
history = {"loss": []}
scores = {}
STATS = {"best": 0}
step = 0
config = {"lr": 0.1, "hidden": 64, "clip": 1.0}
start = time.time()
LR2 = 0.1
LR2 = LR2 / 10
accumulation = 5 * 8
train_csv = f"data/{batch_size}/train.csv"
steps_per_hour = accumulation * 60 if lr > 0 else 0
tokens = start * 2
if __name__ == "__main__":
    device = "cpu"
    try:
        workers = 4
    except ImportError:
        workers = 0
for epoch in range(epochs):
    for i, batch in enumerate([]):
        step += 1
        scores[epoch] = i
        clip = config.get("clip")
    last = epoch
while False:
    patience = 3
def evaluate():
    global best_acc
    best_acc = 1.0
    STATS["best"] = 1
    history["loss"].append(best_acc)
elapsed = time.time() - start
@dataclasses.dataclass(frozen=True)
class Optim:
    lr: float = 0.1
@dataclass
class Run:
    optim: Optim
    name: str = "run"
class Plain:
    pass
run = Run(Optim(lr=lr * 2), name=f"bs{batch_size}")
timed = Run(Optim(lr=time.time()))
plain = Plain()
counts = Run(Optim())
def count():
    counts.name += "x"
args = argparse.Namespace(lr=lr, layers=[64, 64])
args.lr *= 8
opts = dict(dropout=0.1, act="gelu")
calls = dict(start=time.time())
'''
    assert settings_assigned(source) == {"lr", "batch_size", "epochs", "betas", "config", "device", "accumulation",
                                         "train_csv", "steps_per_hour", "run", "args", "opts"}
    assert settings_assigned("def broken(:\n") == set()
    namespace = {"lr": 0.1, "config": {"lr": 0.1, "hidden": 64, "layers": [1, 2]}, "torch": object(),
                 "name": "x" * 501, "vocab": list("abcdefghijklmnopq"), "_private": 1, "betas": (0.9, 0.95)}
    assert settings_of(namespace) == {"lr": 0.1, "config.hidden": 64, "config.layers": [1, 2], "betas": (0.9, 0.95)}
    namespace = {}
    exec(source[source.index("@dataclasses"):source.index("timed =")].replace("lr * 2", "0.2").replace(
        'f"bs{batch_size}"', '"bs32"'), {"dataclasses": dataclasses, "dataclass": dataclasses.dataclass}, namespace)
    assert settings_of({"run": namespace["run"], "Run": namespace["Run"]}) == {"run.optim.lr": 0.2, "run.name": "bs32"}
    read = []

    @dataclasses.dataclass
    class Tracked:  # a config that reports the settings nobody read: reading it for the document must not count
        lr: float = 0.1
        scale: float = 1.0
        registry: typing.ClassVar[dict] = {}

        def __getattribute__(self, name):
            read.append(name)
            return object.__getattribute__(self, name)

    Tracked.scale = property(lambda self: 1 / 0)  # a field a property overrides: not read (it would raise)
    tracked = Tracked.__new__(Tracked)
    object.__setattr__(tracked, "lr", 0.2)
    assert settings_of({"tracked": tracked}) == {"tracked.lr": 0.2} and read == []
    assert settings_of({"args": argparse.Namespace(lr=0.1, layers=[64, 64]), "opts": {"act": "gelu"},
                        "nested": {"model": {"width": 32}, 3: "three"}}) == {
        "args.lr": 0.1, "args.layers": [64, 64], "opts.act": "gelu", "nested.model.width": 32}
