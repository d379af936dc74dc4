"""Offline render: run the real program under Pulumi mocks and write what it would deploy."""

# The command behind `pyroscope-bundle render` (``command.render``); consumer tests use the
# mocks through ``pyroscope_bundle.testing``.
__all__ = ["command"]
