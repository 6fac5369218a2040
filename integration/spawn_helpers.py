"""A main process that starts other processes, as real jobs do: some train, some do not.

The main process writes the initial weights; then it starts
  * a forkserver helper that evaluates on the data and saves a result, but never trains: no run;
  * two forkserver trainers, one of which fails: a document each;
  * torch.multiprocessing.spawn DDP workers (gloo, the rank given in code, not in the environment): a
    document per rank;
  * a Python subprocess that only seeds a generator: no run; one that trains: its own document.
Every trainer loads the initial weights before it builds its optimizer, and reads the same data file.
"""

import argparse
import csv
import multiprocessing
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

INIT = "init.pt"


class CsvRows(Dataset):
    def __init__(self, path):
        self.path = path
        with open(path, newline="") as handle:
            self.data = torch.tensor([[float(value) for value in row] for row in csv.reader(handle)])

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index, :-1], self.data[index, -1:]


def evaluate(data):
    model = nn.Linear(4, 1)
    model.load_state_dict(torch.load(INIT))
    with torch.no_grad():
        total = sum(nn.functional.mse_loss(model(x), y) for x, y in DataLoader(CsvRows(data), batch_size=16))
    torch.save(total, "evaluation.pt")


def train(data, fail=False, distributed=False):
    model = nn.Linear(4, 1)
    model.load_state_dict(torch.load(INIT))
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    dataset = CsvRows(data)
    for x, y in DataLoader(dataset, batch_size=16, sampler=DistributedSampler(dataset) if distributed else None):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    if fail:
        raise RuntimeError("trainer failed on purpose")


def ddp_worker(rank, world_size, port, data):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    train(data, distributed=True)
    dist.destroy_process_group()


def run(process):
    process.start()
    process.join(60)
    return process.exitcode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--train-only", action="store_true", help="be the trainer subprocess")
    args = parser.parse_args()
    if args.train_only:
        train(args.data)
        return
    torch.manual_seed(0)
    torch.save(nn.Linear(4, 1).state_dict(), INIT)
    forkserver = multiprocessing.get_context("forkserver")
    codes = {
        "evaluate": run(forkserver.Process(target=evaluate, args=(args.data,))),
        "train": run(forkserver.Process(target=train, args=(args.data,))),
        "failing": run(forkserver.Process(target=train, args=(args.data, True))),
    }
    torch.multiprocessing.spawn(ddp_worker, args=(2, args.port, args.data), nprocs=2)
    subprocess.run([sys.executable, "-c", "import random; random.seed(0)"], check=True, timeout=60)
    subprocess.run([sys.executable, __file__, "--data", args.data, "--train-only"], check=True, timeout=60)
    print("exit codes", " ".join(f"{name}={code}" for name, code in codes.items()), flush=True)


if __name__ == "__main__":
    main()
