"""PyTorch Lightning under the agent: real ``Trainer.fit()`` runs of integration/lightning_train.py through
lightning.pytorch and pytorch_lightning (there with ddp_spawn), with the agent and without it, and Lightning's
own SLURM requeue and SIGTERM handling with the agent in the process."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from helpers import attr, load_valid, records_of_type, relations, run_script

pytest.importorskip("lightning")

SLURM = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0",
         "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}


def fit(tmp: Path, how: str, *args: str, env: dict[str, str] | None = None):
    work = tmp / "work"
    work.mkdir(parents=True)
    run = run_script("lightning_train.py", *args, root=str(tmp / "prov"), how=how, cwd=str(work), env=env,
                     timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    return run, work


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    run, work = fit(tmp_path_factory.mktemp("agent"), "launcher", "--test")
    return run, run.document(), work


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def logged(work: Path) -> list[dict]:
    with open(work / "lightning_out/csv/version_0/metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def lightning_rows(work: Path, column: str) -> list[tuple[int, float]]:
    return [(int(row["step"]), float(row[column])) for row in logged(work) if row[column]]


def series(run, document: dict, name: str) -> list[tuple[int, float]]:
    (record,) = [r for r in records_of_type(document, "entity", "prov4ml:MetricSeries").values()
                 if attr(r, "name") == name]
    with open(os.path.join(run.folder, attr(record, "path")), newline="") as handle:
        return [(int(row["step"]), float(row["value"])) for row in csv.DictReader(handle)]


def phase_loaders(document: dict, phase: str) -> set[str]:
    return {r["prov:entity"] for r in relations(document, "used", activity=phase)
            if attr(document["entity"][r["prov:entity"]], "prov:type") == "prov4ml:DataLoader"}


def test_epochs_validations_and_steps_are_the_trainers_once(fitted):
    run, document, work = fitted
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    evaluations = records_of_type(document, "activity", "prov4ml:Evaluation")
    assert [(attr(e, "trainer"), attr(e, "trainerEpoch"), attr(e, "steps"), attr(e, "complete"))
            for e in epochs.values()] == [("lightning", 0, 4, True), ("lightning", 1, 4, True)]
    assert [attr(e, "stage") for e in evaluations.values()] == ["sanity_check", "validate", "validate", "test"]
    # the values Lightning logs as a phase ends (after its on_*_epoch_end hooks) are the phase's
    assert [attr(e, "train_loss_epoch.last") for e in epochs.values()] == pytest.approx(
        [value for _, value in lightning_rows(work, "train_loss_epoch")], rel=1e-6)
    assert [attr(e, "val_loss.last") for e in list(evaluations.values())[1:3]] + [
        attr(list(evaluations.values())[3], "test_loss.last")] == pytest.approx(
        [value for column in ("val_loss", "test_loss") for _, value in lightning_rows(work, column)], rel=1e-6)
    assert attr(document["activity"]["run:run"], "stepsTotal") == 8
    (optimizer,) = records_of_type(document, "entity", "prov4ml:Optimizer").values()
    assert attr(optimizer, "steps") == 8
    (train_loader,) = {loader for epoch in epochs for loader in phase_loaders(document, epoch)}
    (val_loader,) = {loader for phase in evaluations for loader in phase_loaders(document, phase)}
    assert train_loader != val_loader and all(phase_loaders(document, phase) for phase in evaluations)
    names = {attr(r, "name") for r in records_of_type(document, "entity", "prov4ml:MetricSeries").values()}
    assert {"train_loss_step", "train_loss_epoch", "val_loss", "test_loss"} <= names
    assert not {"loss", "eval_loss"} & names


def test_hparams_configuration_optimizers_and_schedulers(fitted):
    run, document, work = fitted
    entities = document["entity"]

    def param(source: str, name: str):
        return attr(entities[f"run:param/{source}/{name}"], "prov:value")

    assert (param("lightning.hparams", "hidden"), param("lightning.hparams", "lr")) == (16, 0.05)
    assert [param("lightning.Trainer", name) for name in ("max_epochs", "precision", "accelerator", "num_devices",
                                                           "strategy", "accumulate_grad_batches")] == \
        [2, "32-true", "CPUAccelerator", 1, "SingleDeviceStrategy", 1]
    (trainer,) = records_of_type(document, "entity", "prov4ml:Trainer").values()
    # set by the Trainer long after torch's import: read again at the first training step
    assert attr(entities["run:environment"], "torchDeterministic") is True
    assert attr(entities[attr(trainer, "model")], "class").endswith("Regressor")
    assert attr(entities[attr(trainer, "optimizers")], "class") == "SGD"
    scheduler = entities[attr(trainer, "schedulers")]
    assert (attr(scheduler, "class"), attr(scheduler, "lightning.interval"),
            attr(scheduler, "lightning.frequency")) == ("StepLR", "epoch", 1)


def test_every_logged_value_is_one_series_row_at_its_step(fitted):
    run, document, work = fitted
    """What Lightning's loggers got is what the document has: every column of the CSV logger's file is a series
    of the same rows. Epoch-level values are Lightning's own reductions (validation: three batches of unequal
    size, averaged by weight), not the values given to self.log; nothing of the sanity check."""
    columns = [name for name in logged(work)[0] if name not in ("epoch", "step")]
    assert sorted(columns) == ["test_loss", "train_loss_epoch", "train_loss_step", "val_loss"]
    for column in columns:
        assert series(run, document, column) == lightning_rows(work, column), column
    assert len(lightning_rows(work, "val_loss")) == 2
    # the TensorBoard logger beside the CSV one wrote the same values through SummaryWriter: recorded once
    assert (work / "lightning_out/tb/version_0").is_dir()
    assert not [ident for ident in document["entity"] if "tensorboard" in ident]


def test_checkpoints_by_content_generated_by_their_epoch(fitted):
    run, document, work = fitted
    checkpoints = records_of_type(document, "entity", "prov4ml:Checkpoint")
    best = next(line for line in run.stdout.splitlines() if line.startswith("best ")).split(" ", 1)[1]
    for epoch, path in enumerate(sorted((work / "lightning_out/checkpoints").iterdir())):
        ident = "sha256:" + sha256(path)
        (generation,) = relations(document, "wasGeneratedBy", entity=ident)
        assert generation["prov:activity"] == f"run:epoch/{epoch}"
        assert attr(checkpoints[ident], "best") is (True if str(path) == best else None)
    # Lightning's torch.save into a buffer is not a checkpoint of its own; the script's save after the fit is
    # the run's, not the last epoch's
    assert len(checkpoints) == 3
    (final,) = relations(document, "wasGeneratedBy", entity="sha256:" + sha256(work / "lightning_out/final.pt"))
    assert final["prov:activity"] == "run:run"
    # trainer.test(ckpt_path="best") loads it through an open file (fsspec's): a use of that file
    (use,) = relations(document, "used", entity="sha256:" + sha256(Path(best)))
    assert use["prov:activity"] == "run:run"


def test_a_resumed_fit_used_the_checkpoint_it_resumed_from(fitted, tmp_path):
    _, _, work = fitted
    last = max((work / "lightning_out/checkpoints").iterdir())
    content = "sha256:" + sha256(last)
    run, _ = fit(tmp_path, "launcher", "--epochs", "3", "--resume", str(last))
    document = run.document()
    (use,) = relations(document, "used", entity=content)
    assert use["prov:activity"] == "run:run" and attr(use, "step") == 0
    # the optimizer, built before Lightning restored step 8, counts from there: the third epoch's steps used
    # the learning rate the checkpoint's scheduler state left (0.05 halved twice)
    assert series(run, document, "optimizer0.group0.lr") == [(9, 0.0125)]
    (epoch,) = records_of_type(document, "activity", "prov4ml:Epoch").values()
    assert (attr(epoch, "trainerEpoch"), attr(epoch, "optimizer0.group0.lr.first")) == (2, 0.0125)


def test_a_fit_resumed_mid_epoch_has_that_epochs_rest(tmp_path):
    """Lightning skips on_train_epoch_start for the epoch it resumes within: its steps still form an epoch."""
    _, first = fit(tmp_path / "first", "plain", "--epochs", "1", "--mid-epoch")
    mid = first / "lightning_out/mid/step=2.ckpt"  # halfway through the first epoch's 4 steps
    run, _ = fit(tmp_path / "resumed", "launcher", "--resume", str(mid))
    epochs = records_of_type(run.document(), "activity", "prov4ml:Epoch")
    assert [(attr(e, "trainerEpoch"), attr(e, "steps")) for e in epochs.values()] == [(0, 2), (1, 4)]


def test_a_second_trainer_counts_its_optimizers_steps_from_its_own_start(tmp_path):
    """A fresh Trainer's global step starts again from 0: its new optimizer's learning-rate rows are at that
    Trainer's steps, one at the first step of each epoch, whatever the first Trainer's optimizer reached."""
    run = run_script("lightning_two_stages.py", root=str(tmp_path / "prov"), cwd=str(tmp_path),
                     env={"PROV4ML_STRICT": "1"}, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = json.loads(run.stdout.splitlines()[-1])
    document = run.document()
    for number, stage in enumerate((first, second)):
        assert series(run, document, f"optimizer{number}.group0.lr") == [tuple(epoch) for epoch in stage]


def test_the_agent_changes_no_logged_metric(fitted, tmp_path):
    run, document, work = fitted
    plain = fit(tmp_path, "plain", "--test")[1]
    assert logged(work) == logged(plain)


def test_pytorch_lightning_package_with_ddp_spawn(tmp_path):
    """The other package, and a Trainer pickled (callback included) into the process that fits."""
    pytest.importorskip("pytorch_lightning")
    run, work = fit(tmp_path, "launcher", "--strategy", "ddp_spawn", env={"LIGHTNING_PACKAGE": "pytorch_lightning"})
    documents = [load_valid(path) for path in Path(run.folder).glob("*.json")]
    (fitted,) = [d for d in documents if records_of_type(d, "activity", "prov4ml:Epoch")]
    (trainer,) = records_of_type(fitted, "entity", "prov4ml:Trainer").values()
    assert attr(trainer, "module") == "pytorch_lightning.trainer.trainer"
    assert len(records_of_type(fitted, "activity", "prov4ml:Epoch")) == 2


def test_slurm_requeue_and_sigterm_stay_lightnings(tmp_path):
    """SIGUSR1 at step 3 (Lightning saves its HPC checkpoint and requeues), SIGTERM at step 5 (Lightning stops
    at the next step and exits): the same with the agent as without it, and recorded."""
    runs = {how: fit(tmp_path / how, how, "--signals", "--epochs", "4", env=SLURM) for how in ("launcher", "plain")}
    for run, work in runs.values():
        assert "Requeuing SLURM job 4242" in run.stderr and "Bypassing SIGTERM" in run.stderr
        assert (work / "hpc_ckpt_1.ckpt").is_file()
    run, work = runs["launcher"]
    document = run.document()
    hpc = document["entity"]["sha256:" + sha256(work / "hpc_ckpt_1.ckpt")]
    assert (attr(hpc, "step"), attr(hpc, "epoch")) == (3, 0)
    epochs = records_of_type(document, "activity", "prov4ml:Epoch")
    assert [attr(e, "complete") for e in epochs.values()] == [True, False]
