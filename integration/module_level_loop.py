"""A training loop written at module level, its settings as constants at the top (no parser, no function, no
prov4ml-auto call), as much research code is, overridden as nanoGPT's configurator does it: a settings file
named on the command line is run, ``--NAME=VALUE`` sets one. The last stdout line is JSON: the loss of each
epoch."""

import json
import sys
from ast import literal_eval
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BATCH_SIZE = 16
EPOCHS = 3
LEARNING_RATE = 3e-3
MILESTONES = [1, 2]
DATA_DIR = "./data"
WANDB_API_KEY = "abcdef0123456789abcdef0123456789"
AUTH_TOKENS = ["9c1185a5d3e2f4a6b7c8d9e0f1a2b3c4"]
creds = ("ml-bot", "s3cr3t-Passw0rd")
max_new_tokens = 64
config = {"hidden": 32, "dropout": 0.1, "act": "relu", "warmup steps": 5, "warmup_steps": 10}


@dataclass
class ModelConfig:
    layers: int = 2
    norm: str = "layer"


@dataclass
class TrainConfig:
    warmup: float = 0.1
    clip: float = 1.0
    model: ModelConfig = field(default_factory=ModelConfig)
    device: str = "cpu"


@dataclass
class Tally:
    batches: int = 0


train_config = TrainConfig(clip=LEARNING_RATE * 100, model=ModelConfig(layers=3))
tally = Tally()  # changed by the loop (an augmented assignment): no setting

for argument in sys.argv[1:]:  # nanoGPT's configurator: a settings file to run, or --NAME=VALUE
    if argument.startswith("--"):
        name, value = argument[2:].split("=", 1)
        globals()[name] = literal_eval(value)
    else:
        exec(open(argument).read())

train_config.device = "cpu" if not torch.cuda.is_available() else "cuda"
torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
loader = DataLoader(data, batch_size=BATCH_SIZE, shuffle=True)
model = nn.Sequential(nn.Linear(4, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 1))
optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
history = []
for epoch in range(EPOCHS):
    running_loss = 0.0
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        tally.batches += 1
        running_loss += loss.item()
    history.append(running_loss)
    print(f"epoch {epoch} loss {running_loss / (i + 1):.4f}")
print(json.dumps(history))
