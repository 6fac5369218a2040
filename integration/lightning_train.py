"""A PyTorch Lightning script, written the way people write them (no prov4ml-auto calls).

A LightningModule with save_hyperparameters, train and validation values logged with self.log, SGD with a
StepLR scheduler from configure_optimizers; a ModelCheckpoint keeping every epoch's checkpoint and the best by
val_loss; a CSVLogger (what Lightning logged, to compare runs with and without the agent); the sanity check
Lightning runs before training. LIGHTNING_PACKAGE picks lightning.pytorch (default) or pytorch_lightning (at
import: ddp_spawn re-imports this module to unpickle the model). --test runs trainer.test after fit;
--strategy ddp_spawn pickles the Trainer into a spawned process; --signals sends the process SLURM's requeue
signal (SIGUSR1) at step 3 and SIGTERM at step 5, as a cluster would, for Lightning's own handlers.
"""

import argparse
import importlib
import os
import signal

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = importlib.import_module(os.environ.get("LIGHTNING_PACKAGE", "lightning.pytorch"))


class Regressor(pl.LightningModule):
    def __init__(self, hidden=16, lr=0.05, momentum=0.9, signals=False):
        super().__init__()
        self.save_hyperparameters(ignore=["signals"])
        self.signals = signals
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", nn.functional.mse_loss(self(x), y))

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.signals and self.global_step in (3, 5):
            os.kill(os.getpid(), signal.SIGUSR1 if self.global_step == 3 else signal.SIGTERM)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=self.hparams.momentum)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def data(seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(96, 8, generator=generator) * 2 - 1
    y = x @ torch.linspace(-1, 1, 8).unsqueeze(1)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=True, generator=generator)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=12)  # batches of 12, 12 and 8
    return train, val


def main():
    parser = argparse.ArgumentParser(description="tiny Lightning regression")
    parser.add_argument("--out", default="lightning_out")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--signals", action="store_true")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--mid-epoch", action="store_true", help="also keep a checkpoint at step 2, mid-epoch")
    args = parser.parse_args()

    loggers = importlib.import_module(pl.__name__ + ".loggers")
    callbacks = importlib.import_module(pl.__name__ + ".callbacks")
    if args.strategy == "ddp_spawn":  # file descriptors cannot carry tensors to a spawned process here
        torch.multiprocessing.set_sharing_strategy("file_system")
    pl.seed_everything(args.seed)
    train, val = data(args.seed)
    checkpoints = callbacks.ModelCheckpoint(dirpath=os.path.join(args.out, "checkpoints"), monitor="val_loss",
                                            save_top_k=-1, filename="{epoch}-{step}")
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, strategy=args.strategy,
                         log_every_n_steps=1, logger=[loggers.CSVLogger(args.out, name="csv", version=0),
                                                      loggers.TensorBoardLogger(args.out, name="tb", version=0)],
                         callbacks=[checkpoints] + ([callbacks.ModelCheckpoint(
                             dirpath=os.path.join(args.out, "mid"), every_n_train_steps=2, save_top_k=-1,
                             filename="{step}")] if args.mid_epoch else []),
                         enable_progress_bar=False, enable_model_summary=False,
                         deterministic=True)
    model = Regressor(signals=args.signals)
    trainer.fit(model, train, val, ckpt_path=args.resume)
    if args.test:
        trainer.test(model, val, ckpt_path="best")
    torch.save(model.state_dict(), os.path.join(args.out, "final.pt"))
    print("best", checkpoints.best_model_path)


if __name__ == "__main__":
    main()
