"""``prov4ml-run [options] COMMAND [ARGS...]``: run COMMAND with the agent on, as the same process.

Puts only our sitecustomize folder in front of PYTHONPATH, exports the options as PROV4ML_* variables
(a variable the user already set wins over a flag) and ``exec``s COMMAND, so the PID schedulers signal
is the job's own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from prov4ml_auto.roles import default_run_id
from prov4ml_auto.config import SETTINGS, Setting

SITE_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_site")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"prov4ml-run: {message} (see prov4ml-run --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="prov4ml-run",
        description="Run a Python training command and record its W3C PROV-JSON provenance. "
                    "Every option has a PROV4ML_* environment twin; a variable already set wins.",
        epilog="examples: prov4ml-run python train.py --lr 0.01 | prov4ml-run torchrun --nproc-per-node 2 train.py",
    )
    for setting in SETTINGS:
        if setting.name == "enable":
            continue
        _add_option(parser, setting)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, e.g. python train.py")
    return parser


def _add_option(parser: argparse.ArgumentParser, setting: Setting) -> None:
    help_text = f"{setting.help} [{setting.env}]"
    if setting.is_switch:
        parser.add_argument(setting.flag, dest=setting.name, action="store_const", const="1", help=help_text)
    else:
        parser.add_argument(setting.flag, dest=setting.name, metavar=setting.metavar or "VALUE", help=help_text)


def environment_for(options: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    for setting in SETTINGS:
        value = getattr(options, setting.name, None)
        if value is not None:
            env.setdefault(setting.env, value)
    env.setdefault("PROV4ML_ENABLE", "1")
    env.setdefault("PROV4ML_RUN_ID", default_run_id(env))
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = SITE_FOLDER + (os.pathsep + existing if existing else "")
    return env


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if not options.command:
        sys.stderr.write("prov4ml-run: no command given (e.g. prov4ml-run python train.py)\n")
        return 2
    command = options.command[1:] if options.command[0] == "--" else options.command
    executable = shutil.which(command[0]) if command else None
    if executable is None:
        sys.stderr.write(f"prov4ml-run: command not found: {command[0] if command else ''}\n")
        return 127
    env = environment_for(options, dict(os.environ))
    sys.stdout.flush()
    os.execve(executable, command, env)
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
