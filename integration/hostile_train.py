"""Training code that breaks what instrumentation likes to assume, all of it legal Python and PyTorch:

- an IterableDataset without a length, and a Dataset whose properties raise, whose __getattr__ answers
  every name, whose __eq__ raises (so it cannot be hashed) and whose __repr__ raises;
- a hand-written Optimizer subclass with an integer hyperparameter beyond 64 bits, an SGD subclass with a
  tensor learning rate and the same odd dunder methods, and a wrapper optimizer that never calls
  Optimizer.__init__ and steps an inner one;
- NaN and infinite losses, and a model, its optimizer and its loss on the meta device;
- argparse values beyond 64 bits (one beyond Python's 4300-digit printing limit) and an object whose every
  attribute is itself and whose comparisons, truth and repr raise; unknown arguments (the test passes
  non-UTF-8 and very long ones) are accepted and ignored.

It prints one line per part so that a run with the agent can be compared with one without.
"""

import argparse
import random

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset


class Odd:
    """Comparing, hashing, truth testing and printing it raise."""

    def __eq__(self, other):
        raise TypeError("no comparisons")

    __hash__ = None

    def __bool__(self):
        raise TypeError("no truth value")

    def __repr__(self):
        raise RuntimeError("no repr")


class Hostile(Odd):
    """An Odd whose every attribute is itself."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self


class Stream(IterableDataset):
    """Samples generated on the fly: no __len__."""

    def __iter__(self):
        generator = torch.Generator().manual_seed(1)
        for _ in range(4):
            yield torch.randn(8, 4, generator=generator), torch.randn(8, 1, generator=generator)


class Touchy(Hostile, Dataset):
    def __init__(self):
        generator = torch.Generator().manual_seed(2)
        self.x = torch.randn(16, 4, generator=generator)
        self.y = torch.randn(16, 1, generator=generator)

    def __len__(self):
        return 16

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    @property
    def targets(self):
        raise RuntimeError("computed lazily, and not now")


class Lion(torch.optim.Optimizer):
    """A hand-written optimizer (sign descent) with an integer setting beyond 64 bits."""

    def __init__(self, params, lr=1e-2, horizon=2**80):
        super().__init__(params, {"lr": lr, "horizon": horizon})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad.sign(), alpha=-group["lr"])


class Picky(Odd, torch.optim.SGD):
    """SGD with a tensor learning rate and Odd's dunder methods."""


class Lookahead:
    """A wrapper that never calls Optimizer.__init__ and steps the optimizer it wraps."""

    def __init__(self, inner):
        self.inner = inner
        self.param_groups = inner.param_groups

    def zero_grad(self):
        self.inner.zero_grad()

    def step(self):
        self.inner.step()


def train(model, optimizer, loader, scale=1.0):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y) * scale
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--horizon", type=int, default=2**100)
    parser.set_defaults(universe=10**5000, callback=Hostile())
    args, unknown = parser.parse_known_args()
    random.seed(2**90)
    torch.manual_seed(0)

    model = torch.nn.Linear(4, 1)
    print("stream", train(model, Lion(model.parameters()), DataLoader(Stream(), batch_size=None)))
    picky = Picky(model.parameters(), lr=torch.tensor(0.01))
    print("touchy", train(model, Lookahead(picky), DataLoader(Touchy(), batch_size=4)))

    spare = torch.nn.Linear(4, 1)
    loader = DataLoader(Touchy(), batch_size=8)
    print("nan", train(spare, torch.optim.SGD(spare.parameters(), lr=0.1), loader, scale=float("nan")))
    spare = torch.nn.Linear(4, 1)
    print("inf", train(spare, torch.optim.SGD(spare.parameters(), lr=0.1), loader, scale=float("inf")))

    meta = torch.nn.Linear(4, 1, device="meta")
    meta_optimizer = torch.optim.SGD(meta.parameters(), lr=0.1)
    meta_loss = torch.nn.functional.mse_loss(meta(torch.randn(8, 4, device="meta")), torch.randn(8, 1, device="meta"))
    meta_loss.backward()
    meta_optimizer.step()
    print("meta", meta_loss.shape, "unknown arguments", len(unknown))
    print("weights", [round(value, 6) for value in model.weight.flatten().tolist()])


if __name__ == "__main__":
    main()
