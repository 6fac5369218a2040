"""A learning rate set by hand before every step, as nanoGPT's loop does (warm-up then cosine decay, written
into each param group), and a momentum set by hand once before the first step (no prov4ml-auto call).

The last stdout line is JSON: the learning rate and momentum each step used.
"""

import json
import math

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
optimizer.param_groups[0]["momentum"] = 0.5
warmup, total, peak = 3, 10, 0.01
used = []
for step in range(total):
    lr = peak * (step + 1) / warmup if step < warmup else \
        peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
    for group in optimizer.param_groups:
        group["lr"] = lr
    x = torch.randn(8, 4)
    loss = model(x).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    used.append([optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]])
    optimizer.step()
print(json.dumps(used))
