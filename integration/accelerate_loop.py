"""A custom loop on Hugging Face Accelerate, as its no_trainer examples write one: prepare() the model,
optimizer and loaders, accelerator.backward(), an evaluation pass with no_grad after each epoch. Accelerate's
loaders read one batch ahead, so the loader under them ends its pass before the last batch is trained on.
``--accumulation N``: gradient accumulation through ``accelerator.accumulate``, whose backward divides the loss.
The last stdout line is JSON: the epochs, the batches in each, the mean validation loss of each epoch and the
training losses."""

import argparse
import json

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--accumulation", type=int, default=1)
args = parser.parse_args()
torch.manual_seed(0)
accelerator = Accelerator(cpu=True, gradient_accumulation_steps=args.accumulation)
train = DataLoader(TensorDataset(torch.randn(32, 5), torch.randn(32, 1)), batch_size=4, shuffle=True)
valid = DataLoader(TensorDataset(torch.randn(12, 5), torch.randn(12, 1)), batch_size=4)
model = nn.Linear(5, 1)
optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
model, optimizer, train, valid = accelerator.prepare(model, optimizer, train, valid)
val_means, train_losses = [], []
for epoch in range(2):
    model.train()
    for inputs, targets in train:
        with accelerator.accumulate(model):
            loss = nn.functional.mse_loss(model(inputs), targets)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
        train_losses.append(loss.item())
    model.eval()
    losses = []
    for inputs, targets in valid:
        with torch.no_grad():
            losses.append(nn.functional.mse_loss(model(inputs), targets).item())
    val_means.append(sum(losses) / len(losses))
print(json.dumps({"epochs": 2, "batches": len(train), "val_means": val_means, "losses": train_losses}))
