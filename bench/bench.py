"""Benchmark: Pulumi program evaluation under mocks, the bundle vs. a hand-written program.

    .venv/bin/python bench/bench.py                      # N = 10, 100, 500; 5 runs each
    .venv/bin/python bench/bench.py --sizes 10,100 --repeat 3

For each N (half Kubernetes, half ECS services) both programs run in a fresh subprocess each
time, under the same mocks (``BundleMocks`` with the render's recording monitor), so imports
and peak memory are comparable. Measured in the child:

- time: from importing the program module to the end of the program's evaluation (every
  resource registered, every output resolved). It includes importing the provider submodules
  each program uses (the bundle imports them lazily, during evaluation), and excludes starting
  Python and importing the Pulumi SDK and the mock harness, which both pay alike;
- peak memory: the child's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end (peak
  resident set size of the whole process, imports included).

Prints markdown tables: medians, and the bundle / hand-written ratios (median of the ratios of
runs made back to back). Method and latest figures: docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ("bundle", "handwritten")
# The hand-written program grouped under the bundle's component tree (``--attribute``).
ATTRIBUTION = "handwritten-components"
DEFAULT_SIZES = (10, 100, 500)
TARGET_RATIO = 1.25


@dataclass(frozen=True)
class Sample:
    """One measurement: one program, one N, one fresh process."""

    program: str
    size: int
    seconds: float
    import_seconds: float
    cpu_seconds: float
    gc_seconds: float
    peak_rss_kib: int
    resources: int


def _ensure_importable() -> None:
    for path in (PROJECT_ROOT, PROJECT_ROOT / "components"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def run_bench_program(program: str, size: int, *, entry_point: bool = False) -> Any:
    """Run one program for ``size`` services under mocks, in this process; return the ProgramRun.

    ``entry_point``: run the bundle as ``__main__.py`` does (``program.run``: garbage collector
    tuned after the imports, a process-wide setting - fresh bench children only)."""
    _ensure_importable()
    from pyroscope_bundle.render.mocks import BundleMocks
    from pyroscope_bundle.render.runner import run_program

    from bench.workload import STACK, bundle_config, handwritten_config

    if program == "bundle":
        from pyroscope_bundle.program import main, run

        config, secret_keys = bundle_config(size)
        entry = run if entry_point else main
        return run_program(
            lambda: entry(PROJECT_ROOT),
            stack=STACK,
            config=config,
            secret_keys=secret_keys,
            mocks=BundleMocks(),
        )
    if program in ("handwritten", ATTRIBUTION):
        from bench.handwritten import program as handwritten

        config, secret_keys = handwritten_config(size, components=program == ATTRIBUTION)
        return run_program(
            lambda: handwritten(PROJECT_ROOT),
            stack=STACK,
            config=config,
            secret_keys=secret_keys,
            mocks=BundleMocks(),
        )
    raise ValueError(f"unknown program {program!r}; use one of {', '.join((*PROGRAMS, ATTRIBUTION))}")


def child(program: str, size: int, profile: Path | None = None) -> dict[str, Any]:
    """The measurement, in a fresh process: the harness first, then the timed program."""
    import gc
    import resource

    _ensure_importable()
    # Shared by both programs and not part of either: the SDK and the mock harness.
    import pulumi  # noqa: F401
    import pyroscope_bundle.render.mocks
    import pyroscope_bundle.render.runner

    import bench.workload

    collecting = [0.0, 0.0]  # start of the current collection, total

    def time_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collecting[0] = time.perf_counter()
        else:
            collecting[1] += time.perf_counter() - collecting[0]

    gc.callbacks.append(time_gc)
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu_start = time.perf_counter(), time.process_time()
    if program == "bundle":
        import pyroscope_bundle.program  # noqa: F401
    else:
        import bench.handwritten  # noqa: F401
    imported = time.perf_counter()
    run = run_bench_program(program, size, entry_point=True)
    end, cpu_end = time.perf_counter(), time.process_time()
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return {
        "program": program,
        "size": size,
        "seconds": end - start,
        "import_seconds": imported - start,
        "cpu_seconds": cpu_end - cpu_start,
        "gc_seconds": collecting[1],
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "resources": len(run.recording.resources),
    }


def measure(program: str, size: int, profile: Path | None = None) -> Sample:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", program, "--sizes", str(size)]
    if profile is not None:
        command += ["--profile", str(profile)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{program} N={size} failed:\n{completed.stderr[-4000:]}")
    return Sample(**json.loads(completed.stdout.strip().splitlines()[-1]))


Results = dict[tuple[str, int], list[Sample]]


def median(samples: list[Sample], attribute: str) -> float:
    return statistics.median(float(getattr(sample, attribute)) for sample in samples)


def ratio(results: Results, program: str, baseline: str, size: int, attribute: str = "seconds") -> float:
    """Median of the per-repetition ratios: each pair ran back to back, under the same machine load."""
    pairs = zip(results[(program, size)], results[(baseline, size)], strict=True)
    return statistics.median(float(getattr(a, attribute)) / float(getattr(b, attribute)) for a, b in pairs)


def table(results: Results, sizes: list[int]) -> str:
    """The headline table: medians per N, and the bundle / hand-written ratios."""
    lines = [
        "| N services | resources (bundle / hand-written) | time bundle | time hand-written | time ratio "
        "| peak RSS bundle | peak RSS hand-written | memory ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        bundle, baseline = results[("bundle", size)], results[("handwritten", size)]
        lines.append(
            f"| {size} | {bundle[0].resources} / {baseline[0].resources} "
            f"| {median(bundle, 'seconds'):.2f} s | {median(baseline, 'seconds'):.2f} s "
            f"| {ratio(results, 'bundle', 'handwritten', size):.2f}x "
            f"| {median(bundle, 'peak_rss_kib') / 1024:.0f} MiB "
            f"| {median(baseline, 'peak_rss_kib') / 1024:.0f} MiB "
            f"| {ratio(results, 'bundle', 'handwritten', size, 'peak_rss_kib'):.2f}x |"
        )
    return "\n".join(lines)


def detail(results: Results, sizes: list[int], programs: tuple[str, ...]) -> str:
    lines = [
        "| N | program | resources | median time | of which program import | of which GC | median CPU "
        "| peak RSS | samples (s) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        for program in programs:
            samples = results[(program, size)]
            lines.append(
                f"| {size} | {program} | {samples[0].resources} | {median(samples, 'seconds'):.2f} s "
                f"| {median(samples, 'import_seconds'):.2f} s | {median(samples, 'gc_seconds'):.2f} s "
                f"| {median(samples, 'cpu_seconds'):.2f} s "
                f"| {median(samples, 'peak_rss_kib') / 1024:.0f} MiB "
                f"| {', '.join(f'{s.seconds:.2f}' for s in samples)} |"
            )
    return "\n".join(lines)


def attribution(results: Results, sizes: list[int]) -> str:
    """Split the bundle's extra time: its component tree vs. everything else it does."""
    lines = [
        "| N | hand-written + bundle's components / hand-written | bundle / hand-written + components |",
        "|---:|---:|---:|",
    ]
    for size in sizes:
        lines.append(
            f"| {size} | {ratio(results, ATTRIBUTION, 'handwritten', size):.2f}x "
            f"| {ratio(results, 'bundle', ATTRIBUTION, size):.2f}x |"
        )
    return "\n".join(lines)


def profile_summary(path: Path, limit: int = 15) -> str:
    """Where the bundle's time goes: own time per area, then the bundle's own functions."""
    import pstats

    stats: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    own: list[tuple[float, float, int, str]] = []
    for (filename, line, function), (_, calls, tottime, cumtime, _) in stats.items():
        if "pyroscope_bundle/render" in filename:
            area = "mock harness (render runner and monitor, shared)"
        elif "pyroscope_bundle" in filename:
            area = "pyroscope_bundle (the bundle's code)"
            own.append((cumtime, tottime, calls, f"{filename.split('components/')[-1]}:{line}({function})"))
        elif "/pulumi/" in filename:
            area = "pulumi SDK"
        elif "/pulumi_" in filename:
            area = "pulumi provider SDKs (generated)"
        elif "google/protobuf" in filename or "grpc" in filename:
            area = "protobuf / gRPC (mock monitor)"
        elif "asyncio" in filename:
            area = "asyncio"
        elif "importlib" in filename or function in ("<built-in method marshal.loads>", "<module>"):
            area = "imports"
        elif "pydantic" in filename:
            area = "pydantic"
        else:
            area = "stdlib and builtins (typing at import, traceback for source positions, pathlib...)"
        areas[area] = areas.get(area, 0.0) + tottime
    total = sum(areas.values())
    lines = ["| area (own time) | seconds | share |", "|---|---:|---:|"]
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        lines.append(f"| {area} | {seconds:.2f} | {seconds / total:.0%} |")
    lines += [
        "",
        "| the bundle's functions, by cumulative time | calls | own s | cumulative s |",
        "|---|---:|---:|---:|",
    ]
    for cumtime, tottime, calls, name in sorted(own, reverse=True)[:limit]:
        lines.append(f"| `{name}` | {calls} | {tottime:.2f} | {cumtime:.2f} |")
    return "\n".join(lines)


def machine() -> str:
    import os

    return (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(size < 2 for size in sizes):
        raise argparse.ArgumentTypeError("comma-separated integers >= 2 (half Kubernetes, half ECS)")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(DEFAULT_SIZES), help="comma-separated N (10,100,500)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per program and N (5)")
    parser.add_argument(
        "--attribute",
        action="store_true",
        help="also run the hand-written program under the bundle's component tree, to split the overhead",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="also profile the bundle at the largest N with cProfile, write FILE and print the top entries",
    )
    parser.add_argument("--child", choices=(*PROGRAMS, ATTRIBUTION), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.sizes[0], args.profile)))
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    programs = (*PROGRAMS, ATTRIBUTION) if args.attribute else PROGRAMS
    results: Results = {}
    started = time.perf_counter()
    for size in args.sizes:
        for repetition in range(args.repeat):
            # Rotate the order so no program always runs first (on a cooler or warmer machine).
            shift = repetition % len(programs)
            for program in programs[shift:] + programs[:shift]:
                sample = measure(program, size)
                results.setdefault((program, size), []).append(sample)
                print(
                    f"N={size:<4} {program:<22} {sample.seconds:6.2f} s  "
                    f"{sample.peak_rss_kib / 1024:6.0f} MiB  ({sample.resources} resources)",
                    file=sys.stderr,
                )
    print(f"Machine: {machine()}; {args.repeat} fresh processes per program and N, medians.\n")
    print(table(results, args.sizes))
    print()
    print(detail(results, args.sizes, programs))
    if args.attribute:
        print()
        print(attribution(results, args.sizes))
    largest = max(args.sizes)
    overall = ratio(results, "bundle", "handwritten", largest)
    verdict = "within" if overall <= TARGET_RATIO else "ABOVE"
    print(
        f"\nN={largest}: bundle / hand-written time = {overall:.2f}x, {verdict} the {TARGET_RATIO}x target. "
        f"Bench time {time.perf_counter() - started:.0f} s."
    )
    if args.profile is not None:
        measure("bundle", largest, args.profile.resolve())
        print(f"\ncProfile of the bundle at N={largest} (all of it: `python -m pstats {args.profile}`):\n")
        print(profile_summary(args.profile.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
