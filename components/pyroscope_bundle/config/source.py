"""Read the ``pyroscope:*`` keys from Pulumi's config, for :func:`load_config`."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from pyroscope_bundle import constants
from pyroscope_bundle.config.errors import ConfigError, Problem, key_path
from pyroscope_bundle.config.loader import SECRET_KEYS

_PREFIX = f"{constants.PROJECT_NAME}:"


@dataclass(frozen=True)
class StackSecrets:
    """The secret keys of the project namespace, as secret Outputs (None when unset)."""

    auth_token: pulumi.Output[str] | None = None
    grafana_admin_password: pulumi.Output[str] | None = None


# Namespaces that are not ours although they look alike (the providers this bundle configures).
OTHER_NAMESPACES = frozenset({"aws", "kubernetes", "docker", "grafana", "random", "pulumi", "tls", "command"})


def namespace_typos(keys: set[str]) -> list[Problem]:
    """Keys of a namespace that is a misspelling of ``pyroscope`` (``pyroscpe:server``): Pulumi
    passes them on and the program would silently run with defaults instead."""
    ours = constants.PROJECT_NAME
    problems: list[Problem] = []
    for full_key in sorted(keys):
        namespace, sep, key = full_key.partition(":")
        if not sep or namespace == ours or namespace in OTHER_NAMESPACES:
            continue
        lowered = namespace.lower()
        if lowered.startswith(ours) or difflib.SequenceMatcher(None, lowered, ours).ratio() >= 0.75:
            problems.append(
                Problem(
                    full_key,
                    f"is in namespace {namespace!r}, not {ours!r}; rename it to {ours}:{key}",
                    has_value=False,
                )
            )
    return problems


def read_raw_config() -> tuple[dict[str, Any], StackSecrets]:
    """Every key of the project namespace (parsed), and the secret keys as secret Outputs.

    Secrets are returned separately and never enter the validated model, so they cannot leak
    into anything built from plain configuration.
    """
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    secret_keys = set(runtime_config.get_config_secret_keys_env())

    def is_secret(full_key: str) -> bool:
        return full_key in secret_keys or runtime_config.is_config_secret(full_key)

    problems = namespace_typos(keys) + [
        Problem(
            key_path(key),
            f"is a plain value, so it sits unencrypted in the stack file; set it with "
            f"`pulumi config set --secret {key} ...` (and remove the plain one)",
            has_value=False,
        )
        for key in SECRET_KEYS
        if _PREFIX + key in keys and not is_secret(_PREFIX + key)
    ]
    misplaced = [
        Problem(
            key_path(full_key[len(_PREFIX) :]),
            "holds a secret (set with --secret), but its values are deployed in plain text; keep "
            f"secrets in {' and '.join(key_path(k) for k in SECRET_KEYS)}",
            has_value=False,
        )
        for full_key in sorted(keys)
        if full_key.startswith(_PREFIX)
        and full_key[len(_PREFIX) :] not in SECRET_KEYS
        and is_secret(full_key)
    ]
    if problems + misplaced:
        raise ConfigError(problems + misplaced)
    raw: dict[str, Any] = {}
    for full_key in sorted(k for k in keys if k.startswith(_PREFIX)):
        key = full_key[len(_PREFIX) :]
        if key in SECRET_KEYS:
            raw[key] = True
            continue
        text = runtime_config.get_config(full_key)
        try:
            raw[key] = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError:
            # A plain string where a structure belongs: the model names the key and what it needs.
            raw[key] = text
    project = pulumi.Config(constants.PROJECT_NAME)
    return raw, StackSecrets(
        auth_token=project.get_secret("authToken"),
        grafana_admin_password=project.get_secret("grafanaAdminPassword"),
    )
