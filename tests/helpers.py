"""Shared test helpers: run real scripts under the agent in subprocesses and read their documents back."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
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
    path = script if os.path.isabs(script) else os.path.join(INTEGRATION, script)
    command = [PYTHON, path, *args]
    environment = agent_env(root, **(env or {}))
    if how == "launcher":
        command = [os.path.join(BIN, "prov4ml-run"), *command]
    elif how == "enable":
        environment["PROV4ML_ENABLE"] = "1"
    else:
        environment = {k: v for k, v in environment.items() if not k.startswith("PROV4ML_")}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout,
                          cwd=cwd or _existing_parent(root))
    return Run(done.returncode, done.stdout, done.stderr, root)


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
