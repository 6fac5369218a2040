"""A torch.compile'd model, written the way people write one (no prov4ml-auto calls).

The classifier computes its own loss inside the compiled forward (so torch.compile traces torch.nn.functional
with fake tensors), for training and, under no_grad, for validation. The last line reports what the compiler
did (graph breaks, graphs) next to the losses, so a run with the agent can be compared with one without.
"""

import argparse

import torch
import torch._dynamo.utils
import torch.nn.functional as F
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x, y):
        logits = self.body(x)
        return F.cross_entropy(logits, y), logits


def main():
    parser = argparse.ArgumentParser(description="compiled classifier")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--backend", default="aot_eager")
    args = parser.parse_args()
    torch.manual_seed(0)
    net = Classifier()
    model = torch.compile(net, backend=args.backend)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss, _ = model(x, y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        eval_loss, _ = model(x, y)
    counters = torch._dynamo.utils.counters
    print(f"loss {loss.item():.8f} eval {eval_loss.item():.8f} graph_breaks {sum(counters['graph_break'].values())} "
          f"graphs {counters['stats']['unique_graphs']}")


if __name__ == "__main__":
    main()
