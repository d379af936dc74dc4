"""Typed, validated stack configuration."""

from pyroscope_bundle.config.bundle import BundleConfig
from pyroscope_bundle.config.errors import ConfigError, Problem
from pyroscope_bundle.config.loader import load_config
from pyroscope_bundle.config.model import Service

__all__ = ["BundleConfig", "ConfigError", "Problem", "Service", "load_config", "routing"]
