"""The deprecation path of the components' old ``(name, config: BundleConfig, ...)`` signatures.

Components take their own arguments now (a config section, explicit keywords); ``program.py``
maps the whole ``BundleConfig`` onto them. A caller that still passes the whole config gets a
``DeprecationWarning`` and the section the component reads (removed in 1.0, CHANGELOG.md).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyroscope_bundle.config.bundle import BundleConfig


def bundle_config(value: Any, component: str, instead: str, *, depth: int = 0) -> BundleConfig | None:
    """``value`` if it is a whole ``BundleConfig`` (warned about), else None.

    ``depth``: how many helper frames stand between the component's ``__init__`` and this call
    (the warning points at the caller of the component).
    """
    from pyroscope_bundle.config.bundle import BundleConfig

    if not isinstance(value, BundleConfig):
        return None
    warnings.warn(
        f"{component}(name, config: BundleConfig, ...) is deprecated: pass {instead} "
        "(removed in 1.0; see CHANGELOG.md)",
        DeprecationWarning,
        stacklevel=3 + depth,
    )
    return value
