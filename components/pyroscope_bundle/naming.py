"""How a component names its children: after itself, without renaming what existing stacks hold.

A child's Pulumi name is part of its URN: renaming it makes ``pulumi up`` delete and recreate
the resource (a Grafana datasource, a Secret, a data volume). Where a component's historical
child names do not start with its default name, the component with that default name keeps
them, and every other instance prefixes them with its own name - so two instances in one
program never register the same URN.
"""

from __future__ import annotations

import pulumi

from pyroscope_bundle.run_state import run_state


def child_name(component: str, default: str, legacy: str) -> str:
    """``legacy`` for the component named ``default``, else ``<component>-<legacy>``."""
    return legacy if component == default else f"{component}-{legacy}"


# --- names only one component of a program may hold -----------------------------------------------


def _claims() -> dict[tuple[str, str], str]:
    """This program run's claims: (kind, value) -> owner."""
    claims: dict[tuple[str, str], str] = run_state().setdefault("claims", {})
    return claims


def claim(owner: str, setting: str, kind: str, value: str) -> None:
    """Refuse, before the component registers anything, a second component of this program
    taking a name only one may hold: a namespace's server, a host's Docker network, volume or
    published port, a Grafana datasource uid. Two would fight over one object at ``pulumi up``.

    ``owner``: the component (``"KubernetesPyroscope pyroscope-eu"``); ``setting``: the key the
    value comes from, named in the error.
    """
    holder = _claims().setdefault((kind, value), owner)
    if holder != owner:
        raise pulumi.RunError(
            f"{owner}: {setting} {value!r} is already used by {holder} in this program; "
            f"give each its own {setting}"
        )
