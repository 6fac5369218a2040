"""The bench's training job, written as users write one (no prov4ml-auto call): a CPU MLP on one thread
(``--device cuda``: the same MLP and data on a GPU, the loop then bound by launching its kernels).

A DataLoader over an in-memory dataset, MSE loss, backward, SGD with a scheduler; argparse and seeds as
usual. ``--peer`` logs the loss every step with yProv4ML instead (that peer needs calls in the code).
The last stdout line is JSON: the first line's moment and CPU; the loop's wall seconds, process CPU seconds
(every thread: the agent's collector too) and the training thread's own CPU seconds.
"""

import time  # the first statement: its moment and the CPU spent before it are the start-up cost

FIRST_LINE = (time.time(), time.process_time())


import argparse
import json
import random

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="bench MLP")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batches-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--save", default=None, help="write a checkpoint here at the end")
    parser.add_argument("--peer", default=None, help="log with yProv4ML into this folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The loader, model, optimizer, scheduler and loss (bench/inprocess.py trains the same)."""
    torch.set_num_threads(1)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rows = args.batches_per_epoch * args.batch_size
    data = TensorDataset(torch.randn(rows, 32, device=args.device), torch.randn(rows, 1, device=args.device))
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True)
    model = nn.Sequential(nn.Linear(32, args.width), nn.ReLU(), nn.Linear(args.width, args.width), nn.ReLU(),
                          nn.Linear(args.width, 1)).to(args.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9)
    return loader, model, optimizer, scheduler, nn.MSELoss()


def train(loader, model, optimizer, scheduler, loss_fn, steps: int, log=None) -> int:
    step = 0
    while step < steps:
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if log is not None:
                log(loss, step)
            step += 1
            if step == steps:
                break
        scheduler.step()
    if next(model.parameters()).is_cuda:  # the loop ends when the GPU has run the kernels it launched
        torch.cuda.synchronize()
    return step


def main() -> None:
    args = arguments()
    loader, model, optimizer, scheduler, loss_fn = build(args)
    log = peer_logger(args.peer) if args.peer else None
    started = (time.perf_counter(), time.process_time(), time.thread_time())
    step = train(loader, model, optimizer, scheduler, loss_fn, args.steps, log)
    loop = [now - then for now, then in zip((time.perf_counter(), time.process_time(), time.thread_time()), started)]
    if args.save:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, args.save)
    if args.peer:
        import yprov4ml

        yprov4ml.end_run(create_graph=False, create_svg=False)
    print(json.dumps({"first_wall": FIRST_LINE[0], "first_cpu": FIRST_LINE[1], "loop_wall": loop[0],
                      "loop_cpu": loop[1], "loop_thread_cpu": loop[2], "steps": step, "end_wall": time.time()}),
          flush=True)


def peer_logger(folder: str):
    """yProv4ML's documented use: start a run, then one log_metric call per step."""
    import yprov4ml

    yprov4ml.start_run(experiment_name="bench", prov_user_namespace="www.example.org", provenance_save_dir=folder,
                       save_after_n_logs=100, collect_all_processes=False)

    def log(loss: torch.Tensor, step: int) -> None:
        yprov4ml.log_metric("loss", float(loss.item()), context="training", step=step)

    return log


if __name__ == "__main__":
    main()
