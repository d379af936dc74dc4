"""The ``pyroscope-bundle`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyroscope-bundle", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    render = commands.add_parser(
        "render", help="Run the program for a stack under Pulumi mocks and write what it would deploy."
    )
    render.add_argument("--stack", required=True, action="append", help="Stack name (repeatable).")
    render.add_argument(
        "--out", required=True, type=Path,
        help="Output directory; with several --stack, one subdirectory per stack.",
    )  # fmt: skip
    render.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="Override a config path for this render (VALUE is YAML).")
    render.add_argument("--set-secret", action="append", default=[], metavar="KEY=VALUE",
                        help="Override a config path with a secret value (never written to the output).")
    render.add_argument("--project-dir", type=Path, default=Path.cwd(),
                        help="Project directory holding stacks/ and configs/ (default: current directory).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "render":
        from pyroscope_bundle.render.command import render_command

        stacks: list[str] = args.stack
        status = 0
        for stack in stacks:
            out = args.out / stack if len(stacks) > 1 else args.out
            status = max(status, render_command(args.project_dir.resolve(), stack, out, args.set, args.set_secret))
        return status
    return 2


if __name__ == "__main__":
    sys.exit(main())
