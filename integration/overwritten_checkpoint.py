"""One checkpoint file saved again every epoch of a short job, as pytorch/examples' ImageNet script saves
``checkpoint.pth.tar`` (no prov4ml-auto call). The last stdout line is JSON: the sha256 of each version."""

import hashlib
import json
import time

import torch

model = torch.nn.Linear(4, 2)
versions = []
for epoch in range(4):
    with torch.no_grad():
        model.weight.add_(1.0)
    torch.save({"epoch": epoch, "state_dict": model.state_dict()}, "checkpoint.pth.tar")
    with open("checkpoint.pth.tar", "rb") as handle:
        versions.append(hashlib.sha256(handle.read()).hexdigest())
    time.sleep(0.08)  # an epoch of a tiny job
print(json.dumps(versions))
