"""Parameter groups built as YOLOv5 builds them (no prov4ml-auto call): the optimizer made with the biases and
norm weights, the other weights added after with ``add_param_group`` and their own weight decay, a warm-up
``LambdaLR`` over both; and a layer unfrozen half-way, added as a third group with a lower rate.

The last stdout line is JSON: for each group, the (step, learning rate) of every step it took part in."""

import json

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
late = nn.Linear(1, 1)
decayed = [module.weight for module in model if isinstance(module, nn.Linear)]
plain = [p for p in model.parameters() if all(p is not w for w in decayed)]
optimizer = torch.optim.SGD(plain, lr=0.02, momentum=0.9)
optimizer.add_param_group({"params": decayed, "weight_decay": 5e-4})
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 4))
used: list[list] = [[], [], []]
for step in range(1, 9):
    if step == 5:
        optimizer.add_param_group({"params": late.parameters(), "lr": 0.001})
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    optimizer.zero_grad()
    nn.functional.mse_loss(late(model(x)), y).backward()
    for number, group in enumerate(optimizer.param_groups):
        used[number].append([step, group["lr"]])
    optimizer.step()
    if step < 5:
        scheduler.step()
print(json.dumps(used))
