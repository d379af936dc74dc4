"""The Pyroscope datasource created in an existing Grafana through its HTTP API (pulumiverse-grafana).

The datasource is built by the same builder as the provisioning files (``grafana/datasource.py``)
and translated into ``grafana.oss.DataSource`` arguments. Behind the gateway it authenticates with
the gateway's user and password (in the secret ``secure_json_data_encoded``), one datasource per
tenant with multi-tenancy. The Grafana provider's credentials are
the provider's own configuration (``pulumi config set --secret grafana:auth ...``, or the
``GRAFANA_AUTH`` environment variable): the bundle never asks for them under its own keys.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumiverse_grafana as grafana_sdk

from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config.model import Grafana
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.deprecation import bundle_config
from pyroscope_bundle.endpoints import ServerDeployment, query_endpoints
from pyroscope_bundle.grafana.datasource import (
    DatasourceTarget,
    datasource_targets,
    linked_tempo_json_data,
    pyroscope_datasource,
    tempo_datasource,
)
from pyroscope_bundle.naming import child_name, claim

# The component's name in the bundle's program; its provider is named like it.
DEFAULT_NAME = "grafana-api"
GRAFANA_PROVIDER_NAMESPACE = "grafana"


# --- pure spec builders ---------------------------------------------------------------------------


def query_targets(
    grafana: Grafana,
    routes: Routes,
    server: ServerDeployment | None,
    auth_token: pulumi.Output[str] | None,
) -> list[DatasourceTarget]:
    """Every datasource to create: one per tenant on a multi-tenant server, else one.

    The routing rule decides the URL (``pyroscope:grafana.api.pyroscopeUrl`` replaces the
    server's in-network address, e.g. the gateway's external one) and the tenants; the
    credentials are the gateway's, or - without a server of its own - the target's ``authToken``.
    """
    if server is not None:
        return datasource_targets(grafana, server.query, server.query_per_tenant)
    query, per_tenant = query_endpoints(routes, auth_token=auth_token)
    return datasource_targets(grafana, query, per_tenant)


def datasource_resource_name(target: DatasourceTarget, primary: bool, component: str = DEFAULT_NAME) -> str:
    """``pyroscope-datasource`` for the first (the name it always had), then one per tenant;
    prefixed with the component's name when it is not the default one."""
    legacy = "pyroscope-datasource" if primary else f"pyroscope-datasource-{target.identity.tenant}"
    return child_name(component, DEFAULT_NAME, legacy)


def datasource_args(entry: dict[str, Any]) -> dict[str, Any]:
    """A provisioning-file datasource entry as ``grafana.oss.DataSource`` keyword arguments.

    The provider keeps custom headers in ``http_headers`` and strips ``httpHeaderName*`` from the
    JSON data it reads back, so the tenant header moves there (no perpetual diff). Secure JSON
    data is left to the caller, who fills it from secret Outputs.
    """
    json_data = dict(entry.get("jsonData") or {})
    secure = dict(entry.get("secureJsonData") or {})
    headers: dict[str, str] = {}
    index = 1
    while f"httpHeaderName{index}" in json_data:
        headers[json_data.pop(f"httpHeaderName{index}")] = secure.pop(f"httpHeaderValue{index}")
        index += 1
    args: dict[str, Any] = {
        "name": entry["name"],
        "type": entry["type"],
        "uid": entry["uid"],
        "url": entry["url"],
        "access_mode": entry.get("access", "proxy"),
        "is_default": bool(entry.get("isDefault", False)),
        "json_data_encoded": json.dumps(json_data, sort_keys=True),
    }
    if entry.get("basicAuth"):
        args["basic_auth_enabled"] = True
        args["basic_auth_username"] = entry["basicAuthUser"]
    if headers:
        args["http_headers"] = headers
    return args


# --- resources ------------------------------------------------------------------------------------


class ApiDatasource(BundleComponent):
    """The Grafana provider for ``pyroscope:grafana.api.url`` and the datasources in that Grafana.

    The provider is named like the component; two components pointing at one Grafana need two
    ``grafana.datasource.uid``.
    """

    def __init__(
        self,
        name: str,
        grafana: Grafana,
        targets: list[DatasourceTarget],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        config = bundle_config(grafana, "ApiDatasource", "its Grafana section")
        if config is not None:
            grafana = config.grafana
        uid = f"{grafana.api.url}/{grafana.datasource.uid}"
        claim(f"ApiDatasource {name}", "pyroscope:grafana.datasource.uid", "Grafana datasource uid", uid)
        super().__init__(name, opts)
        provider = grafana_sdk.Provider(
            name,
            url=grafana.api.url,
            # The provider's own setting; None leaves it to GRAFANA_AUTH in the environment.
            auth=pulumi.Config(GRAFANA_PROVIDER_NAMESPACE).get_secret("auth"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.datasources = [
            self._datasource(grafana, target, datasource_resource_name(target, index == 0, name), child)
            for index, target in enumerate(targets)
        ]
        self.datasource = self.datasources[0]
        tempo = tempo_datasource(grafana)
        self.tempo = None
        if tempo is not None:
            tempo_args = datasource_args(tempo)
            self.tempo = grafana_sdk.oss.DataSource(
                child_name(name, DEFAULT_NAME, "tempo-datasource"), **tempo_args, opts=child
            )
        if grafana.tempo.existing:
            link_existing_tempo(
                grafana, child, child_name(name, DEFAULT_NAME, "tempo-datasource-profiles-link")
            )
        self.outputs: dict[str, Any] = {
            "grafanaUrl": grafana.api.url,
            "datasourceUid": grafana.datasource.uid,
            "grafanaVersion": grafana.version,
        }
        self.register_outputs({"datasourceUid": grafana.datasource.uid})

    @staticmethod
    def _datasource(
        grafana: Grafana, target: DatasourceTarget, name: str, opts: pulumi.ResourceOptions
    ) -> grafana_sdk.oss.DataSource:
        query = target.endpoint

        def build(values: list[Any]) -> dict[str, Any]:
            url, user = values
            return pyroscope_datasource(
                grafana,
                url=url,
                tenant_id=query.tenant_id,
                basic_auth_user=user,
                identity=target.identity,
            )

        user = query.basic_auth_user if query.basic_auth_password is not None else None
        entry = pulumi.Output.all(query.url, user).apply(build)
        args = entry.apply(datasource_args)
        secure: pulumi.Output[str] | None = None
        if query.basic_auth_password is not None:
            secure = pulumi.Output.secret(
                query.basic_auth_password.apply(lambda password: json.dumps({"basicAuthPassword": password}))
            )
        return grafana_sdk.oss.DataSource(
            name,
            type=args["type"],
            name=args["name"],
            uid=args["uid"],
            url=args["url"],
            access_mode=args["access_mode"],
            is_default=args["is_default"],
            json_data_encoded=args["json_data_encoded"],
            basic_auth_enabled=args.apply(lambda a: a.get("basic_auth_enabled", False)),
            basic_auth_username=args.apply(lambda a: a.get("basic_auth_username")),
            http_headers=args.apply(lambda a: a.get("http_headers")),
            secure_json_data_encoded=secure,
            opts=opts,
        )


def link_existing_tempo(
    grafana: Grafana, opts: pulumi.ResourceOptions, name: str = "tempo-datasource-profiles-link"
) -> None:
    """Add the profiles link to a Tempo datasource that already exists (``tempo.existing``):
    read its jsonData through the API and write it back with ``tracesToProfiles`` set, as a
    ``grafana.oss.DataSourceConfig`` on its uid (never a second DataSource with the same uid)."""
    uid = grafana.tempo.datasource_uid
    existing = grafana_sdk.oss.get_data_source_output(
        uid=uid, opts=pulumi.InvokeOutputOptions(provider=opts.provider)
    )
    grafana_sdk.oss.DataSourceConfig(
        name,
        uid=uid,
        json_data_encoded=existing.json_data_encoded.apply(
            lambda current: linked_tempo_json_data(current, grafana)
        ),
        opts=opts,
    )


def deploy_api_datasource(
    grafana: Grafana,
    routes: Routes,
    server: ServerDeployment | None,
    auth_token: pulumi.Output[str] | None = None,
    *,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    """Create the datasource in the Grafana at ``pyroscope:grafana.api.url``; return stack outputs."""
    targets = query_targets(grafana, routes, server, auth_token)
    return ApiDatasource(name, grafana, targets).outputs
