"""Checkpoints written and read through open files, as pytorch/examples' word language model does (``with
open(args.save, "wb") as f: torch.save(model, f)`` at each better validation loss, then the best one loaded
back the same way for the test), one saved to an in-memory buffer, and the predictions saved as a tensor (no
prov4ml-auto call). The validation inputs are features an earlier script saved with torch.save (features.pt,
in the working folder).

The last stdout line is JSON: the epochs at which the best model was saved.
"""

import io
import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
train = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=16, shuffle=True)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
valid_x, valid_y = torch.load("features.pt"), torch.randn(32, 1)
best, saved_at = None, []
for epoch in range(3):
    for x, y in train:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        valid = nn.functional.mse_loss(model(valid_x), valid_y).item()
    if best is None or valid < best:
        with open("model.pt", "wb") as handle:
            torch.save(model, handle)
        best = valid
        saved_at.append(epoch)
torch.save(model.state_dict(), io.BytesIO())
torch.save(model(valid_x).detach(), "predictions.pt")
with open("model.pt", "rb") as handle:
    model = torch.load(handle, weights_only=False)
print(json.dumps(saved_at))
