"""Two-stage fine-tuning in one process, as people write it with Lightning (no prov4ml-auto call): a first
Trainer fits the head alone, then a fresh Trainer fits the whole model with a new optimizer and a cosine
schedule. Each Trainer's global step starts again from 0.

The last stdout line is JSON: for each stage, the (global step of the epoch's first step, learning rate) of
every epoch.
"""

import json

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Classifier(pl.LightningModule):
    def __init__(self, lr, head_only, epochs):
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.rates = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.head(self.body(x)), y)

    def on_train_epoch_start(self):
        self.rates.append([self.trainer.global_step + 1, self.trainer.optimizers[0].param_groups[0]["lr"]])

    def configure_optimizers(self):
        parameters = self.head.parameters() if self.hparams.head_only else self.parameters()
        optimizer = torch.optim.Adam(parameters, lr=self.hparams.lr)
        return [optimizer], [torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.hparams.epochs)]


def fit(model, loader, epochs):
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, loader)
    return model.rates


torch.manual_seed(0)
x = torch.randn(64, 6)
loader = DataLoader(TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()), batch_size=16, shuffle=True)
first = fit(Classifier(lr=0.01, head_only=True, epochs=2), loader, 2)
second_model = Classifier(lr=0.001, head_only=False, epochs=3)
second = fit(second_model, loader, 3)
print(json.dumps([first, second]))
