"""State that lives for one program run, such as the stack key or the names components claim.

Keyed by the run's resource monitor: ``pulumi up`` has one, and each ``set_mocks`` call makes a
new one, so nothing leaks from one run (or mocked test session) into the next.
"""

from __future__ import annotations

import weakref
from typing import Any

import pulumi

__all__ = ["run_state"]

_STATE: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_UNWEAKABLE: dict[int, tuple[Any, dict[str, Any]]] = {}


def run_state() -> dict[str, Any]:
    """This run's state: one dict per resource monitor, each owner under a key of its own."""
    monitor = pulumi.runtime.settings.get_monitor()
    try:
        return _STATE.setdefault(monitor, {})
    except TypeError:  # a monitor that takes no weak reference (or none yet)
        entry = _UNWEAKABLE.get(id(monitor))
        if entry is None or entry[0] is not monitor:
            entry = _UNWEAKABLE[id(monitor)] = (monitor, {})
        return entry[1]
