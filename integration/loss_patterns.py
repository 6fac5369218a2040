"""Three ways people feed losses to optimizers (no prov4ml-auto calls).

Epochs 0-1: gradient accumulation over 3 batches of a 7-batch loader (the epoch's last batch feeds no step).
Epoch 2: hand-written updates, no optimizer at all, on a loss of shape [1]. Epoch 3: a GAN's two optimizers,
each stepping once per batch on a loss of its own.
The last stdout line is JSON: every loss backward() was called on, as [epoch, value, step], where step is the
run's step that loss feeds (the optimizer steps taken so far, counting the GAN's pair once per batch, plus one
for a loss whose step has not come yet); and the generator's losses (a series of their own) apart.
"""

import json

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
loader = DataLoader(TensorDataset(torch.randn(28, 4), torch.randn(28, 1)), batch_size=4)
model = nn.Linear(4, 1)
losses = []
steps = 0

optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(2):
    for batch, (x, y) in enumerate(loader):
        loss = nn.functional.mse_loss(model(x), y) / 3
        loss.backward()
        losses.append([epoch, loss.item(), steps + 1])
        if batch % 3 == 2:
            optimizer.step()
            optimizer.zero_grad()
            steps += 1
    optimizer.zero_grad()

for x, y in loader:
    loss = nn.functional.mse_loss(model(x), y).reshape(1)  # a loss of shape [1], as some models return
    loss.backward()
    losses.append([2, loss.item(), steps + 1])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= 0.05 * parameter.grad
            parameter.grad = None

critic = nn.Linear(1, 1)
generator_losses = []
generator_optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
critic_optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
for x, y in loader:
    critic_loss = (critic(model(x).detach()) - critic(y)).mean()
    critic_optimizer.zero_grad()
    critic_loss.backward()
    critic_optimizer.step()
    generator_loss = -critic(model(x)).mean()
    generator_optimizer.zero_grad()
    generator_loss.backward()
    generator_optimizer.step()
    steps += 1
    losses.append([3, critic_loss.item(), steps])
    generator_losses.append([3, generator_loss.item(), steps])

print(json.dumps({"loss": losses, "generator": generator_losses}))
