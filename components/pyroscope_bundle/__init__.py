"""pyroscope_bundle: Pulumi components for always-on continuous profiling with Grafana Pyroscope.

Import the components from their modules (``pyroscope_bundle.server.docker``, ...); this package
itself imports nothing heavy. What runs inside profiled services (the env contract, the Python
agent autostart) is the separate, Pulumi-free distribution ``pyroscope-bundle-runtime``.
"""

# The release version (pyproject reads it from here; CHANGELOG.md lists the releases).
__version__ = "0.2.0"

# The public modules and packages (imported on use: importing this package stays cheap).
__all__ = [
    "__version__",
    "component",
    "config",
    "constants",
    "endpoints",
    "gateway",
    "grafana",
    "monitoring",
    "names",
    "profiler",
    "render",
    "review",
    "server",
    "testing",
    "wiring",
]
