"""Deprecated: what runs inside profiled services is now the ``pyroscope-bundle-runtime``
distribution (module :mod:`pyroscope_bundle_runtime`), which needs no Pulumi package.

``import pyroscope_bundle.profiler.python_bootstrap`` still starts the agent (it imports
``pyroscope_bundle_runtime.autostart``) and warns; switch to ``import pyroscope_bundle_runtime.autostart``.
"""

__all__ = ["python_bootstrap"]
