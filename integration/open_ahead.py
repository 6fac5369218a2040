"""A validation iterator opened before the training loop and drawn from every other step under no_grad, as
step-based scripts do (no prov4ml-auto call). The last stdout line is JSON: epochs, and steps per epoch."""

import json

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
features = torch.randn(160, 5)
labels = (features[:, 0] > 0).long()
train_loader = DataLoader(TensorDataset(features, labels), batch_size=32)
val_loader = DataLoader(TensorDataset(features.repeat(2, 1), labels.repeat(2)), batch_size=20)
model = torch.nn.Linear(5, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
val_iter = iter(val_loader)
for epoch in range(2):
    for step, (inputs, targets) in enumerate(train_loader):
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 2 == 0:
            with torch.no_grad():
                val_inputs, val_targets = next(val_iter)
                F.cross_entropy(model(val_inputs), val_targets)
print(json.dumps({"epochs": 2, "steps_per_epoch": len(train_loader)}))
