"""Shared test helpers: run real scripts under the agent in subprocesses and read their documents back."""

from __future__ import annotations

import glob
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from prov4ml_auto.validate import oracle_problems, validate_document

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTEGRATION = os.path.join(ROOT, "integration")
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)


@dataclass
class Run:
    """A finished subprocess and where its run folder went."""

    returncode: int
    stdout: str
    stderr: str
    root: str

    @property
    def folder(self) -> str:
        folders = sorted(glob.glob(os.path.join(self.root, "*")))
        assert len(folders) == 1, f"expected one run folder in {self.root}, got {folders}\n{self.stderr}"
        return folders[0]

    def document(self, name: str = "prov.json") -> dict:
        return load_valid(os.path.join(self.folder, name))


def agent_env(root: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROV4ML_")}
    env.update({"PROV4ML_DIR": root, "PROV4ML_STRICT": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_script(script: str, *args: str, root: str, how: str = "launcher", env: dict[str, str] | None = None,
               timeout: float = 120, cwd: str | None = None) -> Run:
    """Run integration/<script> as a user would: under prov4ml-run ("launcher"), with PROV4ML_ENABLE=1
    ("enable"), or with no agent at all ("plain")."""
    command, environment = script_command(script, args, root, how, env)
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout,
                          cwd=cwd or _existing_parent(root))
    return Run(done.returncode, done.stdout, done.stderr, root)


def script_command(script: str, args: tuple[str, ...], root: str, how: str,
                   env: dict[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start integration/<script> the way ``how`` says."""
    path = script if os.path.isabs(script) else os.path.join(INTEGRATION, script)
    command = [PYTHON, path, *args]
    environment = agent_env(root, **(env or {}))
    if how == "launcher":
        command = [os.path.join(BIN, "prov4ml-run"), *command]
    elif how == "enable":
        environment["PROV4ML_ENABLE"] = "1"
    else:
        environment = {k: v for k, v in environment.items() if not k.startswith("PROV4ML_")}
    return command, environment


def _existing_parent(path: str) -> str:
    """Scripts write their own files (data, checkpoints) in the cwd: beside the run root by default."""
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


def load_valid(path: str) -> dict:
    """Load a document and assert it passes our profile checks and the prov oracle."""
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    document = json.loads(text)
    problems = validate_document(document) + oracle_problems(text)
    assert not problems, "\n".join(problems)
    return document


def attr(record: dict, name: str):
    """An attribute's plain value: typed literals are read back to Python values."""
    value = record.get(name if ":" in name else "prov4ml:" + name)
    if isinstance(value, dict) and "$" in value:
        kind, text = value.get("type"), value["$"]
        if kind in ("xsd:long", "xsd:integer", "xsd:int"):
            return int(text)
        if kind == "xsd:double":
            return float(text.replace("INF", "inf"))
        if kind == "xsd:boolean":
            return text == "true"
        return text
    return value


def records_of_type(document: dict, kind: str, prov_type: str) -> dict[str, dict]:
    return {ident: rec for ident, rec in document.get(kind, {}).items() if attr(rec, "prov:type") == prov_type}


def relations(document: dict, kind: str, **formal: str) -> list[dict]:
    return [rel for rel in document.get(kind, {}).values()
            if all(rel.get(f"prov:{key}") == value for key, value in formal.items())]


# --- jobs that are signalled while they run (crash safety, recovery) ---------------------------------

class Job:
    """A script running in the background; reader threads collect its output so a test can wait for a line
    (and full pipes never stall the job)."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: str, preexec_fn=None) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        errors="replace", env=env, cwd=cwd, preexec_fn=preexec_fn)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=lambda: self._stderr.extend(self.process.stderr), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Block until the job prints a line starting with ``text``; if it never does, kill it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stderr}") from None
            if line is None:
                raise AssertionError(f"job ended before printing {text!r}:\n{self.stderr}")
            self.stdout.append(line)
            if line.startswith(text):
                return

    def finish(self, timeout: float = 60) -> int:
        """Wait for the exit (reaping the process, so it is no zombie) and for all its output; a job still
        running after ``timeout`` is killed."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        for reader in self._readers:
            reader.join(timeout)
        while (line := self.lines.get()) is not None:
            self.stdout.append(line)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


def start_script(script: str, *args: str, root: str, agent: bool = True, env: dict[str, str] | None = None,
                 cwd: str | None = None, preexec_fn=None) -> Job:
    """integration/<script> under prov4ml-run (``agent``) or plain, running in the background."""
    command, environment = script_command(script, args, root, "launcher" if agent else "plain", env)
    return Job(command, environment, cwd or _existing_parent(root), preexec_fn)


def prov4ml(*args: str) -> subprocess.CompletedProcess:
    """The ``prov4ml`` tool, as a user runs it."""
    return subprocess.run([os.path.join(BIN, "prov4ml"), *args], capture_output=True, text=True, timeout=120)


# --- jobs of several processes (torchrun, SLURM tasks, multiprocessing) ------------------------------

def free_port() -> int:
    """A TCP port free right now, for a rendezvous (gloo, torchrun's c10d) on this machine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_command(command: list[str], root: str, env: dict[str, str] | None = None, cwd: str | None = None) -> Job:
    """Any command (torchrun, prov4ml-run ...) in the agent's test environment, in the background, in a
    session of its own so that finish_all can end all of its processes."""
    return Job(command, agent_env(root, **(env or {})), cwd or _existing_parent(root), preexec_fn=os.setsid)


def finish_all(jobs: list[Job], timeout: float) -> list[int]:
    """Exit codes of jobs started together; past ``timeout`` every process they started is killed and the
    test fails (a hang must never block the suite)."""
    deadline = time.monotonic() + timeout
    try:
        return [job.finish(max(deadline - time.monotonic(), 0.1)) for job in jobs]
    except subprocess.TimeoutExpired:
        for job in jobs:
            if job.process.poll() is None:
                os.killpg(job.process.pid, signal.SIGKILL)
        raise AssertionError("jobs still running after %ss:\n%s" % (timeout, "\n".join(j.stderr for j in jobs)))


def documents_in(folder: str) -> dict[str, dict]:
    """The process documents of a run folder by file name (the merged one aside), each passing load_valid."""
    paths = sorted(glob.glob(os.path.join(folder, "prov*.json")))
    return {os.path.basename(path): load_valid(path) for path in paths if not path.endswith("prov.merged.json")}
