"""A plain PyTorch training whose epochs last long enough for system samples to land inside them (--batches
sets the length: about 20 ms each on one core): an MLP on random tensors, a validation pass after each epoch."""

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser(description="system metrics workload")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batches", type=int, default=12)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    features = 256
    x = torch.randn(args.batches * 64, features)
    y = x[:, :1] * 0.5
    train_loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=256)
    model = nn.Sequential(nn.Linear(features, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = sum(loss_fn(model(xb), yb).item() for xb, yb in val_loader)
        print(f"epoch {epoch} val_loss {val_loss:.6f}")


if __name__ == "__main__":
    main()
