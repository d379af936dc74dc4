"""Deprecated: ``import pyroscope_bundle_runtime.autostart`` instead (from ``pyroscope-bundle-runtime``).

Importing this module still starts the agent exactly as before (same environment, same log
lines), and re-exports the functions of :mod:`pyroscope_bundle_runtime.bootstrap`. It will be
removed in 1.0; the runtime distribution keeps a service image free of Pulumi.
"""

from __future__ import annotations

import warnings

import pyroscope_bundle_runtime.autostart
from pyroscope_bundle_runtime.bootstrap import (
    BootstrapConfig,
    ProfilerNotStarted,
    read_config,
    start,
    supported_arguments,
)

warnings.warn(
    "pyroscope_bundle.profiler.python_bootstrap is deprecated; import pyroscope_bundle_runtime.autostart",
    DeprecationWarning,
    stacklevel=2,
)
STARTED = pyroscope_bundle_runtime.autostart.STARTED

__all__ = ["STARTED", "BootstrapConfig", "ProfilerNotStarted", "read_config", "start", "supported_arguments"]
