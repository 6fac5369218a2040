"""What reaches output files: no secret (the rules in prov4ml_auto/redact.py, then a real job full of them),
nothing outside the run folder however the folder was booby-trapped, nothing looser than the umask."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

from helpers import INTEGRATION, Job, attr, load_valid, run_script, start_script
from prov4ml_auto.redact import (
    REDACTED, allowed_environment, is_secret_name, redact_argv, redact_mapping, redact_text,
)

TOKEN = "ghp_" + "a1B2c3D4e5" * 4  # a GitHub token's shape


@pytest.mark.parametrize("name", [
    "api_key", "apiKey", "x-api-key", "--api-key", "hub_token", "hubToken", "HF_TOKEN", "GITHUB_TOKEN", "token",
    "WANDB_API_KEY", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "db_password", "passwd", "auth", "use_auth_token",
    "private_key", "client_secret", "session", "Authorization", "cookie", "credentials", "db_pw", "hf_tok",
    "passcode", "pin",
])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "lr", "num_key_value_heads", "key_dim", "tokenizer_name", "max_tokens", "author", "monkey_patch", "keys",
    "batch_size", "hidden_size", "eos_token_id", "pin_memory",
])
def test_names_that_only_contain_a_secret_word_are_kept(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize("text, secret", [
    ("postgres://alice:s3cret@db.example.org:5432/x", "s3cret"),
    ("postgres://alice:p@ss@db.example.org/x", "p@ss"),  # an unescaped '@' in the password
    (f"https://{TOKEN}@github.com/org/repo.git", TOKEN),  # a token as the user name
    ("https://example.org/data?access_token=abc123xyz&split=train", "abc123xyz"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9"),
    (f"see {TOKEN} for access", TOKEN),
    ("hf_" + "Z" * 34, "Z" * 34),
    ("sk-" + "q" * 40, "q" * 40),
    ("AKIA" + "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP"),
    ("Namespace(lr=0.1, api_key='abc123xyz', epochs=3)", "abc123xyz"),
    ('{"password": "abc123xyz"}', "abc123xyz"),
    ("password = hunter2", "hunter2"),
    ("s3://bucket/train.bin?X-Amz-Signature=f00dfeed42&X-Amz-Date=20261128", "f00dfeed42"),
    ("https://hooks.slack.com/services/T0001/B0002/Xy7hookSecret", "Xy7hookSecret"),
    ("https://discord.com/api/webhooks/1234/Xy7discordSecret", "Xy7discordSecret"),
])
def test_secrets_in_text_are_hidden(text, secret):
    redacted = redact_text(text)
    assert secret not in redacted and REDACTED in redacted


@pytest.mark.parametrize("text", [
    "https://example.org/data/train.csv", "http://host?mail=a@b", "lr=0.1 epochs=3", "time: 12:30",
    "git@github.com:org/repo.git", "/home/user/checkpoints/epoch3.pt",
])
def test_ordinary_text_is_kept(text):
    assert redact_text(text) == text


def test_argv_loses_secret_values_and_url_credentials():
    argv = ["train.py", "--api-key", "k1", "--token=k2", "password=k3", "--db", "mysql://u:k4@h/d", "--lr", "0.1",
            "--note", TOKEN]
    assert redact_argv(argv) == ["train.py", "--api-key", REDACTED, f"--token={REDACTED}", f"password={REDACTED}",
                                 "--db", f"mysql://{REDACTED}@h/d", "--lr", "0.1", "--note", REDACTED]


def test_argv_loses_the_values_of_the_options_a_parser_said_are_secret():
    argv = ["train.py", "-p", "k1", "-tk2", "--key-file=k3", "-e", "3", "-pe"]
    assert redact_argv(argv, {"-p", "-t", "--key-file"}) == [
        "train.py", "-p", REDACTED, f"-t{REDACTED}", f"--key-file={REDACTED}", "-e", "3", f"-p{REDACTED}"]


def test_argv_loses_the_values_a_parser_parsed_for_secret_names():
    """A positional ``token`` argument has no option before it to say so: the parser's value says it."""
    argv = ["eval.py", "evaluate", "model.pt", "tok-positional-987", "--note=tok-positional-987"]
    assert redact_argv(argv, (), {"tok-positional-987"}) == ["eval.py", "evaluate", "model.pt", REDACTED,
                                                             f"--note={REDACTED}"]


def test_a_list_of_strings_is_redacted_as_the_command_line_it_may_be():
    """A launcher's remainder (``script_args = ['train.py', '--hf-token', X]``) pairs options with values."""
    redacted = redact_mapping({"script_args": ["train.py", "--hf-token", "remaindersecret321", "--lr", "0.1"],
                               "pair": ("--api-key", "k9")})
    assert redacted == {"script_args": ["train.py", "--hf-token", REDACTED, "--lr", "0.1"],
                        "pair": ("--api-key", REDACTED)}


def test_hyperparameter_dicts_are_redacted_item_by_item():
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(url='redis://u:k5@cache')"

    values = {
        "lr": 0.1, "steps": 2**70, "api_key": "k1", 3: "three",
        "storage": {"bucket": "models", "password": "k2", "mirrors": ["s3://a:k3@m/x", ("ok", "hf_" + "k" * 30)]},
        "client": Opaque(),
    }
    redacted = redact_mapping(values)
    assert redacted["lr"] == 0.1 and redacted["steps"] == 2**70 and redacted[3] == "three"
    assert redacted["api_key"] == REDACTED and redacted["storage"]["bucket"] == "models"
    assert redacted["storage"]["password"] == REDACTED
    assert redacted["storage"]["mirrors"] == [f"s3://{REDACTED}@m/x", ("ok", REDACTED)]
    assert redacted["client"] == f"Opaque(url='redis://{REDACTED}@cache')"


def test_trainer_arguments_are_redacted(tmp_path):
    """transformers' TrainingArguments, as its integration hands them over (``to_dict()``)."""
    transformers = pytest.importorskip("transformers")
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path), hub_token="hf_" + "t" * 34, report_to=[], learning_rate=5e-5,
        resume_from_checkpoint="s3://trainer:k3y-in-url@bucket/ckpt", run_name="sweep token=k3y-in-name",
    )
    redacted = redact_mapping(arguments.to_dict())
    assert "t" * 34 not in repr(redacted) and "k3y" not in repr(redacted)
    assert redacted["hub_token"] == REDACTED and redacted["learning_rate"] == 5e-5
    assert redacted["resume_from_checkpoint"] == f"s3://{REDACTED}@bucket/ckpt"
    assert redacted["average_tokens_across_devices"] == arguments.average_tokens_across_devices


def test_environment_keeps_only_allowlisted_settings_and_never_secrets():
    environ = {"SLURM_JOB_ID": "42", "SLURM_JOB_TOKEN": "k1", "MASTER_ADDR": "https://u:k2@node1",
               "WANDB_API_KEY": "k3", "HOME": "/root", "CUDA_VISIBLE_DEVICES": "0,1"}
    assert allowed_environment(environ) == {
        "CUDA_VISIBLE_DEVICES": "0,1", "MASTER_ADDR": f"https://{REDACTED}@node1", "SLURM_JOB_ID": "42"}


# --- a real job ----------------------------------------------------------------------------------------
SECRETS = {
    "TEST_SECRET_ARGV": "argv-Kq81xZ", "TEST_SECRET_URL": "url-Pw73nB", "TEST_SECRET_DEFAULT": "default-Hv55tR",
    "TEST_SECRET_NESTED": "nested-Lm20aQ", "TEST_SECRET_LIST": "list-Yc49dS", "TEST_SECRET_ERROR": "error-Jf62uW",
    "TEST_SECRET_ERROR_TOKEN": "errtoken-Ns38gE", "SLURM_JOB_SECRET": "slurm-Ra17vC",
    "WANDB_API_KEY": "wandb-Bt94kM", "TEST_SECRET_REMOTE": "remote-Gx06pL", "TEST_SECRET_SHORT": "short-Wd83mX",
    "TEST_SECRET_ATTACHED": "attached-Qe27sV",
}


def output_text(folder: str) -> bytes:
    chunks = []
    for path in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                chunks.append(handle.read())
    return b"\n".join(chunks)


def git_project(folder) -> str:
    """The script in a git repository whose remote URL carries a password."""
    folder.mkdir()
    script = str(folder / "train.py")
    shutil.copy(os.path.join(INTEGRATION, "hostile_secrets.py"), script)
    remote = f"https://ci:{SECRETS['TEST_SECRET_REMOTE']}@git.example.org/team/project.git"
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
                    ["remote", "add", "origin", remote]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return script


def test_no_secret_reaches_any_output_file(tmp_path):
    script = git_project(tmp_path / "project")
    run = run_script(
        script, "--api-key", SECRETS["TEST_SECRET_ARGV"],
        "--db-url", f"postgres://alice:{SECRETS['TEST_SECRET_URL']}@db.example.org/x", "--note", f"use {TOKEN}",
        "-p", SECRETS["TEST_SECRET_SHORT"], f"-k{SECRETS['TEST_SECRET_ATTACHED']}",
        root=str(tmp_path / "runs"), env={**SECRETS, "MASTER_ADDR": f"https://u:{SECRETS['TEST_SECRET_URL']}@n1"},
    )
    assert run.returncode == 1 and "ConnectionError" in run.stderr
    document = run.document()
    written = output_text(run.folder)
    leaked = [name for name, secret in SECRETS.items() if secret.encode() in written]
    assert not leaked and TOKEN.encode() not in written, f"leaked: {leaked}"
    run_record = document["activity"]["run:run"]
    assert attr(run_record, "status") == "failed" and "db.example.org" in attr(run_record, "exceptionMessage")
    assert "db.example.org" in attr(run_record, "command") and f"-p {REDACTED} -k{REDACTED}" in attr(run_record,
                                                                                                  "command")
    params = {attr(rec, "name"): attr(rec, "prov:value") for ident, rec in document["entity"].items()
              if ident.startswith("run:param/")}
    assert params["lr"] == 0.1 and params["num_key_value_heads"] == 8
    assert params["api_key"] == params["hub_token"] == REDACTED and "models" in params["storage"]
    assert attr(document["entity"]["run:code"], "gitRemote") == f"https://{REDACTED}@git.example.org/team/project.git"


# --- a hostile output folder ---------------------------------------------------------------------------
def planted(tmp_path, *links: str, rank: bool = True) -> tuple[Job, str, str]:
    """A job whose output names were planted beforehand as symlinks to a victim file (or folder).

    With ``rank`` the job is rank 0 of two, so it writes into the shared folder where the links wait;
    otherwise the run folder itself is the link."""
    victim = tmp_path / "victim"
    victim.mkdir(parents=True)
    (victim / "loss.csv").write_text("precious")
    folder = tmp_path / "runs" / "crash_train-planted"
    if rank:
        for link in links:
            (folder / link).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(victim / "loss.csv", folder / link)
    else:
        folder.parent.mkdir()
        os.symlink(victim, folder)
    env = {"PROV4ML_RUN_ID": "planted", "PROV4ML_STRICT": "0", **({"RANK": "0", "WORLD_SIZE": "2"} if rank else {})}
    job = start_script("crash_train.py", "--steps", "30", root=str(tmp_path / "runs"), env=env)
    return job, str(victim), str(folder)


def test_planted_links_are_never_followed(tmp_path):
    jobs = {
        "document and series": planted(tmp_path / "a", "prov.rank0.json", "prov.rank0.series/loss.csv"),
        "journal": planted(tmp_path / "b", "prov.rank0.journal.jsonl"),
        "run folder": planted(tmp_path / "c", rank=False),
    }
    for case, (job, victim, folder) in jobs.items():
        assert job.finish() == 0 and job.stdout[-1] == "done", f"{case}: {job.stderr}"
        assert os.listdir(victim) == ["loss.csv"] and open(os.path.join(victim, "loss.csv")).read() == "precious"
    job, _, folder = jobs["document and series"]
    assert not os.path.islink(os.path.join(folder, "prov.rank0.json")), "the link was replaced, not followed"
    assert attr(load_valid(os.path.join(folder, "prov.rank0.json"))["activity"]["run:run"], "agentErrors") >= 1
    job, _, _ = jobs["journal"]
    assert "prov4ml: not recording" in job.stderr
    job, _, folder = jobs["run folder"]
    load_valid(folder + "-2/prov.json")


def test_outputs_respect_the_umask(tmp_path):
    job = start_script("crash_train.py", "--steps", "30", root=str(tmp_path / "runs"),
                       preexec_fn=lambda: os.umask(0o077))
    assert job.finish() == 0
    paths = glob.glob(str(tmp_path / "runs" / "**"), recursive=True)[1:]
    modes = {os.path.relpath(path, tmp_path): os.stat(path).st_mode & 0o777 for path in paths}
    assert len(modes) >= 5 and all(mode in (0o700, 0o600) for mode in modes.values()), modes
