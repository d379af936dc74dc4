"""The validated configuration of one stack: every section, and the rules across them.

``BundleConfig.model_validate(data)`` (or ``BundleConfig(...)``) refuses exactly what
:func:`~pyroscope_bundle.config.loader.load_config` refuses; with
``context={"project_root": Path}`` it also checks the files the services name.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationInfo, model_validator

from pyroscope_bundle.config.checks import cross_check
from pyroscope_bundle.config.errors import ConfigError
from pyroscope_bundle.config.model import BundleFields


class BundleConfig(BundleFields):
    """The whole validated stack configuration (without secrets, which stay Pulumi Outputs)."""

    @model_validator(mode="after")
    def _check_across_sections(self, info: ValidationInfo) -> BundleConfig:
        """Cross-section rules and collisions (``checks.py``), so a config built in Python is
        checked like a stack file. ``context={"project_root": Path}`` also checks the files it names."""
        root = (info.context or {}).get("project_root")
        problems = cross_check(self, Path(root) if root is not None else None)
        if problems:
            raise ConfigError(problems)
        return self
