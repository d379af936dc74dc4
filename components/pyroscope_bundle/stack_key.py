"""The stack's own secret key: one pulumi-random ``RandomPassword`` per stack, kept in its state.

Everything that must be unguessable from the outside yet stable across ``pulumi up`` runs is
derived from it with HMAC-SHA256 and a purpose label (so one derived value says nothing about
another): the gateway's htpasswd salts (:mod:`pyroscope_bundle.gateway.credentials`) and the
rollout hash of a password (:func:`pyroscope_bundle.wiring.settings.credentials_hash`).

The key is registered the first time a part of the program asks for it, at the root of the
stack (its URN never depends on which part asked first), and the same Output is handed to every
later caller of the same program run. Every stack - the profiling stack, one that only wires
services to Grafana Cloud, a consumer stack - has a key of its own, so equal passwords in two
stacks never give equal derived values.
"""

from __future__ import annotations

import hashlib
import hmac

import pulumi

from pyroscope_bundle.run_state import run_state

RESOURCE_NAME = "pyroscope-stack-key"
KEY_LENGTH = 64


def stack_key() -> pulumi.Output[str]:
    """This stack's key (a secret Output), registering its ``RandomPassword`` on first use."""
    state = run_state()
    found: pulumi.Output[str] | None = state.get(RESOURCE_NAME)
    if found is not None:
        return found
    import pulumi_random as random

    key = pulumi.Output.secret(random.RandomPassword(RESOURCE_NAME, length=KEY_LENGTH, special=False).result)
    state[RESOURCE_NAME] = key
    return key


def derive(key: str, purpose: str, *parts: str) -> bytes:
    """HMAC-SHA256 of ``purpose`` and ``parts`` (NUL-separated) under ``key``."""
    message = "\0".join((purpose, *parts)).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).digest()
