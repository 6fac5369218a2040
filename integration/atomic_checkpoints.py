"""Checkpoints written the careful way (no prov4ml-auto call): each epoch's saved under a temporary name and moved
into place with ``os.replace`` (a crash mid-write never leaves half a checkpoint; the second epoch's with
``shutil.move``, from ``--scratch`` if given), the best one copied beside it with ``shutil.copyfile`` as
PyTorch's ImageNet example does, and the last moved with pathlib; the final weights moved twice in a row, and a
link to a file not written yet moved into place. ``--resume PATH`` starts from a checkpoint instead, ``--config
PATH`` reads the learning rate from a JSON file. The last stdout line is JSON: per epoch, the sha256 of the
checkpoint as it lies in place; and the sha256 of model_best.pt and of the final weights at the end."""

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset


def sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resume", default=None)
    parser.add_argument("--config", default=None)
    parser.add_argument("--scratch", default=None, help="a folder (on another file system) to save in first")
    args = parser.parse_args()
    settings = {"lr": 0.1}
    if args.config:
        with open(args.config) as handle:
            settings = json.load(handle)
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    loader = DataLoader(data, batch_size=8)
    model = torch.nn.Linear(4, 1)
    if args.resume:
        model.load_state_dict(torch.load(args.resume)["state_dict"])
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr"])
    versions, best = [], float("inf")
    for epoch in range(3):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        state = {"epoch": epoch, "state_dict": model.state_dict()}
        if epoch == 0:
            torch.save(state, "checkpoint.pth.tmp")
            os.replace("checkpoint.pth.tmp", "checkpoint.pth")
        elif epoch == 1:
            torch.save(state, os.path.join(args.scratch or ".", "checkpoint.pth.tmp"))
            shutil.move(os.path.join(args.scratch or ".", "checkpoint.pth.tmp"), "checkpoint.pth")
        else:
            torch.save(state, Path("checkpoint.pth.partial"))
            Path("checkpoint.pth.partial").replace("checkpoint.pth")
        versions.append(sha256("checkpoint.pth"))
        if total < best:
            best = total
            shutil.copyfile("checkpoint.pth", "model_best.pth")
        time.sleep(0.08)
    torch.save(model.state_dict(), "final.tmp")  # moved twice in a row, as a rotation of the last ones does
    os.replace("final.tmp", "final.pt")
    os.replace("final.pt", "final.last.pt")
    if not os.path.lexists("latest.tmp"):
        os.symlink("not-yet-written.pt", "latest.tmp")  # a link to a file to come, moved into place
    os.replace("latest.tmp", "latest.pt")
    print(json.dumps({"versions": versions, "best": sha256("model_best.pth"), "final": sha256("final.last.pt")}))


if __name__ == "__main__":
    main()
