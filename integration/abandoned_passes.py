"""Passes left unfinished, as people leave them: zip() over a labelled and a longer unlabelled loader (the
unlabelled iterator is dropped unfinished every epoch), and early stops by ``break``, each followed by an
evaluation pass (whose iterator may get the id() of the dropped one: tests/test_patching.py makes sure of
that case); then a check on one batch by ``next(iter(loader))`` before a last epoch. The last stdout line is
JSON: how many passes the script began."""

import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
labelled = DataLoader(TensorDataset(torch.randn(16, 4), torch.randn(16, 1)), batch_size=4)
unlabelled = DataLoader(TensorDataset(torch.randn(32, 4)), batch_size=4)
validation = DataLoader(TensorDataset(torch.randn(8, 4), torch.randn(8, 1)), batch_size=4)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(2):
    for (x, y), (u,) in zip(labelled, unlabelled):
        loss = nn.functional.mse_loss(model(x), y) + 0.1 * model(u).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

for attempt in range(3):  # an early stop (one batch, then break), then an evaluation pass
    stopped = iter(labelled)
    x, y = next(stopped)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
    del stopped
    with torch.no_grad():
        for x, y in validation:
            nn.functional.mse_loss(model(x), y)
with torch.no_grad():  # a quick check on one batch, its iterator dropped at once, then one more epoch
    x, y = next(iter(validation))
    nn.functional.mse_loss(model(x), y)
for x, y in labelled:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
print(json.dumps({"training_passes": 8, "evaluation_passes": 4}))
