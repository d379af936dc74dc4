"""The Pyroscope datasource created in an existing Grafana through its HTTP API (pulumiverse-grafana).

The datasource is built by the same builder as the provisioning files (``grafana/datasource.py``)
and translated into ``grafana.oss.DataSource`` arguments. The Grafana provider's credentials are
the provider's own configuration (``pulumi config set --secret grafana:auth ...``, or the
``GRAFANA_AUTH`` environment variable): the bundle never asks for them under its own keys.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumiverse_grafana as grafana_sdk

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.grafana.datasource import pyroscope_datasource, tempo_datasource

COMPONENT_TYPE = "pyroscope-bundle:grafana:ApiDatasource"
GRAFANA_PROVIDER_NAMESPACE = "grafana"


# --- pure spec builders ---------------------------------------------------------------------------


def query_endpoint(
    config: BundleConfig, server: ServerDeployment | None, auth_token: pulumi.Output[str] | None
) -> Endpoint:
    """Where the existing Grafana reaches Pyroscope, and with which credentials.

    ``pyroscope:grafana.api.pyroscopeUrl`` wins; otherwise the stack's own server (its in-network
    or in-cluster address). Without a server, the external target's user and ``authToken``.
    """
    override = config.grafana.api.pyroscope_url
    if server is not None:
        query = server.query
        return Endpoint(
            url=override or query.url,
            basic_auth_user=query.basic_auth_user,
            basic_auth_password=query.basic_auth_password,
            tenant_id=query.tenant_id,
        )
    target = config.target
    assert override is not None  # checked by the config loader
    return Endpoint(
        url=override,
        basic_auth_user=target.basic_auth_user,
        basic_auth_password=pulumi.Output.secret(auth_token)
        if target.basic_auth_user and auth_token is not None
        else None,
        tenant_id=target.tenant_id,
    )


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


class ApiDatasource(pulumi.ComponentResource):
    """The Grafana provider for ``pyroscope:grafana.api.url`` and the datasources in that Grafana."""

    def __init__(
        self,
        name: str,
        config: BundleConfig,
        query: Endpoint,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        grafana = config.grafana
        provider = grafana_sdk.Provider(
            "grafana-api",
            url=grafana.api.url,
            # The provider's own setting; None leaves it to GRAFANA_AUTH in the environment.
            auth=pulumi.Config(GRAFANA_PROVIDER_NAMESPACE).get_secret("auth"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)

        def build(values: list[Any]) -> dict[str, Any]:
            url, user = values
            return pyroscope_datasource(grafana, url=url, tenant_id=query.tenant_id, basic_auth_user=user)

        user = query.basic_auth_user if query.basic_auth_password is not None else None
        entry = pulumi.Output.all(query.url, user).apply(build)
        args = entry.apply(datasource_args)
        secure: pulumi.Output[str] | None = None
        if query.basic_auth_password is not None:
            secure = pulumi.Output.secret(
                query.basic_auth_password.apply(lambda password: json.dumps({"basicAuthPassword": password}))
            )
        self.datasource = grafana_sdk.oss.DataSource(
            "pyroscope-datasource",
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
            opts=child,
        )
        tempo = tempo_datasource(grafana)
        self.tempo = None
        if tempo is not None:
            tempo_args = datasource_args(tempo)
            self.tempo = grafana_sdk.oss.DataSource("tempo-datasource", **tempo_args, opts=child)
        self.outputs: dict[str, Any] = {
            "grafanaUrl": grafana.api.url,
            "datasourceUid": grafana.datasource.uid,
            "grafanaVersion": grafana.version,
        }
        self.register_outputs({"datasourceUid": grafana.datasource.uid})


def deploy_api_datasource(
    config: BundleConfig,
    server: ServerDeployment | None,
    auth_token: pulumi.Output[str] | None = None,
) -> dict[str, Any]:
    """Create the datasource in the Grafana at ``pyroscope:grafana.api.url``; return stack outputs."""
    query = query_endpoint(config, server, auth_token)
    return ApiDatasource("grafana-api", config, query).outputs
