"""A training command written with click, as a group and a subcommand (``python click_cli.py --seed 3 fit
--lr 0.2 ...``), and the same with typer when the first argument is ``typer`` (typer vendors its own click).
Secrets come as an option named like one (``-k/--wandb-key``), as a hidden prompt's option and as a positional
argument named like one. The last stdout line is JSON: the learning rate it trained with."""

import json
import sys

import torch


def train(lr: float, epochs: int) -> None:
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(json.dumps({"lr": lr}))


def click_main() -> None:
    import click

    @click.group()
    @click.option("--seed", default=0, type=int)
    def cli(seed: int) -> None:
        torch.manual_seed(seed)

    @cli.command()
    @click.option("--lr", default=0.1, type=float)
    @click.option("--epochs", default=2)
    @click.option("-k", "--wandb-key", default="none")
    @click.option("--phrase", default="none", hide_input=True)
    @click.option("--data", type=click.Path(exists=True))
    @click.option("--settings", type=click.File("r"))
    @click.option("--report", type=click.File("w"), help="written only if asked to (lazily opened by click)")
    @click.argument("hub_token", required=False)
    def fit(lr: float, epochs: int, wandb_key: str, phrase: str, data: str, settings, report, hub_token) -> None:
        train(lr, epochs)

    cli()


def typer_main() -> None:
    import typer

    def main(lr: float = 0.05, epochs: int = 3, name: str = "exp",
             phrase: str = typer.Option("none", hide_input=True)) -> None:
        train(lr, epochs)

    sys.argv.pop(1)
    typer.run(main)


if __name__ == "__main__":
    typer_main() if sys.argv[1:2] == ["typer"] else click_main()
