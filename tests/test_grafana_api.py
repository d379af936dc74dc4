"""The datasource in an existing Grafana through pulumiverse-grafana (pyroscope:grafana.mode api)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.grafana.api import datasource_args

from tests.harness import deploy_with

DATASOURCE = "grafana:oss/dataSource:DataSource"
PROVIDER = "pulumi:providers:grafana"
GRAFANA_URL = "https://grafana.example.com"
CANARY = "canary-api-token-51c2-do-not-leak"


def api(**grafana: Any) -> dict[str, Any]:
    return {"mode": "api", "api": {"url": GRAFANA_URL, **grafana.pop("api", {})}, **grafana}


def test_datasource_in_existing_grafana_for_the_docker_server():
    deployed = deploy_with(
        {"server": {"backend": "docker"}, "grafana": api()}, extra={"grafana:auth": CANARY}
    )
    provider = deployed.one(PROVIDER)
    assert provider.inputs["url"] == GRAFANA_URL
    # The provider's own credentials (grafana:auth), kept secret.
    assert provider.is_secret("auth")
    datasource = deployed.one(DATASOURCE, "pyroscope-datasource").inputs
    assert datasource["type"] == "grafana-pyroscope-datasource"
    assert datasource["uid"] == "pyroscope"
    assert datasource["url"] == "http://pyroscope:4040"
    assert datasource["accessMode"] == "proxy"
    assert json.loads(datasource["jsonDataEncoded"]) == {"minStep": "15s"}
    # No Grafana container: the Grafana exists already.
    assert [r.name for r in deployed.of_type("docker:index/container:Container")] == ["pyroscope"]
    assert deployed.outputs["datasourceUid"] == "pyroscope"
    assert deployed.outputs["grafanaUrl"] == GRAFANA_URL
    for resource in deployed.resources:
        assert CANARY not in json.dumps(resource.inputs)


def test_pyroscope_url_override_and_legacy_type():
    deployed = deploy_with(
        {
            "server": {"backend": "docker"},
            "grafana": api(version="10.0.0", api={"pyroscopeUrl": "http://10.0.0.5:4040"}),
        }
    )
    datasource = deployed.one(DATASOURCE, "pyroscope-datasource").inputs
    assert (datasource["type"], datasource["url"]) == ("phlare", "http://10.0.0.5:4040")


def test_tenant_header_goes_to_http_headers():
    deployed = deploy_with(
        {"server": {"backend": "docker", "multitenancy": True, "tenants": ["team-a"]}, "grafana": api()}
    )
    datasource = deployed.one(DATASOURCE, "pyroscope-datasource")
    assert datasource.is_secret("httpHeaders")
    assert datasource.raw_inputs["httpHeaders"]
    assert "httpHeaderName1" not in json.loads(datasource.inputs["jsonDataEncoded"])


def test_tempo_datasource_links_to_pyroscope():
    deployed = deploy_with(
        {"server": {"backend": "docker"}, "grafana": api(tempo={"url": "http://tempo:3200"})}
    )
    tempo = deployed.one(DATASOURCE, "tempo-datasource").inputs
    assert tempo["type"] == "tempo"
    assert json.loads(tempo["jsonDataEncoded"])["tracesToProfiles"]["datasourceUid"] == "pyroscope"


def test_external_server_with_basic_auth_uses_the_auth_token_as_a_secret():
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "target": {"kind": "external", "url": "https://pyroscope.example.com", "basicAuthUser": "svc"},
            "grafana": api(api={"pyroscopeUrl": "https://pyroscope.example.com"}),
        },
        secrets={"authToken": CANARY},
    )
    datasource = deployed.one(DATASOURCE, "pyroscope-datasource")
    assert datasource.inputs["url"] == "https://pyroscope.example.com"
    assert datasource.inputs["basicAuthEnabled"] is True
    assert datasource.inputs["basicAuthUsername"] == "svc"
    assert datasource.is_secret("secureJsonDataEncoded")
    for resource in deployed.resources:
        assert CANARY not in json.dumps(resource.inputs)


def test_without_a_server_the_pyroscope_url_is_required():
    with pytest.raises(ConfigError, match=r"pyroscope:grafana\.api\.pyroscopeUrl"):
        load_config(
            {
                "server": {"enabled": False},
                "target": {"kind": "external", "url": "https://pyroscope.example.com"},
                "grafana": api(),
            },
            "test",
        )


def test_datasource_args_translation():
    entry = {
        "name": "Pyroscope",
        "type": "grafana-pyroscope-datasource",
        "uid": "pyroscope",
        "access": "proxy",
        "url": "http://pyroscope:4040",
        "isDefault": True,
        "basicAuth": True,
        "basicAuthUser": "svc",
        "jsonData": {"minStep": "15s", "httpHeaderName1": "X-Scope-OrgID"},
        "secureJsonData": {"httpHeaderValue1": "team-a", "basicAuthPassword": "$__file{x}"},
    }
    args = datasource_args(entry)
    assert args["http_headers"] == {"X-Scope-OrgID": "team-a"}
    assert json.loads(args["json_data_encoded"]) == {"minStep": "15s"}
    assert (args["basic_auth_enabled"], args["basic_auth_username"]) == (True, "svc")
    assert args["is_default"] is True
    # Secure data is filled from secret Outputs by the caller, never passed through here.
    assert "secure_json_data_encoded" not in args
