"""``pyroscope-bundle render``: what a stack would deploy, written to a directory, no cloud needed."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi

from pyroscope_bundle.config import ConfigError
from pyroscope_bundle.render.chart import ChartError, ChartExpander, Expansion, report
from pyroscope_bundle.render.mocks import BundleMocks, RecordingMonitor
from pyroscope_bundle.render.output_dir import OutputDirError, check_output_dir, write_output
from pyroscope_bundle.render.runner import ProgramRun, run_program
from pyroscope_bundle.render.stackfile import StackConfig, StackFileError, apply_override, read_stack_file
from pyroscope_bundle.render.writer import write_render


class RenderError(Exception):
    """A render that could not run: bad config or flags. Its text is for the user as is."""


@dataclass
class RenderResult:
    run: ProgramRun
    counts: dict[str, int]
    charts: list[Expansion]


def load_stack_config(project_dir: Path, stack: str, sets: list[str], secret_sets: list[str]) -> StackConfig:
    try:
        config = read_stack_file(project_dir, stack)
        for assignment in sets:
            apply_override(config, assignment, secret=False, flag="--set")
        for assignment in secret_sets:
            apply_override(config, assignment, secret=True, flag="--set-secret")
    except StackFileError as error:
        raise RenderError(str(error)) from None
    return config


def run_stack(
    project_dir: Path, stack: str, config: StackConfig, *, chart: Path | None = None
) -> tuple[ProgramRun, list[Expansion]]:
    """Run the real program for ``stack`` under mocks, expanding its Charts (from ``chart``, else
    Helm's cache); bad config or a wrong chart raises :class:`RenderError`."""
    from pyroscope_bundle.program import main

    region = config.values.get("aws:region")
    monitor = RecordingMonitor(BundleMocks(region=region if isinstance(region, str) else None))
    expander = ChartExpander(monitor.recording, chart)
    monitor.on_record = expander.on_record
    try:
        run = run_program(
            lambda: main(project_dir),
            stack=stack,
            config=config.values,
            secret_keys=sorted(config.secret_keys),
            monitor=monitor,
        )
        return run, expander.finish()
    except (pulumi.RunError, ConfigError) as error:
        raise RenderError(str(error)) from None
    except ChartError as error:
        raise RenderError(f"--chart: {error}") from None


def render(
    project_dir: Path,
    stack: str,
    out_dir: Path,
    sets: list[str] | None = None,
    secret_sets: list[str] | None = None,
    *,
    chart: Path | None = None,
) -> RenderResult:
    """Render ``stack``; ``chart`` is the Helm chart archive or directory to expand (else Helm's cache)."""
    check_output_dir(out_dir, [project_dir, Path.cwd()])
    config = load_stack_config(project_dir, stack, sets or [], secret_sets or [])
    run, charts = run_stack(project_dir, stack, config, chart=chart)
    counts = write_output(out_dir, lambda staging: write_render(run, staging, stack, config.atoms))
    return RenderResult(run=run, counts=counts, charts=charts)


def summary(stack: str, out_dir: Path, result: RenderResult) -> str:
    """One line per stack: what it registers and where the review files are."""
    records = result.run.recording.resources
    custom = sum(1 for record in records if record.custom)
    protected = sum(1 for record in records if record.options.get("protect"))
    retained = sum(1 for record in records if record.options.get("retainOnDelete"))
    counts = result.counts
    return (
        f"{stack}: {custom} resources in {len(records) - custom} components "
        f"({protected} protected, {retained} retained on delete), "
        f"{counts['kubernetes']} Kubernetes objects, {counts['ecs']} ECS task definitions, "
        f"{counts['files']} config files -> {out_dir}"
    )


def render_command(
    project_dir: Path,
    stack: str,
    out_dir: Path,
    sets: list[str],
    secret_sets: list[str],
    *,
    chart: Path | None = None,
) -> int:
    try:
        result = render(project_dir, stack, out_dir, sets, secret_sets, chart=chart)
    except (RenderError, OutputDirError) as error:
        print(f"error: stack {stack}: {error}", file=sys.stderr)
        return 2
    report(result.charts)
    print(summary(stack, out_dir, result))
    return 0
