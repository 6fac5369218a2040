"""What a plain PyTorch loop does, captured with no help from the script (integration/train_plain.py)."""

from __future__ import annotations

import csv
import hashlib
import json
import os

import pytest
import torch

from helpers import attr, records_of_type, relations, run_script


def sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def read_series(folder: str, document: dict, name: str) -> list[dict]:
    entity = document["entity"][f"run:series/{name}"]
    path = os.path.join(folder, attr(entity, "path"))
    assert sha256(path) == attr(entity, "sha256")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """Two epochs with two DataLoader workers, checkpoints each epoch; then a run resuming from it."""
    work = tmp_path_factory.mktemp("work")
    run = run_script("train_plain.py", "--epochs", "2", "--workers", "2", root=str(work / "runs1"), cwd=str(work))
    assert run.returncode == 0, run.stderr
    return work, run, run.document()


def test_optimizer_groups_steps_and_scheduler(first):
    _, _, document = first
    (optimizer,) = records_of_type(document, "entity", "prov4ml:Optimizer").values()
    assert attr(optimizer, "class") == "SGD" and attr(optimizer, "groups") == 2
    assert attr(optimizer, "group0.lr") == 0.05 and attr(optimizer, "group1.lr") == 0.025
    assert attr(optimizer, "group0.momentum") == 0.9 and attr(optimizer, "group1.nesterov") is False
    assert attr(optimizer, "parameters") == 8 * 16 + 16 + 16 + 1 and attr(optimizer, "tensors") == 4
    assert attr(optimizer, "steps") == 12  # 192 samples / 32 per batch * 2 epochs
    (scheduler,) = records_of_type(document, "entity", "prov4ml:LRScheduler").values()
    assert attr(scheduler, "class") == "StepLR" and attr(scheduler, "gamma") == 0.5
    assert attr(scheduler, "optimizer") == "run:optimizer/0"
    assert attr(document["activity"]["run:run"], "stepsTotal") == 12


def test_learning_rates_actually_used(first):
    work, run, document = first
    rows = read_series(run.folder, document, "optimizer0.group0.lr")
    # the scheduler's step after the last epoch left 0.0125 for a 13th step that never came: no row
    assert [(int(r["step"]), float(r["value"])) for r in rows] == [(1, 0.05), (7, 0.025)]
    assert attr(document["activity"]["run:run"], "stepsTotal") == 12
    # each row in the epoch of the step that first used it, as that step's loss row is
    losses = {row["step"]: row["epoch"] for row in read_series(run.folder, document, "loss")}
    assert [row["epoch"] for row in rows] == [losses[row["step"]] for row in rows] == ["0", "1"]
    # the scheduler steps after each epoch's pass has ended: each epoch's steps used one value
    activities = document["activity"]
    for number, used in enumerate((0.05, 0.025)):
        epoch = activities[f"run:epoch/{number}"]
        assert [attr(epoch, f"optimizer0.group0.lr.{key}") for key in ("first", "last", "min", "max")] == [used] * 4
    assert not any(key.startswith("prov4ml:optimizer0") for key in activities["run:evaluation/0"])


def test_model_found_behind_parameter_groups(first):
    _, _, document = first
    (model,) = records_of_type(document, "entity", "prov4ml:Model").values()
    assert attr(model, "class") == "Sequential" and attr(model, "parameters") == 161
    assert attr(model, "trainableParameters") == 161 and len(attr(model, "fingerprint")) == 64


def test_data_loaders_datasets_and_files(first):
    work, _, document = first
    loaders = records_of_type(document, "entity", "prov4ml:DataLoader")
    train = next(l for l in loaders.values() if attr(l, "shuffle"))
    assert attr(train, "batchSize") == 32 and attr(train, "numWorkers") == 2 and attr(train, "dropLast") is False
    assert attr(train, "sampler") == "RandomSampler" and attr(train, "batches") == 6
    datasets = records_of_type(document, "entity", "prov4ml:Dataset")
    assert {attr(d, "class") for d in datasets.values()} == {"Subset", "CsvRegression"}
    (csv_dataset,) = [d for d in datasets.values() if attr(d, "class") == "CsvRegression"]
    assert attr(csv_dataset, "length") == 256
    data_id = "sha256:" + sha256(str(work / "data.csv"))
    assert attr(document["entity"][data_id], "prov:type") == "prov4ml:DataFile"
    # named relative to the job's working directory: recorded absolute, as the pass that read it saw it
    assert attr(document["entity"][data_id], "path") == str(work / "data.csv")
    assert relations(document, "wasDerivedFrom", usedEntity=data_id)
    tensors = records_of_type(document, "entity", "prov4ml:TensorData")
    assert {attr(t, "shape") for t in tensors.values()} == {"256x8", "256x1"}


def test_epochs_and_evaluations(first):
    _, run, document = first
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    evaluations = records_of_type(document, "activity", "prov4ml:Evaluation")
    assert len(epochs) == 2 and len(evaluations) == 2
    for epoch in epochs.values():
        assert attr(epoch, "complete") is True and attr(epoch, "batches") == 6 and attr(epoch, "samples") == 192
        assert attr(epoch, "steps") == 6 and attr(epoch, "loss.count") == 6
        assert attr(epoch, "loss.min") <= attr(epoch, "loss.mean") <= attr(epoch, "loss.max")
        assert relations(document, "wasStartedBy", activity=next(k for k, v in epochs.items() if v is epoch))
    for evaluation in evaluations.values():
        assert attr(evaluation, "samples") == 64 and attr(evaluation, "eval_loss.count") == 1
    printed = [float(line.split()[-1]) for line in run.stdout.splitlines()]
    recorded = [attr(evaluations[f"run:evaluation/{i}"], "eval_loss.first") for i in range(2)]
    assert recorded == pytest.approx(printed, abs=1e-6)


def test_loss_series_in_a_side_file(first):
    _, run, document = first
    rows = read_series(run.folder, document, "loss")
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert [r["epoch"] for r in rows] == ["0"] * 6 + ["1"] * 6
    for number in range(2):  # each epoch summarises exactly its own rows (aggregates are fed in batches)
        values = [float(r["value"]) for r in rows if r["epoch"] == str(number)]
        epoch = document["activity"][f"run:epoch/{number}"]
        assert (attr(epoch, "loss.first"), attr(epoch, "loss.last")) == (values[0], values[-1])
        assert (attr(epoch, "loss.min"), attr(epoch, "loss.max")) == (min(values), max(values))
        assert attr(epoch, "loss.mean") == pytest.approx(sum(values) / len(values), rel=1e-12)


def test_checkpoints_by_content_generated_by_their_epoch(first):
    work, _, document = first
    for epoch in (0, 1):
        ident = "sha256:" + sha256(str(work / "checkpoints" / f"epoch{epoch}.pt"))
        checkpoint = document["entity"][ident]
        assert attr(checkpoint, "prov:type") == "prov4ml:Checkpoint" and attr(checkpoint, "epoch") == epoch
        assert attr(checkpoint, "step") == 6 * (epoch + 1) and attr(checkpoint, "size") > 0
        (generation,) = relations(document, "wasGeneratedBy", entity=ident)
        assert generation["prov:activity"] == f"run:epoch/{epoch}"
        end = document["activity"][f"run:epoch/{epoch}"]["prov:endTime"]
        assert generation["prov:time"] <= end


def test_resume_links_the_runs_by_checkpoint_hash(first):
    work, _, first_document = first
    checkpoint = str(work / "checkpoints" / "epoch1.pt")
    ident = "sha256:" + sha256(checkpoint)
    run = run_script("train_plain.py", "--epochs", "1", "--resume", checkpoint, "--out", "resumed",
                     root=str(work / "runs2"), cwd=str(work))
    assert run.returncode == 0, run.stderr
    document = run.document()
    assert ident in first_document["entity"] and ident in document["entity"]
    assert relations(document, "used", activity="run:run", entity=ident)
    (optimizer,) = records_of_type(document, "entity", "prov4ml:Optimizer").values()
    assert attr(optimizer, "stateLoaded") is True
    assert attr(document["activity"]["run:epoch/0"], "prov4ml:index") == 0


def test_outcome_is_bit_for_bit_identical(tmp_path):
    weights = {}
    for how in ("plain", "launcher"):
        work = tmp_path / how
        work.mkdir()
        run = run_script("train_plain.py", "--epochs", "2", "--workers", "2", "--save-weights", "w.pt",
                         root=str(work / "runs"), how=how, cwd=str(work))
        assert run.returncode == 0, run.stderr
        weights[how] = (torch.load(str(work / "w.pt")), run.stdout)
    plain, recorded = weights["plain"], weights["launcher"]
    assert plain[1] == recorded[1]
    assert plain[0].keys() == recorded[0].keys()
    assert all(torch.equal(plain[0][key], recorded[0][key]) for key in plain[0])


def test_tensorboard_scalars_and_safetensors(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("safetensors")
    run = run_script("tensorboard_and_safetensors.py", str(tmp_path), root=str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    document = run.document()
    rows = read_series(run.folder, document, "tensorboard/train/loss")
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4]
    given_as_tensor = read_series(run.folder, document, "tensorboard/train/loss_tensor")
    assert [(r["step"], r["value"]) for r in given_as_tensor] == [(r["step"], r["value"]) for r in rows]
    assert "run:series/tensorboard/lrs/group0" in document["entity"]
    assert attr(document["entity"]["run:param/tensorboard/lr"], "prov:value") == 0.1
    ident = "sha256:" + sha256(str(tmp_path / "weights.safetensors"))
    assert attr(document["entity"][ident], "api") == "safetensors"
    assert relations(document, "wasGeneratedBy", entity=ident)


def test_torch_compile_traces_past_the_hooks(tmp_path):
    """torch.compile traces the wrapped loss functions with fake and functional tensors: they are not losses
    (reading one raises inside torch), the compiler's graphs and results stay the same, and the training
    losses still come from backward. The model is the compiled one (the optimizer is built from it), with
    the compiler's wrapper named beside it."""
    outputs = {}
    for how in ("plain", "launcher"):
        run = run_script("compiled_train.py", root=str(tmp_path / how), how=how, timeout=300)
        assert run.returncode == 0, run.stderr
        outputs[how] = run
    assert outputs["launcher"].stdout == outputs["plain"].stdout
    assert "agent errors" not in outputs["launcher"].stderr
    document = outputs["launcher"].document()
    assert attr(document["activity"]["run:run"], "agentErrors") == 0
    losses = read_series(outputs["launcher"].folder, document, "loss")
    assert [int(row["step"]) for row in losses] == list(range(1, 13))
    assert float(losses[-1]["value"]) == pytest.approx(float(outputs["plain"].stdout.split()[1]), rel=1e-6)
    models = [entity for entity in document["entity"].values() if attr(entity, "prov:type") == "prov4ml:Model"]
    assert [(attr(m, "class"), attr(m, "wrappers"), attr(m, "parameters")) for m in models] == [
        ("Classifier", "OptimizedModule", 16 * 32 + 32 + 32 * 4 + 4)]


def test_a_learning_rate_set_by_hand_before_each_step_has_only_the_values_steps_used(tmp_path):
    """nanoGPT writes each step's learning rate into the param groups before the step: the value the optimizer
    was built with, which no step used, is no row; nor is a momentum replaced before the first step."""
    run = run_script("hand_set_lr.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    used = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    rows = read_series(run.folder, document, "optimizer0.group0.lr")
    rates = [None] + [lr for lr, _ in used]  # rates[step]: what that step used; a row at each change
    expected = [[step, rates[step]] for step in range(1, len(rates)) if rates[step] != rates[step - 1]]
    assert [[int(row["step"]), float(row["value"])] for row in rows] == expected
    assert attr(document["entity"]["run:series/optimizer0.group0.lr"], "value.count") == len(expected)
    assert "run:series/optimizer0.group0.momentum" not in document["entity"]  # 0.5 from the first step on


def test_a_learning_rate_held_in_a_tensor_is_read_as_schedulers_change_it(tmp_path):
    """``lr=torch.tensor(0.01)``: the optimizer entity has its value, the scheduler's base rate is a number, and
    the series has a row at each change StepLR, or the script by hand, makes in place (the value each step
    used, not the one the collector would read later from the same tensor)."""
    run = run_script("tensor_lr.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    used = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    assert attr(document["entity"]["run:optimizer/0"], "group0.lr") == pytest.approx(0.01)
    assert float(attr(document["entity"]["run:scheduler/0"], "base_lrs")) == pytest.approx(0.01)
    rows = read_series(run.folder, document, "optimizer0.group0.lr")
    expected = [[step, used[step - 1]] for step in range(1, len(used) + 1)
                if step == 1 or used[step - 1] != used[step - 2]]
    assert [[int(row["step"]), float(row["value"])] for row in rows] == expected


def test_checkpoints_saved_and_loaded_through_open_files_are_the_files_they_name(tmp_path):
    """``with open(path, "wb") as f: torch.save(model, f)``: hashed and named by the file's absolute path, as a
    save to a path is, so the load of the best one through an open file uses the entity its epoch generated; a
    save to a buffer is a stream, unhashed. A tensor torch.load returns, or torch.save writes, is data, not a
    checkpoint."""
    torch.save(torch.randn(32, 4), tmp_path / "features.pt")
    run = run_script("handle_saves.py", root=str(tmp_path / "runs"), cwd=str(tmp_path), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    saved_at = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    final = f"sha256:{sha256(str(tmp_path / 'model.pt'))}"
    assert attr(document["entity"][final], "path") == str(tmp_path / "model.pt")
    (generation,) = relations(document, "wasGeneratedBy", entity=final)
    assert generation["prov:activity"] == f"run:epoch/{saved_at[-1]}"
    assert relations(document, "used", entity=final)
    checkpoints = records_of_type(document, "entity", "prov4ml:Checkpoint")
    assert [attr(record, "path") for ident, record in checkpoints.items() if not ident.startswith("run:stream/")] \
        == [str(tmp_path / "model.pt")] * len(saved_at)
    (stream,) = [record for ident, record in checkpoints.items() if ident.startswith("run:stream/")]
    assert attr(stream, "stream") == "BytesIO" and attr(stream, "hashStatus") == "not a file path"
    features = f"sha256:{sha256(str(tmp_path / 'features.pt'))}"
    assert attr(document["entity"][features], "prov:type") == "prov4ml:DataFile"
    predictions = f"sha256:{sha256(str(tmp_path / 'predictions.pt'))}"
    assert attr(document["entity"][predictions], "prov:type") == "prov4ml:DataFile"
    assert relations(document, "wasGeneratedBy", entity=predictions)
    assert attr(document["entity"]["run:optimizer/0"], "module") == "torch.optim.sgd"


def test_a_checkpoint_saved_again_soon_has_every_version_hashed(tmp_path):
    """A save wakes the collector at once: each version of a file rewritten every 80 ms is hashed before the
    next replaces it."""
    run = run_script("overwritten_checkpoint.py", root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    versions = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    assert all(f"sha256:{version}" in document["entity"] for version in versions)
    assert not any(ident.startswith("run:file/") for ident in document["entity"])


def test_checkpoints_moved_into_place_and_copied_are_named_where_they_lie(tmp_path):
    """Saved as a temporary file, then os.replace'd (or pathlib-replaced) into place, and the best copied
    with shutil.copyfile: each version is hashed, named by its final path, generated by its epoch; the copy
    is listed on its entity, and a second run resuming from the copy uses that same entity (named first by an
    argument, then loaded: one use, a checkpoint), and the configuration file its argument names."""
    run = run_script("atomic_checkpoints.py", root=str(tmp_path / "runs"), cwd=str(tmp_path),
                     env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    assert not any(ident.startswith("run:file/") for ident in document["entity"])
    for epoch, version in enumerate(facts["versions"]):
        entity = document["entity"][f"sha256:{version}"]
        assert attr(entity, "path") == str(tmp_path / "checkpoint.pth")
        assert attr(entity, "savedAs") == str(tmp_path / ("checkpoint.pth.tmp" if epoch < 2 else
                                                           "checkpoint.pth.partial"))
        (generation,) = relations(document, "wasGeneratedBy", entity=f"sha256:{version}")
        assert generation["prov:activity"] == f"run:epoch/{epoch}"
    assert str(tmp_path / "model_best.pth") in attr(document["entity"][f"sha256:{facts['best']}"], "copiedTo")
    final = document["entity"][f"sha256:{facts['final']}"]  # moved on before or after it was hashed
    assert attr(final, "path") == str(tmp_path / "final.last.pt")
    assert attr(final, "savedAs") == str(tmp_path / "final.tmp")
    (tmp_path / "settings.json").write_text('{"lr": 0.05}')
    resumed = run_script("atomic_checkpoints.py", "--resume", "model_best.pth", "--config", "settings.json",
                         root=str(tmp_path / "resumed"), cwd=str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    document = resumed.document()
    (use,) = relations(document, "used", entity=f"sha256:{facts['best']}")  # named by --resume, then loaded
    assert attr(use, "path") == str(tmp_path / "model_best.pth")
    assert attr(document["entity"][f"sha256:{facts['best']}"], "prov:type") == "prov4ml:Checkpoint"
    settings = f"sha256:{sha256(str(tmp_path / 'settings.json'))}"  # an argument naming a file: an input
    assert attr(document["entity"][settings], "prov:type") == "prov4ml:ConfigFile"
    assert relations(document, "used", entity=settings)


def test_a_module_level_script_has_its_constants_as_hyperparameters_and_not_its_loop_variables(tmp_path):
    """No parser: the settings are module-level names. Those the source binds once to a literal, and never
    changes, are recorded (source ``script``; a dict's items by ``dict.key``, a dataclass configuration's fields
    by ``object.field``, a nested one's by ``object.field.field``; a secret's name redacts its value),
    as the settings file and the options the command line gives override them; the loop's own variables are
    not. The settings file is an input of the run."""
    (tmp_path / "small.py").write_text("BATCH_SIZE = 8\n")
    run = run_script("module_level_loop.py", "small.py", "--EPOCHS=2", root=str(tmp_path / "runs"),
                     cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    document = run.document()
    params = {attr(rec, "name"): attr(rec, "prov:value") for ident, rec in document["entity"].items()
              if ident.startswith("run:param/script/")}
    assert params == {"BATCH_SIZE": 8, "EPOCHS": 2, "LEARNING_RATE": 0.003, "MILESTONES": "[1, 2]",
                      "DATA_DIR": "./data", "WANDB_API_KEY": "<redacted>", "AUTH_TOKENS": "<redacted>",
                      "creds": "<redacted>", "max_new_tokens": 64, "config.hidden": 32, "config.dropout": 0.1,
                      "config.act": "relu", "config.warmup steps": 5, "config.warmup_steps": 10,
                      "train_config.warmup": 0.1, "train_config.clip": pytest.approx(0.3),
                      "train_config.model.layers": 3, "train_config.model.norm": "layer", "train_config.device": "cpu"}
    settings = f"sha256:{sha256(str(tmp_path / 'small.py'))}"
    assert attr(document["entity"][settings], "prov:type") == "prov4ml:ConfigFile"
    (use,) = relations(document, "used", entity=settings)  # used from the start, though recorded later
    assert attr(use, "step") == 0 and use["prov:time"] <= document["activity"]["run:epoch/0"]["prov:startTime"]
    written = b"".join(open(os.path.join(folder, name), "rb").read()
                       for folder, _, names in os.walk(run.folder) for name in names)
    assert not [secret for secret in (b"abcdef0123456789abcdef", b"9c1185a5d3e2f4a6", b"s3cr3t-Passw0rd")
                if secret in written]


def test_groups_added_to_an_optimizer_are_described_and_have_their_rates(tmp_path):
    """add_param_group after construction (YOLOv5's decayed weights; a layer unfrozen half-way): the optimizer
    entity counts and describes every group, and each group's learning rate series starts where it joined."""
    run = run_script("param_groups.py", root=str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    used = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    optimizer = document["entity"]["run:optimizer/0"]
    assert attr(optimizer, "groups") == 3 and attr(optimizer, "tensors") == 8
    assert attr(optimizer, "group1.weight_decay") == 5e-4 and attr(optimizer, "group2.lr") == 0.001
    for number, rows_used in enumerate(used):
        rows = read_series(run.folder, document, f"optimizer0.group{number}.lr")
        changes = [pair for index, pair in enumerate(rows_used) if index == 0 or pair[1] != rows_used[index - 1][1]]
        assert [[int(row["step"]), float(row["value"])] for row in rows] == changes


def test_data_read_with_numpy_and_pandas_is_used_by_content_once_and_sample_files_are_bounded(tmp_path):
    """nanoGPT's memmap opened at every batch, a pandas CSV, np.load's statistics: each file one DataFile by
    its content, used once. A dataset loading a file per sample lists a folder's first 64 and counts the rest.
    A dataset that keeps its files in a reader object (timm's) is derived from them."""
    run = run_script("data_readers.py", root=str(tmp_path / "runs"), cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    for name, digest in facts["files"].items():
        entity = document["entity"][f"sha256:{digest}"]
        assert attr(entity, "prov:type") == "prov4ml:DataFile" and attr(entity, "path") == str(tmp_path / name)
        assert len(relations(document, "used", entity=f"sha256:{digest}")) == 1
    samples = [ident for ident, entity in document["entity"].items()
               if str(tmp_path / "samples") in (attr(entity, "path") or "") and ident.startswith("sha256:")
               and attr(entity, "prov:type") == "prov4ml:DataFile"]
    assert len(samples) == 64
    assert attr(document["activity"]["run:run"], "filesReadNotListed") == facts["samples"] - 64
    (held,) = [ident for ident, entity in records_of_type(document, "entity", "prov4ml:Dataset").items()
               if attr(entity, "class") == "ReaderDataset"]
    folders = {attr(document["entity"][relation["prov:usedEntity"]], "path")
               for relation in relations(document, "wasDerivedFrom", generatedEntity=held)}
    assert folders == {str(tmp_path / "images"), str(tmp_path / "images" / "cat")}  # its reader's root, samples


def test_a_torchscript_export_is_a_checkpoint_that_the_job_loading_it_uses(tmp_path):
    exported = run_script("torchscript_export.py", "export", root=str(tmp_path / "export"), cwd=str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    digests = json.loads(exported.stdout.splitlines()[-1])
    document = exported.document()
    for name, digest in digests.items():
        entity = document["entity"][f"sha256:{digest}"]
        assert attr(entity, "api") == "torch.jit.save" and attr(entity, "contents") == "TorchScript Sequential"
        assert attr(entity, "path") == str(tmp_path / name)
    loaded = run_script("torchscript_export.py", "load", root=str(tmp_path / "load"), cwd=str(tmp_path))
    assert loaded.returncode == 0, loaded.stderr
    used = {relation["prov:entity"] for relation in relations(loaded.document(), "used")}
    assert {f"sha256:{digest}" for digest in digests.values()} <= used


def test_an_optimizer_stepping_less_often_has_its_rows_at_the_runs_steps(tmp_path):
    """The run's step is the furthest any optimizer has gone: one that steps every other batch has each
    learning rate's row at the batch whose step used it first, not at its own count of steps."""
    run = run_script("two_optimizers.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    used = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    rows = read_series(run.folder, document, "optimizer1.group0.lr")
    assert [[int(row["step"]), float(row["value"])] for row in rows] == used
    assert attr(document["activity"]["run:run"], "stepsTotal") == 12


def test_every_loss_lands_in_its_epoch_at_the_step_it_feeds(tmp_path):
    """A loss travels inside the event of the optimizer step after it; one that no step takes (gradient
    accumulation's remainder, hand-written updates) travels alone, still in order: each row keeps its epoch,
    and its step is the step it feeds (a GAN's two losses share theirs; the network stepped second has a series
    of its own)."""
    run = run_script("loss_patterns.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    expected = printed["loss"]
    document = run.document()
    rows = read_series(run.folder, document, "loss")
    assert [[int(r["epoch"]), float(r["value"]), int(r["step"])] for r in rows] == expected
    rows = read_series(run.folder, document, "loss.optimizer1")  # the GAN's generator: its own series
    assert [[int(r["epoch"]), float(r["value"]), int(r["step"])] for r in rows] == printed["generator"]
    for number in range(4):
        epoch = document["activity"][f"run:epoch/{number}"]
        assert attr(epoch, "loss.count") == sum(1 for loss in expected if loss[0] == number)
        assert attr(epoch, "loss.optimizer1.count") == (len(printed["generator"]) if number == 3 else None)
        # the settings of the optimizers that stepped in the epoch: none while updates are hand-written
        stepped = {key.split(":")[1].split(".")[0] for key in epoch if key.endswith(".group0.lr.first")}
        assert stepped == [{"optimizer0"}, {"optimizer0"}, set(), {"optimizer1", "optimizer2"}][number]
    assert attr(document["activity"]["run:run"], "stepsTotal") == expected[-1][2]


def test_a_validation_iterator_opened_ahead_of_the_loop_is_no_epoch(tmp_path):
    """``val_iter = iter(val_loader)`` before the loop has drawn nothing at the first step and draws under
    no_grad after it: the epochs are the training loader's passes, and the validation iterator an evaluation."""
    run = run_script("open_ahead.py", root=str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    assert len(epochs) == printed["epochs"]
    assert all(attr(epoch, "steps") == attr(epoch, "batches") == printed["steps_per_epoch"]
               for epoch in epochs.values())
    (evaluation,) = records_of_type(document, "activity", "prov4ml:Evaluation").values()
    assert attr(evaluation, "loader") != attr(epochs["run:epoch/0"], "loader")


def test_every_pass_ends_even_when_abandoned(tmp_path):
    """zip() over two loaders drops the longer one's iterator unfinished; a break drops another; a check on one
    batch drops its iterator at once: every pass is an activity that ends, the unfinished ones incomplete, when
    its iterator is dropped (the steps after it are not its own)."""
    run = run_script("abandoned_passes.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    activities = run.document()["activity"]
    epochs = [activities[f"run:epoch/{number}"] for number in range(printed["training_passes"])]
    assert f"run:epoch/{printed['training_passes']}" not in activities
    assert all("prov:endTime" in epoch for epoch in epochs)
    # zip's two passes an epoch (the unlabelled one dropped unfinished), then the early stops
    assert [attr(epoch, "complete") for epoch in epochs] == [True, False, True, False, False, False, False, True]
    evaluations = [activities[f"run:evaluation/{number}"] for number in range(printed["evaluation_passes"])]
    assert all("prov:endTime" in evaluation for evaluation in evaluations)
    assert [attr(evaluation, "complete") for evaluation in evaluations] == [True, True, True, False]
    assert attr(evaluations[-1], "steps") == 0 and evaluations[-1]["prov:endTime"] <= epochs[-1]["prov:startTime"]


def test_a_pass_is_what_happens_in_it(tmp_path):
    """A peek at one batch and tqdm.auto's extra iter() are no passes; the tutorial's validation phase, grad
    switched off only inside it, is an evaluation; validation before a pass's first step leaves that pass
    an epoch. Every epoch has its steps and every evaluation its losses (pass_shapes.py)."""
    pytest.importorskip("tqdm")
    run = run_script("pass_shapes.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    activities = document["activity"]
    assert attr(document["entity"]["run:environment"], "torchThreads") == 1  # as the script set it
    epochs = sorted(key for key in activities if key.startswith("run:epoch/"))
    evaluations = sorted(key for key in activities if key.startswith("run:evaluation/"))
    assert len(epochs) == printed["epochs"] and len(evaluations) == len(printed["val_means"])
    for key in epochs:
        assert (attr(activities[key], "steps"), attr(activities[key], "complete")) == (printed["steps_per_epoch"], True)
    for number, mean in enumerate(printed["val_means"]):
        evaluation = activities[f"run:evaluation/{number}"]
        assert (attr(evaluation, "eval_loss.count"), attr(evaluation, "steps")) == (2, 0)
        assert attr(evaluation, "eval_loss.mean") == pytest.approx(mean, rel=1e-6)


def test_an_accelerate_loop_has_its_last_step_in_its_epoch(tmp_path):
    """Accelerate's loaders read a batch ahead: the pass under them ends before the last batch is trained on,
    and that step is still the epoch's (accelerate_loop.py)."""
    pytest.importorskip("accelerate")
    run = run_script("accelerate_loop.py", root=str(tmp_path / "runs"), env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    assert [(attr(e, "steps"), attr(e, "loss.count"), attr(e, "complete")) for e in epochs.values()] == [
        (printed["batches"], printed["batches"], True)] * printed["epochs"]
    evaluations = records_of_type(document, "activity", "prov4ml:Evaluation").values()
    assert [attr(e, "eval_loss.mean") for e in evaluations] == pytest.approx(printed["val_means"], rel=1e-6)
    loss_rows = read_series(run.folder, document, "loss")
    assert [row["epoch"] for row in loss_rows] == ["0"] * printed["batches"] + ["1"] * printed["batches"]


def test_an_accelerate_loop_accumulating_gradients_records_its_losses_undivided(tmp_path):
    """``accelerator.backward`` divides the loss by the accumulation steps before backpropagating it: the
    series holds the loss the script computed, and a step for every two batches."""
    pytest.importorskip("accelerate")
    run = run_script("accelerate_loop.py", "--accumulation", "2", root=str(tmp_path / "runs"),
                     env={"PROV4ML_STRICT": "1"})
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    assert [float(row["value"]) for row in read_series(run.folder, document, "loss")] == pytest.approx(
        printed["losses"], rel=1e-6)
    assert attr(document["activity"]["run:run"], "stepsTotal") == printed["batches"]  # 2 epochs, 1 step in 2


def test_a_scheduler_stepped_every_batch_gives_each_setting_its_rows(tmp_path):
    """Every change of a numeric setting (here the learning rate and the momentum, both moved every step by
    OneCycleLR) is a row at the first step that uses the new value. Values no step used are no rows: those at
    the optimizer's construction, which the scheduler's construction replaced, and those its last step left."""
    run = run_script("schedules.py", root=str(tmp_path / "runs"))
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    for column, setting in enumerate(("lr", "momentum")):
        values = [None] + [used[column] for used in printed["used"][:-1]]  # values[step]: what that step used
        expected = [[step, values[step]] for step in range(1, len(values)) if values[step] != values[step - 1]]
        assert printed["constructed"][column] != values[1] and printed["used"][-1][column] != values[-1]
        rows = read_series(run.folder, document, f"optimizer0.group0.{setting}")
        assert [[int(row["step"]), float(row["value"])] for row in rows] == expected
        assert len(expected) == 10  # OneCycleLR moved it for each of the 10 steps
        for number in range(2):  # each epoch summarises the values its own five steps used
            epoch = document["activity"][f"run:epoch/{number}"]
            used = [step[column] for step in printed["used"][5 * number:5 * number + 5]]
            summary = [attr(epoch, f"optimizer0.group0.{setting}.{key}") for key in ("first", "last", "min", "max")]
            assert summary == [used[0], used[-1], min(used), max(used)]
    schedulers = {attr(record, "class"): (ident, record)
                  for ident, record in records_of_type(document, "entity", "prov4ml:LRScheduler").items()}
    assert sorted(schedulers) == ["ConstantLR", "ExponentialLR", "LambdaLR", "OneCycleLR", "ReduceLROnPlateau",
                                  "SWALR", "SequentialLR"]
    # a function is named without its memory address, which would differ in every run
    assert attr(schedulers["LambdaLR"][1], "lr_lambdas") == "<function <lambda>>"
    swa = schedulers["SWALR"][1]  # torch.optim.swa_utils's
    assert (attr(swa, "swa_lr"), attr(swa, "anneal_strategy"), attr(swa, "anneal_epochs")) == (0.001, "cos", 10)
    one_cycle = schedulers["OneCycleLR"][1]  # its constructor's arguments, defaults included
    assert (attr(one_cycle, "max_lr"), attr(one_cycle, "total_steps"), attr(one_cycle, "pct_start")) == (0.1, 10, 0.3)
    plateau = schedulers["ReduceLROnPlateau"][1]
    assert (attr(plateau, "mode"), attr(plateau, "factor"), attr(plateau, "patience")) == ("min", 0.5, 2)
    assert attr(plateau, "optimizer") == "run:optimizer/1"
    sequence = schedulers["SequentialLR"][1]
    assert attr(sequence, "milestones") == "3"
    assert attr(sequence, "schedulers") == f"{schedulers['ConstantLR'][0]}, {schedulers['ExponentialLR'][0]}"
