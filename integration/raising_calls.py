"""Mistakes that raise inside library calls the agent hooks: each traceback, printed by the script or by
Python at the end, must read exactly as without the agent (no frame of the agent's wrappers)."""

import traceback

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
}
for name, mistake in mistakes.items():
    try:
        mistake()
    except Exception:
        print(f"--- {name}\n{traceback.format_exc()}")
for inputs, labels in DataLoader(Buggy(), batch_size=4):  # the last one escapes: Python prints it
    nn.functional.cross_entropy(model(inputs), labels).backward()
