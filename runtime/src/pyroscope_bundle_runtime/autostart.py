"""Import this first thing in a service's entry point to start profiling::

    import pyroscope_bundle_runtime.autostart  # noqa: F401  (starts the Pyroscope agent)

It reads the environment the bundle's wiring sets (:mod:`pyroscope_bundle_runtime.contract`)
and starts the pyroscope-io agent once per process; when profiling is switched off, not wired
or misconfigured it logs why and does nothing (see :func:`.bootstrap.start`). Importing it again
does nothing more.
"""

from __future__ import annotations

from pyroscope_bundle_runtime.bootstrap import start

# Whether the agent runs in this process (False: the log says why).
STARTED: bool = start()
