"""A script that crashes mid-training with an error of its own."""

import torch

model = torch.nn.Linear(2, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(3):
    loss = model(torch.ones(4, 2)).pow(2).mean()
    loss.backward()
    optimizer.step()


def check(depth: int) -> None:  # the error comes from deep in the script's own calls
    if depth:
        check(depth - 1)
    raise ValueError("diverged at step 3")


check(20)
