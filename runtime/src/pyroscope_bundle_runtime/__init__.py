"""What runs inside profiled services: the environment contract and the Python agent autostart.

- :mod:`.contract` - every ``PYROSCOPE_*`` name the wiring sets and its format (the single
  source of truth; the ``pyroscope-bundle`` Pulumi components import it from here);
- :mod:`.bootstrap` - read the contract and configure ``pyroscope-io`` (no side effects);
- :mod:`.autostart` - ``import pyroscope_bundle_runtime.autostart`` starts the agent.

Only dependency: ``pyroscope-io``; no Pulumi package is needed in a service image.
"""

from __future__ import annotations

# The distribution's version (pyproject reads it from here); released with pyroscope-bundle.
__version__ = "0.2.0"

__all__ = ["__version__"]
