"""Two optimizers stepping at different rates (no prov4ml-auto call): the encoder's Adam at every batch, the
head's SGD at every other batch with a StepLR stepped after each of its own steps, as loops with a slower
part (a critic, a second head) are written.

The last stdout line is JSON: for each of the head's steps, the run's step (the batch) and the learning rate
it used.
"""

import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
loader = DataLoader(TensorDataset(torch.randn(48, 4), torch.randn(48, 1)), batch_size=4)
encoder, head = nn.Linear(4, 8), nn.Linear(8, 1)
fast = torch.optim.Adam(encoder.parameters(), lr=0.001)
slow = torch.optim.SGD(head.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(slow, step_size=1, gamma=0.5)
used = []
for batch, (x, y) in enumerate(loader, start=1):
    fast.zero_grad()
    slow.zero_grad()
    nn.functional.mse_loss(head(encoder(x)), y).backward()
    fast.step()
    if batch % 2 == 0:
        used.append([batch, slow.param_groups[0]["lr"]])
        slow.step()
        scheduler.step()
print(json.dumps(used))
