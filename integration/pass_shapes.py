"""Passes as scripts often begin them: a peek at one batch to size a lazy layer; tqdm.auto's bars (which call
iter() on the loader once more, for async use); the PyTorch tutorial's train/val loop, which switches grad
inside each phase's batch loop with torch.set_grad_enabled; and a loop that validates every few steps from
its step 0, before the pass's first training step; that loop runs on one torch thread, set late. The last
stdout line is JSON: what the script ran."""

import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

torch.manual_seed(0)
loaders = {
    "train": DataLoader(TensorDataset(torch.randn(24, 6), torch.randn(24, 1)), batch_size=8, shuffle=True),
    "val": DataLoader(TensorDataset(torch.randn(16, 6), torch.randn(16, 1)), batch_size=8),
}
features, _ = next(iter(loaders["train"]))
model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 1))
model(features)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
criterion = nn.MSELoss()
val_means = []


def validate():
    model.eval()
    with torch.no_grad():
        losses = [criterion(model(x), y).item() for x, y in loaders["val"]]
    model.train()
    val_means.append(sum(losses) / len(losses))


for epoch in range(2):
    for phase in ("train", "val"):
        model.train(phase == "train")
        losses = []
        for inputs, targets in tqdm(loaders[phase], desc=f"{phase} {epoch}", disable=True):
            optimizer.zero_grad()
            with torch.set_grad_enabled(phase == "train"):
                loss = criterion(model(inputs), targets)
                if phase == "train":
                    loss.backward()
                    optimizer.step()
            losses.append(loss.item())
        if phase == "val":
            val_means.append(sum(losses) / len(losses))

time.sleep(0.5)  # a while into the job, the collector has read torch's settings on its own thread
torch.set_num_threads(1)  # on this (the training) thread: in torch, a thread's own setting
step = 0
for epoch in range(2):
    for inputs, targets in loaders["train"]:
        if step % 3 == 0:
            validate()
        optimizer.zero_grad()
        criterion(model(inputs), targets).backward()
        optimizer.step()
        step += 1

print(json.dumps({"epochs": 4, "steps_per_epoch": 3, "val_means": val_means}))
