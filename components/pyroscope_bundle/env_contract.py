"""Deprecated alias of :mod:`pyroscope_bundle_runtime.contract` (kept so old imports work).

The environment contract moved to the Pulumi-free ``pyroscope-bundle-runtime`` distribution,
which ``pyroscope-bundle`` depends on: import ``from pyroscope_bundle_runtime import contract``.
This alias re-exports every public name of it and will be removed in 1.0.
"""

from __future__ import annotations

import warnings

from pyroscope_bundle_runtime.contract import *  # noqa: F403 - the alias is exactly the contract

warnings.warn(
    "pyroscope_bundle.env_contract is deprecated; import pyroscope_bundle_runtime.contract instead",
    DeprecationWarning,
    stacklevel=2,
)
