"""A model exported for serving with TorchScript (no prov4ml-auto call): scripted and saved with the module's
own ``save``, traced and saved with ``torch.jit.save``; ``load`` reads both back, as a serving or fine-tuning
job would. The last stdout line is JSON: the sha256 of each file."""

import hashlib
import json
import sys

import torch


def sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


torch.manual_seed(0)
if sys.argv[1] == "export":
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    torch.jit.script(model).save("scripted.pt")
    torch.jit.save(torch.jit.trace(model, torch.randn(2, 4)), "traced.pt")
else:
    for name in ("scripted.pt", "traced.pt"):
        torch.jit.load(name)(torch.randn(2, 4))
print(json.dumps({name: sha256(name) for name in ("scripted.pt", "traced.pt")}))
