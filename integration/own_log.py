"""A script that sends its own output to a log file by replacing sys.stdout and sys.stderr, as some training
scripts do, and leaves the file open at exit. The file must read as without the agent."""

import sys

import torch

sys.stdout = sys.stderr = open("train.log", "w")
model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    loss = model(torch.ones(4, 2)).pow(2).mean()
    loss.backward()
    optimizer.step()
    print(f"step {step} loss {loss.item():.6f}")
