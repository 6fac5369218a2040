"""``prov4ml``: tools that read what runs wrote. Each command lives in its own module, imported on use."""

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
    recover = commands.add_parser("recover", help="rebuild the documents of runs that were killed, from their journals")
    recover.add_argument("paths", nargs="+", metavar="PATH", help="a run folder, or a folder holding runs")
    merge = commands.add_parser("merge", help="combine the per-rank documents of one job into one document")
    merge.add_argument("folders", nargs="+", metavar="RUN_DIR")
    merge.add_argument("-o", "--output", metavar="FILE", help="where to write (default: RUN_DIR/prov.merged.json)")
    commands.add_parser("info", help="show the settings, the switches and the integrations the agent would use here")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if options.tool == "validate":
        from prov4ml_auto.validate import main as validate_main

        return validate_main(options.files)
    if options.tool == "info":
        from prov4ml_auto.cli.info import main as info_main

        return info_main()
    if options.tool == "recover":
        from prov4ml_auto.recover import main as recover_main

        return recover_main(options.paths)
    from prov4ml_auto.merge import main as merge_main

    return merge_main(options.folders, options.output)


if __name__ == "__main__":
    sys.exit(main())
