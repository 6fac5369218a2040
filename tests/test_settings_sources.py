"""Hyperparameters from where scripts keep them besides argparse: click and typer commands, and configuration
files the script loads itself (integration/click_cli.py, integration/loaded_configs.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from helpers import attr, relations, run_script

REDACTED = "<redacted>"
SECRET = "wandb-7f3a9c0e1d2b4a6f"


def file_id(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def params(document: dict, source: str) -> dict:
    return {attr(record, "name"): attr(record, "prov:value") for ident, record in document["entity"].items()
            if ident.startswith(f"run:param/{source}/")}


def written_bytes(folder: str) -> bytes:
    return b"".join(open(os.path.join(where, name), "rb").read()
                    for where, _, names in os.walk(folder) for name in names)


def test_a_click_group_and_its_subcommand_give_their_parameters_and_files(tmp_path):
    """The group's options and the subcommand's, as parsed; a secret-named option and a hidden prompt's are
    redacted, in the values and on the command line (its short form too); a click.Path and a click.File that
    name files are inputs of the run, and the open file is recorded by its name; a lazily opened output file is
    never opened (which would empty it)."""
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    (tmp_path / "settings.yaml").write_text("depth: 2\n")
    (tmp_path / "report.txt").write_text("the last good report\n")
    run = run_script("click_cli.py", "--seed", "3", "fit", "--lr", "0.2", "-k", SECRET, "--phrase", "open-sesame-42",
                     "--data", "data.csv", "--settings", "settings.yaml", "--report", "report.txt",
                     "hf-positional-5b7e9d", root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"lr": 0.2}
    document = run.document()
    assert params(document, "click") == {"seed": 3, "lr": 0.2, "epochs": 2, "wandb_key": REDACTED,
                                         "phrase": REDACTED, "data": "data.csv", "settings": "settings.yaml",
                                         "report": "report.txt", "hub_token": REDACTED}
    assert (tmp_path / "report.txt").read_text() == "the last good report\n"  # click opens it lazily: untouched
    command = attr(document["activity"]["run:run"], "command")
    assert f"-k {REDACTED}" in command and f"--phrase {REDACTED}" in command and command.endswith(REDACTED)
    for name, kind in (("data.csv", "prov4ml:DataFile"), ("settings.yaml", "prov4ml:ConfigFile")):
        ident = file_id(tmp_path / name)
        assert attr(document["entity"][ident], "prov:type") == kind
        assert relations(document, "used", entity=ident)
    written = written_bytes(run.folder)
    assert SECRET.encode() not in written and b"open-sesame-42" not in written and b"hf-positional" not in written


def test_a_typer_command_gives_its_parameters(tmp_path):
    """typer parses with its own copy of click (typer._click), patched as click is."""
    run = run_script("click_cli.py", "typer", "--lr", "0.3", "--phrase", "open-sesame-42", root=str(tmp_path / "runs"),
                     cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    document = run.document()
    assert params(document, "click") == {"lr": 0.3, "epochs": 3, "name": "exp", "phrase": REDACTED}
    assert b"open-sesame-42" not in written_bytes(run.folder)


@pytest.fixture
def config_folder(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(
        "seed: 3\nmodel:\n  width: 16\n  act: relu\noptim:\n  lr: 0.05\n  momentum: 0.9\n  milestones: [2, 4]\n"
        f"wandb:\n  api_key: {SECRET}\ndata:\n  train: train.csv\n")
    (tmp_path / "train.csv").write_text("x,y\n1,2\n")
    (tmp_path / "override.json").write_text(json.dumps({"optim": {"lr": 0.01}}))
    (tmp_path / "anchors.yaml").write_text("defaults: &d\n  dropout: 0.1\n  again: *d\n")
    (tmp_path / "labels").mkdir()
    for index in range(10):
        (tmp_path / "labels" / f"{index}.json").write_text(json.dumps({"label": index / 10}))
    (tmp_path / "trace.json").write_text(json.dumps({"traceEvents": []}))
    (tmp_path / "late.json").write_text(json.dumps({"note": "read while training"}))
    (tmp_path / "annotations.json").write_text(json.dumps(
        {"info": {"year": 2026}, "images": [{"id": i, "file": f"{i}.png"} for i in range(300)]}))
    return tmp_path


def test_configuration_files_a_script_loads_give_their_settings(config_folder):
    """A YAML and a JSON configuration loaded before training: ConfigFile inputs used from the start, each
    file's settings flattened (``model.width``) under its own source, values as loaded (the script multiplies
    its lr afterwards), a secret redacted, a value naming a file an input. Ten label files from one folder are
    data, as is an annotation file with a list of 300 records, and a file loaded once training runs; a
    library's load (torch reading a trace) is not the run's at all."""
    run = run_script("loaded_configs.py", root=str(config_folder / "runs"), cwd=str(config_folder))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"lr": pytest.approx(0.1)}
    document = run.document()
    assert params(document, "config_config.yaml") == {"seed": 3, "model.width": 16, "model.act": "relu",
                                                      "optim.lr": 0.05, "optim.momentum": 0.9,
                                                      "optim.milestones": "[2, 4]", "wandb.api_key": REDACTED,
                                                      "data.train": "train.csv"}
    assert params(document, "config_override.json") == {"optim.lr": 0.01}
    assert params(document, "config_anchors.yaml") == {"defaults.dropout": 0.1}  # each mapping read once
    kinds = {attr(record, "path"): attr(record, "prov:type") for ident, record in document["entity"].items()
             if ident.startswith("sha256:") and str(attr(record, "path")).endswith((".json", ".yaml", ".csv"))}
    expected = {"config.yaml": "prov4ml:ConfigFile", "override.json": "prov4ml:ConfigFile",
                "anchors.yaml": "prov4ml:ConfigFile", "train.csv": "prov4ml:DataFile",
                "late.json": "prov4ml:DataFile", "annotations.json": "prov4ml:DataFile",
                **{f"labels/{i}.json": "prov4ml:DataFile" for i in range(10)}}
    assert kinds == {str(config_folder / name): kind for name, kind in expected.items()}
    for name in expected:
        (use,) = relations(document, "used", entity=file_id(config_folder / name))
        assert attr(use, "step") == (1 if name == "late.json" else 0)  # read after the first step
    assert SECRET.encode() not in written_bytes(run.folder)


def test_absl_flags_the_script_defines_are_its_parameters(tmp_path):
    """The script's flags, once ``app.run`` has parsed them, and not absl's own (logging verbosity)."""
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    run = run_script("absl_app.py", "--lr=0.2", "-e", "3", "--api_token", SECRET, "--data", "data.csv",
                     root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    document = run.document()
    assert params(document, "absl") == {"lr": 0.2, "epochs": 3, "api_token": REDACTED, "data": "data.csv"}
    assert attr(document["entity"][file_id(tmp_path / "data.csv")], "prov:type") == "prov4ml:DataFile"
    assert SECRET.encode() not in written_bytes(run.folder)
