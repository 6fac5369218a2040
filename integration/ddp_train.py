"""Data-parallel training on CPU (gloo) with a DistributedSampler over a CSV file every rank reads.

Runs under torchrun (rank and world size in RANK / WORLD_SIZE) or as one task per rank under SLURM
(SLURM_PROCID / SLURM_NTASKS; the rendezvous address in MASTER_ADDR / MASTER_PORT). Rank 0 saves a checkpoint.
"""

import argparse
import csv
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class CsvRows(Dataset):
    def __init__(self, path):
        self.path = path
        with open(path, newline="") as handle:
            rows = [[float(value) for value in row] for row in csv.reader(handle)]
        self.data = torch.tensor(rows)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index, :-1], self.data[index, -1:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="checkpoints")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    world_size = int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1")))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    dataset = CsvRows(args.data)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if rank == 0:
            os.makedirs(args.out, exist_ok=True)
            torch.save(model.module.state_dict(), os.path.join(args.out, f"epoch{epoch}.pt"))
    dist.barrier()
    dist.destroy_process_group()
    print(f"rank {rank} of {world_size} done", flush=True)


if __name__ == "__main__":
    main()
