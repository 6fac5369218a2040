"""A scheduler stepped every batch, as most transformer-style loops do (no prov4ml-auto call): OneCycleLR over
SGD with momentum, which moves both the learning rate and the momentum at every step. Then, on a second optimizer, the
schedulers whose constructors are not LRScheduler's (ReduceLROnPlateau, SequentialLR), never stepped.

The last stdout line is JSON: the optimizer's learning rate and momentum at its construction, then, for every
step, the values that step used, and then those the last scheduler step left for a step that never came.
"""

import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
loader = DataLoader(TensorDataset(torch.randn(40, 4), torch.randn(40, 1)), batch_size=8)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
group = optimizer.param_groups[0]
constructed = [group["lr"], group["momentum"]]
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
used = []
for epoch in range(2):
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        used.append([group["lr"], group["momentum"]])
        optimizer.step()
        scheduler.step()
left = [group["lr"], group["momentum"]]
# schedulers whose constructors never call LRScheduler's, on an optimizer of their own
other = torch.optim.SGD(model.parameters(), lr=0.01)
torch.optim.lr_scheduler.ReduceLROnPlateau(other, mode="min", factor=0.5, patience=2)
torch.optim.lr_scheduler.SequentialLR(other, [torch.optim.lr_scheduler.ConstantLR(other, factor=0.5, total_iters=3),
                                              torch.optim.lr_scheduler.ExponentialLR(other, gamma=0.9)], milestones=[3])
torch.optim.swa_utils.SWALR(other, swa_lr=0.001, anneal_strategy="cos")
torch.optim.lr_scheduler.LambdaLR(other, lambda step: 0.5 ** step)  # its setting is a function
print(json.dumps({"constructed": constructed, "used": used + [left]}))
