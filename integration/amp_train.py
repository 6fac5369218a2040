"""Mixed-precision training as people write it for a GPU (no prov4ml-auto call): autocast, a GradScaler,
a pinned loader with workers, validation under no_grad, a checkpoint saved and loaded back.

``--device cuda`` uses float16 with the scaler (the scaler skips a step whose gradients overflow);
``--device cpu`` uses bfloat16 with a CPU scaler, so the same path runs on machines without a GPU.
The last stdout line is JSON: every training loss as [epoch, value, step] (step: the run's step that loss
feeds, counting only steps the scaler took), every validation loss, and the checkpoint's path.
"""

import argparse
import json

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--out", default="amp.pt")
args = parser.parse_args()

device = torch.device(args.device)
dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
torch.manual_seed(0)
train = TensorDataset(torch.randn(256, 16), torch.randint(0, 4, (256,)))
held_out = TensorDataset(torch.randn(64, 16), torch.randint(0, 4, (64,)))
pinned = device.type == "cuda"
loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=2, pin_memory=pinned)
validation = DataLoader(held_out, batch_size=64)
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4)).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler(device.type)

losses, eval_losses, steps = [], [], 0
for epoch in range(args.epochs):
    model.train()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        losses.append([epoch, loss.item(), steps + 1])
        scale = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        steps += scaler.get_scale() >= scale  # a smaller scale: this step overflowed and was skipped
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype):
        for x, y in validation:
            eval_losses.append(F.cross_entropy(model(x.to(device)), y.to(device)).float().item())

torch.save({"model": model.state_dict(), "scaler": scaler.state_dict()}, args.out)
model.load_state_dict(torch.load(args.out, map_location=device)["model"])
print(json.dumps({"losses": losses, "eval_losses": eval_losses, "checkpoint": args.out}))
