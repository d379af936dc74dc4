"""The ``pyroscope-bundle`` command: render, review, document and smoke-test profiling stacks."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyroscope_bundle_runtime import __version__ as runtime_version

from pyroscope_bundle import __version__

DESCRIPTION = """\
Offline tools for the pyroscope-bundle Pulumi program (no Pulumi CLI, cloud or credentials):
render a stack as `pulumi up` would deploy it, diff two renders for review, regenerate the
configuration reference, and smoke-test a deployed server or gateway.
"""
EPILOG = """\
examples:
  pyroscope-bundle render --stack staging --out rendered/staging
  pyroscope-bundle diff rendered-base rendered-head --format markdown
  pyroscope-bundle smoke --url http://127.0.0.1:4040
  pyroscope-bundle <command> --help      (each command's exit codes)

exit codes: 0 success, 1 the command's negative outcome (see each command), 2 usage or input error.
"""
RENDER_EPILOG = """\
example:
  pyroscope-bundle render --stack staging --out rendered/staging --set server.retention=30d

exit codes: 0 rendered; 2 bad configuration, stack file or arguments (one line per problem,
nothing written).
"""
DIFF_EPILOG = """\
example:
  pyroscope-bundle diff rendered/base rendered/head --format markdown > render-diff.md

exit codes: 0 no changes; 1 changes (printed); 2 usage error or a directory that is not a render.
"""
DOCS_EPILOG = """\
example:
  pyroscope-bundle docs --check

The file is docs/configuration.md of the bundle's checkout: the one holding the current
directory, else the one this package is installed from (editable install); --project-dir
overrides it.

exit codes: 0 written (or up to date with --check); 1 stale (--check); 2 no checkout found.
"""
SMOKE_EPILOG = """\
example:
  PYROSCOPE_PASSWORD=... pyroscope-bundle smoke --url https://profiles.example.com \\
      --user push --password-env PYROSCOPE_PASSWORD

exit codes: 0 the profile was ingested and read back; 1 failed (the reason is printed);
2 usage error (bad arguments, password variable not set).
"""
BUNDLE_PROJECT_NAME = "pyroscope-bundle"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples and exit-code paragraphs as written."""


def find_checkout(start: Path | None = None) -> Path | None:
    """The bundle checkout (Pulumi.yaml + pyproject.toml of pyroscope-bundle) holding ``start``
    (default: the current directory), else the one this package was imported from, else None."""
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for origin in candidates:
        for directory in (origin, *origin.parents):
            if _is_checkout(directory):
                return directory
    return None


def _is_checkout(directory: Path) -> bool:
    pyproject = directory / "pyproject.toml"
    if not (directory / "Pulumi.yaml").is_file() or not pyproject.is_file():
        return False
    import tomllib

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return bool(project.get("name") == BUNDLE_PROJECT_NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyroscope-bundle", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Help)
    parser.add_argument(
        "--version", action="version", version=f"pyroscope-bundle {__version__} (runtime {runtime_version})"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    render = commands.add_parser(
        "render",
        help="Run the program for a stack under Pulumi mocks and write what it would deploy.",
        description=(
            "Run the real program for each --stack under Pulumi mocks (stacks/Pulumi.<stack>.yaml) and write "
            "resources.json, kubernetes/, ecs/, files/ and outputs.json, with every secret redacted."
        ),
        epilog=RENDER_EPILOG,
        formatter_class=_Help,
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
        default=None,
        help="Project directory holding stacks/ and configs/ (default: the checkout holding the current "
        "directory, else the current directory).",
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
        description=(
            "Compare two renders resource by resource: replacements, anything touching a data volume, "
            "secrets changed (by fingerprint, never the value)."
        ),
        epilog=DIFF_EPILOG,
        formatter_class=_Help,
    )
    diff.add_argument(
        "base", type=Path, help="Render of the base (one stack, or one subdirectory per stack)."
    )
    diff.add_argument("head", type=Path, help="Render of the head, laid out like BASE.")
    diff.add_argument(
        "--format", choices=("markdown", "text"), default="text", help="Output format (default: text)."
    )
    docs = commands.add_parser(
        "docs",
        help="Write docs/configuration.md from the config model.",
        description="Generate the configuration reference (each key, default, allowed value) from the model.",
        epilog=DOCS_EPILOG,
        formatter_class=_Help,
    )
    docs.add_argument("--check", action="store_true", help="Do not write; exit 1 when the file is stale.")
    docs.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="The bundle checkout holding docs/ (default: found as described below).",
    )


def _run_review_command(args: argparse.Namespace) -> int:
    if args.command == "diff":
        from pyroscope_bundle.review.command import diff_command

        return diff_command(args.base, args.head, args.format)
    from pyroscope_bundle.docs_gen import docs_command

    if args.project_dir is not None and not _is_checkout(args.project_dir.resolve()):
        # Never write docs/configuration.md into a directory that is not the bundle's.
        print(
            f"error: --project-dir {args.project_dir}: is not a pyroscope-bundle checkout (it needs the "
            "bundle's Pulumi.yaml and pyproject.toml); pass the clone's root",
            file=sys.stderr,
        )
        return 2
    project_dir = args.project_dir or find_checkout()
    if project_dir is None:
        print(
            f"error: {Path.cwd()} is not in a pyroscope-bundle checkout and this package is not installed "
            "from one; pass --project-dir",
            file=sys.stderr,
        )
        return 2
    return docs_command(project_dir.resolve(), check=args.check)


def _add_smoke_command(commands: argparse._SubParsersAction[Any]) -> None:
    """``smoke``: the post-``pulumi up`` health gate (push a profile, read it back)."""
    smoke = commands.add_parser(
        "smoke",
        help="Push a synthetic profile and read it back; exit 0: working, 1: failed (the reason), 2: usage.",
        description=(
            "The post-`pulumi up` health gate: push one synthetic profile to --url (basic auth from "
            "--user/--password-env) and wait until a query returns it."
        ),
        epilog=SMOKE_EPILOG,
        formatter_class=_Help,
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
        "--query-password-env",
        metavar="VAR",
        help=(
            "Environment variable holding the gateway's read-only password for the read-back "
            "(stack output gatewayQueryPassword); default: the --password-env one."
        ),
    )
    smoke.add_argument(
        "--tenant", help="X-Scope-OrgID to send (servers without a gateway; the gateway sets its own)."
    )
    smoke.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=60.0,
        help="Seconds to wait for the pushed profile to become queryable (default: 60).",
    )


def _positive_seconds(text: str) -> float:
    """--timeout: a number of seconds above zero (a negative one would fail without waiting)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, e.g. 60") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0, e.g. 60")
    return seconds


def _run_smoke_command(args: argparse.Namespace) -> int:
    from pyroscope_bundle.smoke import smoke_command

    return smoke_command(
        args.url,
        args.user,
        args.password_env,
        args.tenant,
        args.timeout,
        query_password_env=args.query_password_env,
    )


class _SeverityFormatter(logging.Formatter):
    """``warning: ...`` / ``error: ...``, like the command's own messages."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def configure_logging() -> None:
    """Program warnings (``pulumi.log.warn`` under the mocks) reach stderr with their severity."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SeverityFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; ``argv`` None means a real command-line run (the console script),
    whose render also tunes the garbage collector (gc_tuning.py) - never an in-process caller."""
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.command == "render":
        import pyroscope_bundle.program  # noqa: F401 - imported before the collector is tuned
        from pyroscope_bundle.render.command import render_command

        if argv is None:
            from pyroscope_bundle.gc_tuning import tune_gc

            tune_gc()

        project_dir = (args.project_dir or find_checkout() or Path.cwd()).resolve()
        stacks: list[str] = args.stack
        status = 0
        for stack in stacks:
            out = args.out / stack if len(stacks) > 1 else args.out
            status = max(
                status, render_command(project_dir, stack, out, args.set, args.set_secret, chart=args.chart)
            )
        return status
    if args.command in ("diff", "docs"):
        return _run_review_command(args)
    if args.command == "smoke":
        return _run_smoke_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
