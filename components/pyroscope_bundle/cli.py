"""The ``pyroscope-bundle`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


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
    render.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a config path for this render (VALUE is YAML).",
    )
    render.add_argument(
        "--set-secret",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a config path with a secret value (never written to the output).",
    )
    render.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="Project directory holding stacks/ and configs/ (default: current directory).",
    )
    render.add_argument(
        "--chart",
        type=Path,
        help="grafana/pyroscope chart archive or directory to expand (default: Helm's cache).",
    )
    _add_review_commands(commands)
    _add_smoke_command(commands)
    return parser


def _add_review_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``diff`` (compare two renders) and ``docs`` (generate the configuration reference)."""
    diff = commands.add_parser(
        "diff",
        help="Compare two render directories resource by resource; exit 0: no changes, 1: changes, 2: error.",
    )
    diff.add_argument(
        "base", type=Path, help="Render of the base (one stack, or one subdirectory per stack)."
    )
    diff.add_argument("head", type=Path, help="Render of the head, laid out like BASE.")
    diff.add_argument(
        "--format", choices=("markdown", "text"), default="text", help="Output format (default: text)."
    )
    docs = commands.add_parser("docs", help="Write docs/configuration.md from the config model.")
    docs.add_argument("--check", action="store_true", help="Do not write; exit 1 when the file is stale.")
    docs.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="Project directory holding docs/ (default: current directory).",
    )


def _run_review_command(args: argparse.Namespace) -> int:
    if args.command == "diff":
        from pyroscope_bundle.review.command import diff_command

        return diff_command(args.base, args.head, args.format)
    from pyroscope_bundle.docs_gen import docs_command

    return docs_command(args.project_dir.resolve(), check=args.check)


def _add_smoke_command(commands: argparse._SubParsersAction[Any]) -> None:
    """``smoke``: the post-``pulumi up`` health gate (push a profile, read it back)."""
    smoke = commands.add_parser(
        "smoke",
        help="Push a synthetic profile and read it back; exit 0: working, 1: failed (the reason), 2: usage.",
        # No prefix matching: "--password X" must be an error, not --password-env X.
        allow_abbrev=False,
    )
    smoke.add_argument("--url", required=True, help="Pyroscope or gateway URL, e.g. http://127.0.0.1:4040.")
    smoke.add_argument("--user", help="Basic-auth user (the tenant name on a multi-tenant gateway).")
    smoke.add_argument(
        "--password-env",
        metavar="VAR",
        help="Name of the environment variable holding the password (never pass the password itself).",
    )
    smoke.add_argument(
        "--tenant", help="X-Scope-OrgID to send (servers without a gateway; the gateway sets its own)."
    )
    smoke.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="Seconds to wait for the pushed profile to become queryable (default: 60).",
    )


def _run_smoke_command(args: argparse.Namespace) -> int:
    from pyroscope_bundle.smoke import smoke_command

    return smoke_command(args.url, args.user, args.password_env, args.tenant, args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "render":
        from pyroscope_bundle.render.command import render_command

        stacks: list[str] = args.stack
        status = 0
        for stack in stacks:
            out = args.out / stack if len(stacks) > 1 else args.out
            status = max(
                status,
                render_command(
                    args.project_dir.resolve(), stack, out, args.set, args.set_secret, chart=args.chart
                ),
            )
        return status
    if args.command in ("diff", "docs"):
        return _run_review_command(args)
    if args.command == "smoke":
        return _run_smoke_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
