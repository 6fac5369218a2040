"""Mistakes that raise inside library calls the agent hooks: each traceback, printed by the script or by
Python at the end, must read exactly as without the agent (no frame of the agent's wrappers)."""

import os
import shutil
import traceback

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Buggy(Dataset):
    """A dataset whose eighth item raises, as a bug in ``__getitem__`` does."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int):
        if index == 7:
            return self.cache[index]
        return torch.randn(3), torch.tensor(0)


def step_too_far() -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1)
    for _ in range(3):
        optimizer.step()
        schedule.step()


def backward_twice() -> None:
    loss = model(torch.randn(4, 3)).pow(2).mean()
    loss.backward()
    loss.backward()


torch.manual_seed(0)
model = nn.Linear(3, 2)
mistakes = {
    "load a missing file": lambda: torch.load("no/such/checkpoint.pt"),
    "optimizer over no parameters": lambda: torch.optim.SGD([], lr=0.1),
    "loss of mismatched shapes": lambda: nn.CrossEntropyLoss()(model(torch.randn(4, 3)), torch.zeros(5).long()),
    "backward twice": backward_twice,
    "scheduler stepped past its end": step_too_far,
    "rename a missing file (os.replace is written in C)": lambda: os.replace("no/such/file.tmp", "file.pt"),
    "copy a missing file": lambda: shutil.copyfile("no/such/best.pt", "model_best.pt"),
    "memmap a missing file": lambda: np.memmap("no/such/train.bin", dtype=np.uint16, mode="r"),
    "memmap without its file name": lambda: np.memmap(dtype=np.uint16),
    "read a missing array file (np.fromfile is written in C)": lambda: np.fromfile("no/such/data.bin"),
}
for name, mistake in mistakes.items():
    try:
        mistake()
    except Exception:
        print(f"--- {name}\n{traceback.format_exc()}")
for inputs, labels in DataLoader(Buggy(), batch_size=4):  # the last one escapes: Python prints it
    nn.functional.cross_entropy(model(inputs), labels).backward()
