"""A plain PyTorch training script, written the way people write them (no prov4ml-auto calls).

A CSV file on disk is the dataset; an MLP with two parameter groups; SGD with a StepLR scheduler; a
validation pass under no_grad each epoch; a checkpoint per epoch; --resume continues from a checkpoint.
"""

import argparse
import csv
import os
import random
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split


class CsvRegression(Dataset):
    def __init__(self, path):
        self.path = path
        with open(path, newline="") as handle:
            rows = [[float(v) for v in row] for row in csv.reader(handle)]
        self.x = torch.tensor([row[:-1] for row in rows])
        self.y = torch.tensor([row[-1:] for row in rows])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]


def make_data(path, rows=256, features=8, seed=0):
    generator = random.Random(seed)
    weights = [generator.uniform(-1, 1) for _ in range(features)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        for _ in range(rows):
            x = [generator.uniform(-1, 1) for _ in range(features)]
            writer.writerow(x + [sum(w * v for w, v in zip(weights, x))])


def main():
    parser = argparse.ArgumentParser(description="toy regression")
    parser.add_argument("--data", default="data.csv")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("checkpoints"))
    parser.add_argument("--resume", default=None)
    parser.add_argument("--api-token", default="hunter2-secret-token")
    parser.add_argument("--save-weights", default=None, help="write the final weights here (for comparisons)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if not os.path.exists(args.data):
        make_data(args.data)
    dataset = CsvRegression(args.data)
    train_set, val_set = random_split(dataset, [192, 64], generator=torch.Generator().manual_seed(args.seed))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    val_loader = DataLoader(val_set, batch_size=64)

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": args.lr / 2}],
        lr=args.lr, momentum=0.9,
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loss_fn = nn.MSELoss()
    start_epoch = 0
    if args.resume:
        state = torch.load(args.resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = state["epoch"] + 1

    os.makedirs(args.out, exist_ok=True)
    for epoch in range(start_epoch, start_epoch + args.epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            val_loss = sum(loss_fn(model(x), y).item() for x, y in val_loader)
        print(f"epoch {epoch} val_loss {val_loss:.6f}")
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, os.path.join(args.out, f"epoch{epoch}.pt"))
    if args.save_weights:
        torch.save(model.state_dict(), args.save_weights)


if __name__ == "__main__":
    main()
