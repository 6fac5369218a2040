"""``prov4ml``: tools that read what runs wrote (validate; recover and merge come in their own modules)."""

from __future__ import annotations

import argparse
import sys

from prov4ml_auto import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"prov4ml: {message} (see prov4ml --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prov4ml", description="Tools for prov4ml-auto documents.")
    parser.add_argument("--version", action="version", version=f"prov4ml-auto {__version__}")
    commands = parser.add_subparsers(dest="tool", metavar="COMMAND", required=True)
    validate = commands.add_parser("validate", help="check documents against the PROV-JSON profile and the prov library")
    validate.add_argument("files", nargs="+", metavar="FILE")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if options.tool == "validate":
        from prov4ml_auto.validate import main as validate_main

        return validate_main(options.files)
    return 2


if __name__ == "__main__":
    sys.exit(main())
