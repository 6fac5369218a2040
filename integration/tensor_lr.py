"""A learning rate held in a tensor (``Adam(lr=torch.tensor(0.01))``, as compiled and capturable optimizers
want it), which StepLR changes in place, stepped every batch, and which the script halves by hand in place
after the fourth step (no prov4ml-auto call).

The last stdout line is JSON: the learning rate each step used.
"""

import json

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
used = []
for step in range(7):
    loss = model(torch.randn(8, 4)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    used.append(optimizer.param_groups[0]["lr"].item())
    optimizer.step()
    scheduler.step()
    if step == 3:
        optimizer.param_groups[0]["lr"].mul_(0.5)
print(json.dumps(used))
