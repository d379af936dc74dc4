"""pyroscope_bundle: Pulumi components for always-on continuous profiling with Grafana Pyroscope.

Import the components from their modules (``pyroscope_bundle.server.docker``, ...); this package
itself imports nothing heavy, so the Python profiler bootstrap stays dependency-light.
"""

__version__ = "0.1.0"
