"""A loop that logs through TensorBoard's SummaryWriter and saves / loads safetensors files."""

import os
import sys

import torch
from safetensors.torch import load_file, save_file
from torch.utils.tensorboard import SummaryWriter

out = sys.argv[1]
writer = SummaryWriter(os.path.join(out, "tb"))
writer.add_hparams({"lr": 0.1, "layers": 2}, {"hparam/score": 1.0})
model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(5):
    loss = model(torch.ones(2, 4)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    writer.add_scalar("train/loss", loss.item(), step)
    writer.add_scalar("train/loss_tensor", loss, step)  # the tensor itself, as scripts often pass it
    writer.add_scalars("lrs", {"group0": 0.1}, step)
writer.close()
path = os.path.join(out, "weights.safetensors")
save_file(model.state_dict(), path)
load_file(path)
print("done")
