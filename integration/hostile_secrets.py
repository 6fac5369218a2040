"""A training script full of secrets, the ways real ones carry them: command-line flags, URLs with
credentials, argparse defaults, nested configuration, tokens in free text, and an error message that
quotes a connection string. It trains one step and then fails, as a misconfigured job does.

The secrets come from the environment variables the test sets (never written here), so that finding one
in an output file can only mean it leaked.
"""

import argparse
import os

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--api-key")
parser.add_argument("-p", "--password")  # a short option: only the parser knows that its value is secret
parser.add_argument("-k", dest="wandb_key")
parser.add_argument("--db-url")
parser.add_argument("--note", help="free text; here it quotes a GitHub token")
parser.add_argument("--hub-token", default=os.environ["TEST_SECRET_DEFAULT"])
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--num-key-value-heads", type=int, default=8)
parser.set_defaults(storage={"bucket": "models", "password": os.environ["TEST_SECRET_NESTED"],
                             "mirrors": [f"s3://admin:{os.environ['TEST_SECRET_LIST']}@mirror.example.org/x"]})
args = parser.parse_args()  # after torch's import: the journal has been flushed by now

model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
model(torch.ones(2, 4)).sum().backward()
optimizer.step()
raise ConnectionError(f"cannot reach https://carol:{os.environ['TEST_SECRET_ERROR']}@db.example.org "
                      f"(token={os.environ['TEST_SECRET_ERROR_TOKEN']})")
