"""Grafana on Docker: pinned image, own data volume, provisioned datasource, secret admin password."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyroscope_bundle import constants
from pyroscope_bundle.config import load_config
from pyroscope_bundle.grafana.docker import PROVISIONING_FILE, grafana_envs, grafana_url

from tests.harness import Deployed, deploy_with

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
DOCKER = {"server": {"backend": "docker"}, "grafana": {"mode": "docker"}}
CANARY = "canary-grafana-admin-3b9d-do-not-leak"


def local_resources(rendered: dict[str, Path]) -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads((rendered["local"] / "resources.json").read_text())
    return {(entry["type"], entry["name"]): entry for entry in document["resources"]}


def upload_index(container: dict[str, Any], path: str) -> int:
    files = [upload["file"] for upload in container["uploads"]]
    assert files.count(path) == 1, files
    return files.index(path)


def provisioning(deployed: Deployed) -> dict[str, Any]:
    container = deployed.one(CONTAINER, "grafana").inputs
    document = yaml.safe_load(container["uploads"][upload_index(container, PROVISIONING_FILE)]["content"])
    assert isinstance(document, dict)
    return document


def with_grafana(**grafana: Any) -> dict[str, Any]:
    return {"server": {"backend": "docker"}, "grafana": {"mode": "docker", **grafana}}


# --- the real `local` stack -----------------------------------------------------------------------


def test_local_stack_grafana_container(rendered):
    resources = local_resources(rendered)
    image = resources[(IMAGE, "grafana-image")]["inputs"]
    assert image["name"] == f"grafana/grafana:{constants.GRAFANA_DEFAULT_VERSION}"
    assert image["keepLocally"] is True
    entry = resources[(CONTAINER, "grafana")]
    container = entry["inputs"]
    assert container["name"] == "pyroscope-grafana"
    assert container["ports"] == [{"external": 3000, "internal": 3000, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert container["networksAdvanced"] == [{"aliases": ["grafana"], "name": "pyroscope"}]
    assert container["volumes"] == [{"containerPath": "/var/lib/grafana", "volumeName": "grafana-data"}]
    assert container["restart"] == "unless-stopped"
    assert container["healthcheck"]["tests"][:2] == ["CMD", "curl"]
    assert container["healthcheck"]["tests"][-1] == "http://127.0.0.1:3000/api/health"
    assert container["capabilities"] == {"drops": ["ALL"]}
    assert container["securityOpts"] == ["no-new-privileges:true"]
    assert entry["options"]["deleteBeforeReplace"] is True


def test_local_stack_grafana_volume_is_retained(rendered):
    volume = local_resources(rendered)[(VOLUME, "grafana-data")]
    assert volume["inputs"]["name"] == "grafana-data"
    assert volume["options"]["retainOnDelete"] is True


def test_local_stack_envs_hold_no_password(rendered):
    envs = local_resources(rendered)[(CONTAINER, "grafana")]["inputs"]["envs"]
    assert f"GF_SECURITY_ADMIN_PASSWORD__FILE={constants.GRAFANA_ADMIN_PASSWORD_FILE}" in envs
    assert not [env for env in envs if env.startswith("GF_SECURITY_ADMIN_PASSWORD=")]
    assert "GF_AUTH_ANONYMOUS_ENABLED=false" in envs
    assert "GF_ANALYTICS_REPORTING_ENABLED=false" in envs


def test_local_stack_renders_the_provisioning_file(rendered):
    path = rendered["local"] / "files/docker/pyroscope-grafana" / PROVISIONING_FILE.lstrip("/")
    document = yaml.safe_load(path.read_text())
    assert document["apiVersion"] == 1
    (datasource,) = document["datasources"]
    assert datasource["type"] == "grafana-pyroscope-datasource"
    assert datasource["url"] == "http://pyroscope:4040"
    assert datasource["uid"] == "pyroscope"
    assert datasource["access"] == "proxy"


def test_local_stack_renders_the_password_file_redacted(rendered):
    path = (
        rendered["local"]
        / "files/docker/pyroscope-grafana"
        / constants.GRAFANA_ADMIN_PASSWORD_FILE.lstrip("/")
    )
    assert path.read_text().strip() == constants.REDACTED


def test_local_stack_outputs(rendered):
    outputs = json.loads((rendered["local"] / "outputs.json").read_text())
    assert outputs["grafanaUrl"] == "http://127.0.0.1:3000"
    assert outputs["grafanaAdminPassword"] == constants.REDACTED
    assert outputs["datasourceUid"] == "pyroscope"
    assert outputs["grafanaVersion"] == constants.GRAFANA_DEFAULT_VERSION


# --- admin password -------------------------------------------------------------------------------


def test_generated_password_is_random_and_secret():
    deployed = deploy_with(DOCKER)
    password = deployed.one(RANDOM_PASSWORD, "grafana-admin-password")
    assert password.inputs["length"] >= 20
    container = deployed.one(CONTAINER, "grafana")
    index = upload_index(container.inputs, constants.GRAFANA_ADMIN_PASSWORD_FILE)
    assert container.is_secret("uploads", index, "content")
    # Only the password is secret: the provisioning file stays reviewable.
    assert not container.is_secret("uploads", upload_index(container.inputs, PROVISIONING_FILE))
    upload = container.inputs["uploads"][index]
    assert (upload["owner"], upload["permissions"]) == (str(constants.GRAFANA_UID), "0400")
    assert "grafanaAdminPassword" in deployed.run.secret_outputs
    assert deployed.outputs["grafanaAdminPassword"] != "admin"


def test_configured_password_is_used_and_never_shown():
    deployed = deploy_with(DOCKER, secrets={"grafanaAdminPassword": CANARY})
    assert not [r for r in deployed.of_type(RANDOM_PASSWORD) if r.name == "grafana-admin-password"]
    container = deployed.one(CONTAINER, "grafana")
    index = upload_index(container.inputs, constants.GRAFANA_ADMIN_PASSWORD_FILE)
    assert container.is_secret("uploads", index, "content")
    assert deployed.outputs["grafanaAdminPassword"] == CANARY
    assert "grafanaAdminPassword" in deployed.run.secret_outputs
    for resource in deployed.resources:
        assert CANARY not in json.dumps(resource.inputs)


def test_admin_password_key_is_accepted_but_kept_out_of_the_model():
    config = load_config({"server": {"backend": "docker"}, "grafanaAdminPassword": True}, "test")
    assert CANARY not in config.model_dump_json()


# --- datasource settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"), [("10.0.3", "phlare"), ("10.1.0", "grafana-pyroscope-datasource")]
)
def test_datasource_type_follows_the_grafana_version(version, expected):
    deployed = deploy_with(with_grafana(version=version))
    assert provisioning(deployed)["datasources"][0]["type"] == expected
    assert deployed.one(IMAGE, "grafana-image").inputs["name"] == f"grafana/grafana:{version}"


def test_tenant_header_when_multi_tenant():
    deployed = deploy_with(
        {
            "server": {"backend": "docker", "multitenancy": True, "tenants": ["team-a"]},
            "grafana": {"mode": "docker"},
        }
    )
    (datasource,) = provisioning(deployed)["datasources"]
    assert datasource["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert datasource["secureJsonData"]["httpHeaderValue1"] == "team-a"


def test_tempo_link_when_a_tempo_url_is_set():
    deployed = deploy_with(with_grafana(tempo={"url": "http://tempo:3200"}))
    pyroscope, tempo = provisioning(deployed)["datasources"]
    assert tempo["jsonData"]["tracesToProfiles"]["datasourceUid"] == pyroscope["uid"]


def test_grafana_upgrade_keeps_its_volume():
    before = deploy_with(with_grafana(version="11.0.0")).one(VOLUME, "grafana-data")
    after = deploy_with(with_grafana(version="12.3.0")).one(VOLUME, "grafana-data")
    assert (after.inputs, after.options, after.record.urn) == (
        before.inputs,
        before.options,
        before.record.urn,
    )


def test_mode_none_runs_no_grafana():
    deployed = deploy_with({"server": {"backend": "docker"}, "grafana": {"mode": "none"}})
    assert [r.name for r in deployed.of_type(CONTAINER)] == ["pyroscope"]
    assert "grafanaUrl" not in deployed.outputs


def test_envs_and_url_follow_the_publish_settings():
    grafana = load_config(
        {
            "server": {"backend": "docker"},
            "grafana": {"docker": {"publishAddress": "0.0.0.0", "hostPort": 3300}},
        },
        "test",
    ).grafana
    assert grafana_url(grafana) == "http://127.0.0.1:3300"
    assert "GF_SERVER_ROOT_URL=http://127.0.0.1:3300/" in grafana_envs(grafana)
