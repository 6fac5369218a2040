"""Training with DataLoader workers of every start method: fork, spawn, forkserver, and persistent workers
(forkserver, two epochs). One worker each keeps the test light; what is tested is that none makes a run.

The model and optimizer are built at module level, as many scripts do: spawn and the forkserver import this
module again, building an optimizer there too, which must not make a run either. The dataset reads a CSV
file (so the run records a hashed data file) and is defined at module level (workers unpickle it by name).
"""

import argparse
import csv

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

LOADERS = (("fork", False, 1), ("spawn", False, 1), ("forkserver", False, 1), ("forkserver", True, 2))


class CsvRows(Dataset):
    def __init__(self, path):
        self.path = path
        with open(path, newline="") as handle:
            self.rows = [[float(value) for value in row] for row in csv.reader(handle)]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        row = torch.tensor(self.rows[index])
        return row[:-1], row[-1:]


model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    dataset = CsvRows(args.data)
    for method, persistent, epochs in LOADERS:
        loader = DataLoader(dataset, batch_size=16, num_workers=1, persistent_workers=persistent,
                            multiprocessing_context=method)
        for _ in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
        print(f"{method}{' persistent' if persistent else ''} done", flush=True)


if __name__ == "__main__":
    main()
