"""Pulumi entry point: a thin composition of the pyroscope_bundle components, driven by stack config."""

from pathlib import Path

from pyroscope_bundle.program import run

run(Path(__file__).resolve().parent)
