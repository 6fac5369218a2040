"""A dataset that seeds every sample it makes, as torchvision's FakeData does (no prov4ml-auto call), read by a
plain loop. The last stdout line is JSON: how many seed calls the script made."""

import json

import torch
from torch.utils.data import DataLoader, Dataset


class SeededSamples(Dataset):
    def __len__(self) -> int:
        return 2000

    def __getitem__(self, index: int) -> torch.Tensor:
        torch.manual_seed(index)  # the same sample for the same index
        return torch.randn(4)


torch.manual_seed(0)
total = sum(float(batch.sum()) for batch in DataLoader(SeededSamples(), batch_size=100))
print(json.dumps({"seed_calls": 1 + 2000, "total": round(total, 4)}))
