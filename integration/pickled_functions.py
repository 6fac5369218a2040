"""Functions the agent patches, handed to other processes as people do (no prov4ml-auto call): pickled by
reference, a spawned pool mapping ``os.replace`` over files, a dataset holding ``torch.load`` as its loader in
spawned DataLoader workers. The last stdout line is JSON: each function's pickle round trip, and the files
the pool moved."""

import json
import os
import pickle
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class Saved(Dataset):
    def __init__(self, paths, loader=torch.load):
        self.paths, self.loader = paths, loader

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self.loader(self.paths[index])


def main():
    functions = {"os.replace": os.replace, "os.rename": os.rename, "shutil.copyfile": shutil.copyfile,
                 "shutil.move": shutil.move, "torch.save": torch.save, "torch.load": torch.load,
                 "torch.serialization.load": torch.serialization.load, "torch.jit.load": torch.jit.load,
                 "torch.manual_seed": torch.manual_seed, "np.load": np.load,
                 "np.random.seed": np.random.seed}
    round_trips = {name: pickle.loads(pickle.dumps(function)) == function for name, function in functions.items()}
    for number in range(3):
        torch.save(torch.tensor([number]), f"{number}.tmp")
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(os.replace, [f"{n}.tmp" for n in range(3)], [f"{n}.pt" for n in range(3)]))
    loader = DataLoader(Saved([f"{n}.pt" for n in range(3)]), num_workers=1, multiprocessing_context="spawn")
    loaded = [int(batch.item()) for batch in loader]
    moved = sorted(name for name in os.listdir(".") if name.endswith((".pt", ".tmp")))
    print(json.dumps({"round_trips": round_trips, "moved": moved, "loaded": loaded}))


if __name__ == "__main__":
    main()
