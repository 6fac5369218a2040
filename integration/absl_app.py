"""A Google-style training script: settings as absl flags, ``app.run(main)`` (no prov4ml-auto call). A secret
comes as a flag named like one; ``--data`` names a file. The last stdout line is JSON: the learning rate."""

import json

import torch
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_float("lr", 0.1, "learning rate")
flags.DEFINE_integer("epochs", 2, "epochs", short_name="e")
flags.DEFINE_string("api_token", "none", "the tracker's token")
flags.DEFINE_string("data", None, "a CSV file")


def main(argv):
    del argv
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=FLAGS.lr)
    for _ in range(FLAGS.epochs):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(json.dumps({"lr": FLAGS.lr}))


if __name__ == "__main__":
    app.run(main)
