"""Hugging Face Trainer under the agent: real ``Trainer.train()`` runs of integration/hf_train.py (a tiny BERT
built from a config; nothing is downloaded), with the agent and without it, and a third run that loads the
trained model back with from_pretrained, from its folder and by a hub id served from a local cache."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import attr, records_of_type, relations, run_script

pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("datasets")

SECRET = "hf_secret_token_value"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
VOLATILE = ("_runtime", "_per_second", "model_preparation_time")  # wall-clock values differ between runs


def offline(tmp: Path) -> dict[str, str]:
    return {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp / "hf_home"),
            "HF_HUB_CACHE": str(tmp / "hub"), "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def train(tmp: Path, how: str, *args: str):
    work = tmp / "work"
    work.mkdir(parents=True)
    run = run_script("hf_train.py", "--log-history", "history.json", *args, root=str(tmp / "prov"), how=how,
                     cwd=str(work), env=offline(tmp), timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    return run, work


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run, work = train(tmp_path_factory.mktemp("agent"), "launcher")
    return run, run.document(), work


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return train(tmp_path_factory.mktemp("plain"), "plain")[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def series(run, document: dict, name: str) -> list[tuple[int, float]]:
    (record,) = [r for r in records_of_type(document, "entity", "prov4ml:MetricSeries").values()
                 if attr(r, "name") == name]
    with open(os.path.join(run.folder, attr(record, "path")), newline="") as handle:
        return [(int(row["step"]), float(row["value"])) for row in csv.DictReader(handle)]


def history(work: Path) -> list[dict]:
    return json.loads((work / "history.json").read_text())


def test_epochs_evaluations_and_steps_are_the_trainers_once(trained):
    run, document, work = trained
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    evaluations = records_of_type(document, "activity", "prov4ml:Evaluation")
    assert [attr(e, "trainerEpoch") for e in epochs.values()] == [0, 1]
    assert all(attr(e, "trainer") == "transformers" and attr(e, "complete") for e in epochs.values())
    assert [attr(e, "steps") for e in epochs.values()] == [6, 6]
    assert [attr(e, "stage") for e in evaluations.values()] == ["evaluate", "evaluate", "predict"]
    predicted = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("predict "))[8:])
    assert attr(list(evaluations.values())[2], "test_loss.last") == pytest.approx(predicted["test_loss"])
    assert attr(list(evaluations.values())[2], "test_accuracy.last") == predicted["test_accuracy"]
    assert all(attr(e, "trainer") == "transformers" for e in evaluations.values())
    assert attr(document["activity"]["run:run"], "stepsTotal") == 12
    (optimizer,) = records_of_type(document, "entity", "prov4ml:Optimizer").values()
    assert attr(optimizer, "steps") == 12 and attr(optimizer, "class") == "AdamW"
    for phase in list(epochs) + list(evaluations):  # each phase used the DataLoader the Trainer iterated
        used = {r["prov:entity"] for r in relations(document, "used", activity=phase)}
        (loader,) = [entity for entity in map(document["entity"].get, used)
                     if attr(entity, "prov:type") == "prov4ml:DataLoader"]
        # the Trainer's loaders order their samples through their batch sampler's own sampler
        assert attr(loader, "batchSize") == 8 and attr(loader, "shuffle") is (phase in epochs)


def test_trainer_arguments_model_config_and_datasets(trained):
    run, document, work = trained
    (trainer,) = records_of_type(document, "entity", "prov4ml:Trainer").values()
    assert attr(trainer, "class") == "ScoredTrainer" and attr(trainer, "library") == "transformers"
    params = document["entity"]
    assert attr(params["run:param/transformers.TrainingArguments/learning_rate"], "prov:value") == 0.005
    assert attr(params["run:param/transformers.TrainingArguments/hub_token"], "prov:value") == "<redacted>"
    assert SECRET not in Path(run.folder, "prov.json").read_text()
    model = params[attr(trainer, "model")]
    assert attr(model, "configClass") == "BertConfig" and attr(model, "config.hidden_size") == 16
    assert attr(model, "class") == "BertForSequenceClassification"
    train_set = params[attr(trainer, "trainDataset")]
    assert attr(train_set, "split") == "train" and attr(train_set, "rows") == 48
    assert "input_ids" in attr(train_set, "features") and len(attr(train_set, "fingerprint")) == 16
    (source,) = relations(document, "wasDerivedFrom", generatedEntity=attr(trainer, "trainDataset"))
    assert attr(params[source["prov:usedEntity"]], "prov:type") == "prov4ml:DataFiles"
    assert attr(trainer, "optimizers") in records_of_type(document, "entity", "prov4ml:Optimizer")
    assert attr(trainer, "schedulers") in records_of_type(document, "entity", "prov4ml:LRScheduler")
    # the Trainer schedules accelerate's wrapper of its optimizer: the scheduler names the optimizer inside
    assert attr(params[attr(trainer, "schedulers")], "optimizer") == attr(trainer, "optimizers")


def test_every_logged_value_is_one_series_row_at_its_step(trained):
    run, document, work = trained
    logged = history(work)
    for name in ("loss", "grad_norm", "learning_rate", "eval_loss", "eval_accuracy", "train_loss"):
        assert series(run, document, name) == [(row["step"], row[name]) for row in logged if name in row], name
    # the Trainer schedules accelerate's wrapper of its optimizer: the rate each step used, from the first step
    # (0.0 in warm-up; the rate the optimizer was built with is no row), as the Trainer logs it
    rates = series(run, document, "optimizer0.group0.lr")
    assert rates[0] == (1, 0.0) and len({step for step, _ in rates}) == len(rates)
    in_effect = {step: [value for at, value in rates if at <= step][-1] for step in range(1, 13)}
    assert [(row["step"], row["learning_rate"]) for row in logged if "learning_rate" in row] \
        == [(step, in_effect[step]) for step in range(2, 13, 2)]


def test_checkpoint_folders_file_by_file_generated_by_their_epoch(trained):
    run, document, work = trained
    folders = records_of_type(document, "entity", "prov4ml:Checkpoint")
    by_path = {attr(r, "path"): ident for ident, r in folders.items()}
    state = json.loads((work / "hf_out/checkpoints/checkpoint-12/trainer_state.json").read_text())
    for epoch, step in enumerate((6, 12)):
        folder = work / f"hf_out/checkpoints/checkpoint-{step}"
        ident = by_path[str(folder)]
        (generation,) = relations(document, "wasGeneratedBy", entity=ident)
        assert generation["prov:activity"] == f"run:epoch/{epoch}"
        members = {r["prov:entity"] for r in relations(document, "hadMember", collection=ident)}
        assert members == {"sha256:" + sha256(path) for path in folder.iterdir()}
        best = os.path.basename(state["best_model_checkpoint"]) == folder.name
        assert attr(folders[ident], "best") is (True if best else None)
    generated = [r["prov:entity"] for r in document["wasGeneratedBy"].values()]
    assert len(generated) == len(set(generated))  # torch.save inside the folders is not recorded again
    final = "sha256:" + sha256(work / "hf_out/final/model.safetensors")  # saved after train: torch.checkpoint's
    assert final in document["entity"]


def test_values_logged_once_an_epoch_summarise_their_epoch(tmp_path):
    """With ``logging_strategy="epoch"`` the Trainer logs an epoch's loss after its epoch-end hook and before
    it evaluates: the loss is the epoch's; the evaluation's values are not."""
    run, work = train(tmp_path, "launcher", "--logging-strategy", "epoch")
    document = run.document()
    logged = [row["loss"] for row in history(work) if "loss" in row]
    epochs = list(records_of_type(document, "activity", "prov4ml:Epoch").values())
    assert [(attr(e, "loss.count"), attr(e, "loss.last")) for e in epochs] == [(1, loss) for loss in logged]
    assert not any(attr(e, "eval_loss.count") for e in epochs)


def test_a_resumed_training_used_the_checkpoint_folder_it_resumed_from(trained, tmp_path):
    """The folder as a used collection named on the Trainer entity, its files by content: the same entities
    the first run generated."""
    _, first, work = trained
    folder = work / "hf_out/checkpoints/checkpoint-6"
    run, _ = train(tmp_path, "launcher", "--resume", str(folder), "--epochs", "2.5")
    document = run.document()
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    assert [attr(e, "complete") for e in epochs.values()] == [True, False]  # stopped halfway through the third
    (trainer,) = records_of_type(document, "entity", "prov4ml:Trainer").values()
    resumed = document["entity"][attr(trainer, "resumedFrom")]
    assert attr(resumed, "path") == str(folder) and attr(resumed, "prov:type") == "prov4ml:Checkpoint"
    assert relations(document, "used", activity="run:run", entity=attr(trainer, "resumedFrom"))
    members = {r["prov:entity"] for r in relations(document, "hadMember", collection=attr(trainer, "resumedFrom"))}
    assert members == {"sha256:" + sha256(path) for path in folder.iterdir()}
    assert members <= set(first["entity"])  # the files the first run wrote


def test_a_plain_loop_over_a_hugging_face_dataset_names_its_content(tmp_path):
    """The fingerprint, features and cache files of a ``datasets.Dataset``, with no transformers in the job."""
    run = run_script("datasets_loop.py", str(tmp_path), root=str(tmp_path / "runs"), env=offline(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    printed = json.loads(run.stdout.splitlines()[-1])
    assert printed["transformers imported"] is False
    document = run.document()
    (rows,) = [d for d in records_of_type(document, "entity", "prov4ml:Dataset").values() if attr(d, "fingerprint")]
    assert attr(rows, "fingerprint") == printed["fingerprint"] and attr(rows, "rows") == 16
    (source,) = relations(document, "wasDerivedFrom", generatedEntity=next(
        ident for ident, record in document["entity"].items() if record is rows))
    assert attr(document["entity"][source["prov:usedEntity"]], "prov:type") == "prov4ml:DataFiles"
    corpus = f"sha256:{hashlib.sha256((tmp_path / 'rows.jsonl').read_bytes()).hexdigest()}"  # the source file
    assert attr(document["entity"][corpus], "prov:type") == "prov4ml:DataFile"
    (use,) = relations(document, "used", entity=corpus)
    assert attr(use, "path") == str(tmp_path / "rows.jsonl")


def test_the_agent_changes_no_logged_metric_nor_weight(trained, plain):
    run, document, work = trained

    def stable(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if not k.endswith(VOLATILE)} for row in rows]

    assert stable(history(work)) == stable(history(plain))
    assert sha256(work / "hf_out/final/model.safetensors") == sha256(plain / "hf_out/final/model.safetensors")


def test_from_pretrained_folder_files_and_hub_revision(trained, tmp_path):
    run, document, work = trained
    snapshot = tmp_path / f"hub/models--tiny-org--tiny-bert/snapshots/{COMMIT}"
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(work / "hf_out/final" / name, snapshot / name)
    (tmp_path / "hub/models--tiny-org--tiny-bert/refs").mkdir()
    (tmp_path / "hub/models--tiny-org--tiny-bert/refs/main").write_text(COMMIT)
    loaded, _ = train(tmp_path, "launcher", "--init-from", str(work / "hf_out/final"),
                      "--reference", "tiny-org/tiny-bert", "--evaluate-only")
    second = loaded.document()
    (local_id, local), (hub_id, hub) = records_of_type(second, "entity", "prov4ml:Pretrained").items()
    assert attr(local, "path") == str(work / "hf_out/final")
    files = {r["prov:entity"] for r in relations(second, "hadMember", collection=local_id)}
    assert files == {"sha256:" + sha256(p) for p in (work / "hf_out/final").iterdir()}
    assert files <= {r["prov:entity"] for r in relations(second, "used", activity="run:run")}
    assert "sha256:" + sha256(work / "hf_out/final/model.safetensors") in document["entity"]  # run 1 made it
    assert (attr(hub, "hubId"), attr(hub, "revision"), attr(hub, "commit")) == ("tiny-org/tiny-bert", "main", COMMIT)
    assert len(relations(second, "wasDerivedFrom", usedEntity=hub_id)) == 1
    assert not records_of_type(second, "activity", "prov4ml:Epoch")
    (evaluation,) = records_of_type(second, "activity", "prov4ml:Evaluation").values()
    assert attr(evaluation, "trainer") == "transformers"
    assert len(series(loaded, second, "eval_loss")) == 1  # the Trainer's, not one per batch from torch.loss


def test_arguments_read_from_a_json_file_are_hyperparameters_and_the_file_an_input(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"hidden_size": 64, "dataset": "squad", "api_token": "tok-Zr41qP"}))
    run = run_script("hf_arguments.py", str(config), root=str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    params = {attr(record, "name"): attr(record, "prov:value") for ident, record in document["entity"].items()
              if ident.startswith("run:param/HfArgumentParser/")}
    assert params == {**printed, "api_token": "<redacted>"} and printed["hidden_size"] == 64
    (used,) = [r for r in relations(document, "used", activity="run:run") if attr(r, "path") == str(config)]
    assert used["prov:entity"] == "sha256:" + sha256(config)
    assert attr(document["entity"][used["prov:entity"]], "prov:type") == "prov4ml:ConfigFile"
