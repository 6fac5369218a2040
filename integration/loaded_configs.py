"""A script that reads its settings from files it loads itself (no parser, no prov4ml-auto call): a YAML
configuration, a JSON file layered over it, a JSON label file per sample, an annotation file (COCO's shape),
a library's load of a JSON trace, and a JSON file loaded once training runs. It then changes its config dict,
as scripts do (``lr *= 10``). Run in a folder holding config.yaml, anchors.yaml, override.json,
labels/<i>.json, annotations.json, trace.json and late.json; the last stdout line is JSON: the learning rate
it trained with."""

import json

import torch
import yaml
from torch import nn
from torch._functorch.benchmark_utils import get_chrome_trace_events


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


config = load_yaml("config.yaml")
defaults = load_yaml("anchors.yaml")  # YAML anchors: a mapping that holds itself
with open("override.json") as handle:
    config["optim"].update(json.load(handle)["optim"])
labels = []
for index in range(10):
    with open(f"labels/{index}.json") as handle:
        labels.append(json.load(handle)["label"])
with open("annotations.json") as handle:
    images = json.load(handle)["images"]
get_chrome_trace_events("trace.json")
config["optim"]["lr"] *= 10

torch.manual_seed(config["seed"])
model = nn.Sequential(nn.Linear(4, config["model"]["width"]), nn.ReLU(), nn.Linear(config["model"]["width"], 1))
optimizer = torch.optim.SGD(model.parameters(), lr=config["optim"]["lr"], momentum=config["optim"]["momentum"])
inputs, targets = torch.randn(10, 4), torch.tensor(labels, dtype=torch.float32).unsqueeze(1)
for step in range(3):
    loss = nn.functional.mse_loss(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step == 0:
        with open("late.json") as handle:
            json.load(handle)
print(json.dumps({"lr": config["optim"]["lr"]}))
