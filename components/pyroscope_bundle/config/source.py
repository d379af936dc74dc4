"""Read the ``pyroscope:*`` keys from Pulumi's config, for :func:`load_config`."""

from __future__ import annotations

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


def read_raw_config() -> tuple[dict[str, Any], StackSecrets]:
    """Every key of the project namespace (parsed), and the secret keys as secret Outputs.

    Secrets are returned separately and never enter the validated model, so they cannot leak
    into anything built from plain configuration.
    """
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    secret_keys = set(runtime_config.get_config_secret_keys_env())
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
        and (full_key in secret_keys or runtime_config.is_config_secret(full_key))
    ]
    if misplaced:
        raise ConfigError(misplaced)
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
