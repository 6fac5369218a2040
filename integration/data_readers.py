"""Data read the ways scripts read it outside a dataset's attributes (no prov4ml-auto call): nanoGPT's
``np.memmap`` of ``train.bin``/``val.bin`` opened anew in ``get_batch`` at every batch, a CSV of features read
with pandas into a ``TensorDataset``, normalisation statistics from ``np.load``, and a folder of per-sample
``.npy`` files that a dataset loads in ``__getitem__``; and a dataset that keeps its files in a reader object,
as timm's ``ImageDataset`` does. Writes its data into the working directory first.

The last stdout line is JSON: the sha256 of each data file by name, and how many sample files there are."""

import hashlib
import json
import os

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

SAMPLES = 100


def sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def write_data() -> None:
    rng = np.random.default_rng(0)
    rng.integers(0, 50, 4000, dtype=np.uint16).tofile("train.bin")
    rng.integers(0, 50, 800, dtype=np.uint16).tofile("val.bin")
    pd.DataFrame(rng.normal(size=(64, 5)), columns=["a", "b", "c", "d", "target"]).to_csv("table.csv", index=False)
    np.save("stats.npy", np.array([0.0, 1.0]))
    os.makedirs("samples", exist_ok=True)
    for number in range(SAMPLES):
        np.save(f"samples/{number:03d}.npy", rng.normal(size=4).astype(np.float32))
    os.makedirs("images/cat", exist_ok=True)
    for number in range(4):
        np.save(f"images/cat/{number}.npy", rng.normal(size=4).astype(np.float32))


def get_batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = np.memmap(f"{split}.bin", dtype=np.uint16, mode="r")
    starts = torch.randint(len(data) - 9, (4,))
    x = torch.stack([torch.from_numpy(data[i:i + 8].astype(np.int64)) for i in starts])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 9].astype(np.int64)) for i in starts])
    return x, y


class SampleFiles(Dataset):
    def __init__(self, folder: str) -> None:
        self.names = sorted(os.listdir(folder))
        self.folder = folder

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.load(os.path.join(self.folder, self.names[index])))


class FolderReader:
    """Where timm's ImageDataset keeps its files: a reader with the root and the (path, label) samples."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.samples = [(os.path.join(root, "cat", name), 0) for name in sorted(os.listdir(f"{root}/cat"))]


class ReaderDataset(Dataset):
    def __init__(self, root: str) -> None:
        self.reader = FolderReader(root)

    def __len__(self) -> int:
        return len(self.reader.samples)

    def __getitem__(self, index: int) -> torch.Tensor:
        path, _ = self.reader.samples[index]
        with open(path, "rb") as handle:
            return torch.from_numpy(np.lib.format.read_array(handle))


def main() -> None:
    write_data()
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(50, 50)
    optimizer = torch.optim.AdamW(embedding.parameters(), lr=1e-2)
    for _ in range(10):
        x, y = get_batch("train")
        loss = torch.nn.functional.cross_entropy(embedding(x).view(-1, 50), y.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        x, y = get_batch("val")
        torch.nn.functional.cross_entropy(embedding(x).view(-1, 50), y.view(-1))

    frame = pd.read_csv("table.csv")
    mean, std = np.load("stats.npy")
    features = torch.tensor((frame[["a", "b", "c", "d"]].values - mean) / std, dtype=torch.float32)
    table = TensorDataset(features, torch.tensor(frame["target"].values, dtype=torch.float32))
    head = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    for loader in (DataLoader(table, batch_size=16), DataLoader(SampleFiles("samples"), batch_size=25),
                   DataLoader(ReaderDataset("images"), batch_size=2)):
        for batch in loader:
            inputs = batch[0] if isinstance(batch, list) else batch
            loss = head(inputs).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    names = ("train.bin", "val.bin", "table.csv", "stats.npy")
    print(json.dumps({"files": {name: sha256(name) for name in names}, "samples": SAMPLES}))


if __name__ == "__main__":
    main()
