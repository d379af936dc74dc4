"""Grafana datasource provisioning documents: the one builder the Docker Grafana, the Kubernetes
sidecar object and the API mode all use.

The plugin type id depends on the Grafana version (``grafana-pyroscope-datasource`` since 10.1,
``phlare`` before). Credentials never enter this module as Outputs: callers pass a reference
(``$__file{path}``, which Grafana expands at provisioning time) or call the builders inside the
``apply`` of a secret Output, whose result stays secret.

Behind the gateway with multi-tenancy, Grafana gets one datasource per tenant: the gateway user
IS the tenant (the gateway sets ``X-Scope-OrgID`` from it), so the datasources carry basic auth
and no tenant header. The first tenant of ``pyroscope:server.tenants`` keeps the configured uid
and name - dashboards, the Tempo trace->profile link and the ``datasourceUid`` output keep
pointing at it, and turning the gateway on updates that datasource in place instead of adding a
second one; every other tenant gets ``<uid>-<tenant>`` and ``<name> (<tenant>)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from pyroscope_bundle import constants
from pyroscope_bundle.config.model import Datasource, Grafana
from pyroscope_bundle.config.types import version_tuple
from pyroscope_bundle.endpoints import Endpoint

# Grafana's default profile type for trace -> profile links (CPU time).
CPU_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
GRAFANA_MAX_UID_LENGTH = constants.GRAFANA_MAX_UID_LENGTH


@dataclass(frozen=True)
class DatasourceIdentity:
    """How one Pyroscope datasource is known in Grafana."""

    uid: str
    name: str
    # The tenant (= gateway user) it queries as; None for the single datasource.
    tenant: str | None = None


@dataclass(frozen=True)
class DatasourceTarget:
    """One datasource to provision: who it is and where (and as whom) it queries."""

    identity: DatasourceIdentity
    endpoint: Endpoint


def datasource_identities(datasource: Datasource, tenants: Sequence[str]) -> list[DatasourceIdentity]:
    """One identity per tenant (the first keeps the configured uid/name), or the configured one."""
    if not tenants:
        return [DatasourceIdentity(datasource.uid, datasource.name)]
    identities = [DatasourceIdentity(datasource.uid, datasource.name, tenants[0])]
    identities += [
        DatasourceIdentity(f"{datasource.uid}-{tenant}", f"{datasource.name} ({tenant})", tenant)
        for tenant in tenants[1:]
    ]
    for identity in identities:
        if len(identity.uid) > GRAFANA_MAX_UID_LENGTH:
            raise ValueError(
                f"pyroscope:grafana.datasource.uid {datasource.uid!r} with tenant {identity.tenant!r} "
                f"makes the datasource uid {identity.uid!r}, longer than Grafana's "
                f"{GRAFANA_MAX_UID_LENGTH} characters: use a shorter uid or tenant"
            )
    return identities


def datasource_targets(
    grafana: Grafana, query: Endpoint | None, per_tenant: Mapping[str, Endpoint] | None = None
) -> list[DatasourceTarget]:
    """The datasources for a server: one per tenant when ``per_tenant`` is given, else one."""
    if query is None:
        # The routing gives no query endpoint only for a multi-tenant server without any tenant.
        raise ValueError(
            "no tenant to query the multi-tenant server as: set pyroscope:server.tenants "
            "(or pyroscope:target.tenantId)"
        )
    if not per_tenant:
        return [DatasourceTarget(datasource_identities(grafana.datasource, [])[0], query)]
    identities = datasource_identities(grafana.datasource, list(per_tenant))
    return [DatasourceTarget(identity, per_tenant[str(identity.tenant)]) for identity in identities]


def provisioning_literal(value: str) -> str:
    """``value`` as a literal in a provisioning file: Grafana expands ``$VAR``, ``${VAR}``,
    ``$__env{}`` and ``$__file{}`` in every value and reads ``$$`` as one ``$``
    (grafana/grafana ``pkg/services/provisioning/values``)."""
    return value.replace("$", "$$")


def datasource_type(grafana_version: str) -> str:
    """``grafana-pyroscope-datasource`` for Grafana >= 10.1, else the legacy ``phlare`` alias."""
    if version_tuple(grafana_version)[:2] >= constants.DATASOURCE_TYPE_MIN_GRAFANA:
        return constants.DATASOURCE_TYPE
    return constants.DATASOURCE_TYPE_LEGACY


def pyroscope_datasource(
    grafana: Grafana,
    *,
    url: str,
    tenant_id: str | None = None,
    basic_auth_user: str | None = None,
    password_reference: str | None = None,
    identity: DatasourceIdentity | None = None,
) -> dict[str, Any]:
    """One Pyroscope datasource entry (a tenant header when ``tenant_id`` is given).

    ``password_reference`` goes into ``secureJsonData.basicAuthPassword`` as it is: a
    ``$__file{path}`` reference, or (inside a secret Output's apply) the escaped password.
    """
    datasource = grafana.datasource
    identity = identity or DatasourceIdentity(datasource.uid, datasource.name)
    entry: dict[str, Any] = {
        "name": identity.name,
        "type": datasource_type(grafana.version),
        "uid": identity.uid,
        "access": "proxy",
        "url": url,
        "orgId": 1,
        # Grafana refuses two defaults in one org: only the configured (first tenant's) one.
        "isDefault": datasource.is_default and identity.uid == datasource.uid,
        "editable": False,
        "jsonData": {"minStep": datasource.min_step.text},
    }
    secure: dict[str, str] = {}
    if basic_auth_user is not None:
        entry["basicAuth"] = True
        entry["basicAuthUser"] = basic_auth_user
        if password_reference is not None:
            secure["basicAuthPassword"] = password_reference
    if tenant_id is not None:
        entry["jsonData"]["httpHeaderName1"] = constants.TENANT_HEADER
        secure["httpHeaderValue1"] = tenant_id
    if secure:
        entry["secureJsonData"] = secure
    return entry


def traces_to_profiles(grafana: Grafana) -> dict[str, Any]:
    """Tempo's ``jsonData.tracesToProfiles``: span -> CPU profile of the same service."""
    return {
        "datasourceUid": grafana.datasource.uid,
        "profileTypeId": CPU_PROFILE_TYPE,
        "tags": [{"key": "service.name", "value": "service_name"}],
        "customQuery": False,
    }


def tempo_datasource(grafana: Grafana) -> dict[str, Any] | None:
    """A Tempo datasource linking spans to the Pyroscope datasource, when a Tempo URL is set."""
    tempo = grafana.tempo
    if tempo.url is None:
        return None
    return {
        "name": tempo.name,
        "type": "tempo",
        "uid": tempo.datasource_uid,
        "access": "proxy",
        "url": tempo.url,
        "orgId": 1,
        "editable": False,
        "jsonData": {"tracesToProfiles": traces_to_profiles(grafana)},
    }


def linked_tempo_json_data(existing_json_data: str | None, grafana: Grafana) -> str:
    """An EXISTING Tempo datasource's jsonData with the profiles link set, everything else kept
    (``grafana.tempo.existing``: the whole jsonData is written back through the API)."""
    current = json.loads(existing_json_data) if existing_json_data else {}
    if not isinstance(current, dict):
        current = {}
    return json.dumps({**current, "tracesToProfiles": traces_to_profiles(grafana)}, sort_keys=True)


def provisioning_document(
    grafana: Grafana, pyroscope: dict[str, Any] | Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The whole provisioning file: the Pyroscope datasource(s) and the optional Tempo link."""
    datasources = [pyroscope] if isinstance(pyroscope, dict) else list(pyroscope)
    tempo = tempo_datasource(grafana)
    if tempo is not None:
        datasources.append(tempo)
    return {"apiVersion": 1, "datasources": datasources}


def provisioning_yaml(grafana: Grafana, pyroscope: dict[str, Any] | Sequence[dict[str, Any]]) -> str:
    header = "# Generated by pyroscope-bundle from pyroscope:grafana; do not edit by hand.\n"
    return header + yaml.safe_dump(
        provisioning_document(grafana, pyroscope), sort_keys=True, default_flow_style=False
    )
