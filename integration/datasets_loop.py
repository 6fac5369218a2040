"""A plain PyTorch loop over a Hugging Face ``datasets`` dataset (no transformers import), as people write one
for a JSON or CSV corpus: load_dataset, with_format("torch"), a DataLoader, a linear model."""

import json
import os
import sys

import datasets
import torch
from torch.utils.data import DataLoader

folder = sys.argv[1]
path = os.path.join(folder, "rows.jsonl")
with open(path, "w") as handle:
    for number in range(16):
        handle.write(json.dumps({"x": [float(number), 1.0], "y": float(2 * number)}) + "\n")
rows = datasets.load_dataset("json", data_files=path, split="train", cache_dir=os.path.join(folder, "cache"))
rows = rows.with_format("torch")
loader = DataLoader(rows, batch_size=4)
model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
for batch in loader:
    loss = torch.nn.functional.mse_loss(model(batch["x"]).squeeze(1), batch["y"])
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
print(json.dumps({"transformers imported": "transformers" in sys.modules, "fingerprint": rows._fingerprint}))
