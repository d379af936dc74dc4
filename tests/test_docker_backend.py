"""The Docker server backend: what the `local` stack registers, and that upgrades keep the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyroscope_bundle import constants, docker_options
from pyroscope_bundle.config import load_config
from pyroscope_bundle.render.command import render
from pyroscope_bundle.server.docker import (
    healthcheck_test,
    host_url,
    internal_url,
    memory_limit_mb,
)

from tests.harness import PROJECT_DIR, Deployed, Registered, deploy_with

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
DOCKER = {"backend": "docker"}

# Every config carries the per-service usage group the monitoring rules read.
USAGE_GROUPS = {"distributor_usage_groups": {"service/${labels.service_name}": '{service_name=~".+"}'}}


def local_resources(rendered: dict[str, Path]) -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads((rendered["local"] / "resources.json").read_text())
    return {(entry["type"], entry["name"]): entry for entry in document["resources"]}


def pyroscope_container(deployed: Deployed) -> Registered:
    return deployed.one(CONTAINER, "pyroscope")


def uploaded(container: dict[str, Any], path: str) -> str:
    matches = [upload["content"] for upload in container["uploads"] if upload["file"] == path]
    assert len(matches) == 1, f"one upload to {path}"
    return matches[0]


# --- the real `local` stack -----------------------------------------------------------------------


def test_local_stack_registers_network_volume_image_and_container(rendered):
    resources = local_resources(rendered)
    network = resources[(NETWORK, "pyroscope-network")]
    assert network["inputs"]["name"] == "pyroscope"
    assert network["inputs"]["driver"] == "bridge"
    volume = resources[(VOLUME, "pyroscope-data")]
    assert volume["inputs"]["name"] == "pyroscope-data"
    assert volume["options"]["retainOnDelete"] is True
    image = resources[(IMAGE, "pyroscope-image")]
    assert image["inputs"]["name"] == f"grafana/pyroscope:{constants.PYROSCOPE_DEFAULT_VERSION}"
    assert image["inputs"]["keepLocally"] is True
    assert (CONTAINER, "pyroscope") in resources


def test_local_stack_container(rendered):
    entry = local_resources(rendered)[(CONTAINER, "pyroscope")]
    container = entry["inputs"]
    assert container["name"] == "pyroscope"
    assert container["command"] == ["-config.file=/etc/pyroscope/config.yaml"]
    assert container["volumes"] == [{"containerPath": "/data", "volumeName": "pyroscope-data"}]
    assert container["user"] == "10001:10001"
    assert container["networksAdvanced"] == [{"aliases": ["pyroscope"], "name": "pyroscope"}]
    # The OSS server has no authentication: this host only, by default.
    assert container["ports"] == [{"external": 4040, "internal": 4040, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert container["restart"] == "unless-stopped"
    assert container["memory"] == 4096
    assert container["healthcheck"]["tests"] == [
        "CMD",
        "/usr/bin/profilecli",
        "ready",
        "--url=http://127.0.0.1:4040",
    ]
    assert container["healthcheck"]["retries"] > 0
    assert container["wait"] is True
    assert container["capabilities"] == {"drops": ["ALL"]}
    assert container["securityOpts"] == ["no-new-privileges:true"]
    assert container["logDriver"] == "json-file"
    assert container["logOpts"] == {"max-file": "5", "max-size": "10m"}
    # Fixed name and host port: the old container has to go before its replacement starts.
    assert entry["options"]["deleteBeforeReplace"] is True


def test_local_stack_container_runs_the_pinned_image(rendered):
    resources = local_resources(rendered)
    container = resources[(CONTAINER, "pyroscope")]
    assert container["inputs"]["image"].startswith("mock-image-")  # the RemoteImage's image id
    assert "pyroscope-image" in container["options"]["dependsOn"]
    assert "pyroscope-data" in container["options"]["dependsOn"]


def test_local_stack_renders_the_pyroscope_config(rendered):
    path = rendered["local"] / "files/docker/pyroscope/etc/pyroscope/config.yaml"
    document = yaml.safe_load(path.read_text())
    stack = yaml.safe_load((PROJECT_DIR / "stacks/Pulumi.local.yaml").read_text())
    retention = stack["config"]["pyroscope:server"]["retention"]
    assert document["limits"]["retention_period"] == retention
    assert document["pyroscopedb"]["data_path"].startswith("/data/")


def test_local_stack_outputs(rendered):
    outputs = json.loads((rendered["local"] / "outputs.json").read_text())
    assert outputs["pyroscopeUrl"] == "http://127.0.0.1:4040"
    assert outputs["pyroscopeNetworkUrl"] == "http://pyroscope:4040"
    assert outputs["pyroscopeVersion"] == constants.PYROSCOPE_DEFAULT_VERSION
    assert outputs["pyroscopeImage"] == f"grafana/pyroscope:{constants.PYROSCOPE_DEFAULT_VERSION}"
    assert outputs["dockerNetwork"] == "pyroscope"


@pytest.mark.parametrize(
    ("version", "key"),
    [("2.2.1", "retention_period"), ("1.21.1", "compactor_blocks_retention_period")],
)
def test_render_of_each_major_uses_its_retention_key(tmp_path, version, key):
    out = tmp_path / version
    render(PROJECT_DIR, "local", out, sets=[f"server.version={version}", "server.retention=21d"])
    document = yaml.safe_load((out / "files/docker/pyroscope/etc/pyroscope/config.yaml").read_text())
    assert document["limits"] == {key: "21d", **USAGE_GROUPS}


# --- upgrades never touch the data volume ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"version": constants.PYROSCOPE_LAST_V1_VERSION},
        {"version": "2.0.0"},
        {"retention": "90d"},
        {"multitenancy": True, "tenants": ["team-a"]},
        {"resources": {"limits": {"memory": "2Gi"}}},
    ],
)
def test_changing_version_or_config_replaces_the_container_but_not_the_volume(change):
    before = deploy_with({"server": DOCKER})
    after = deploy_with({"server": {**DOCKER, **change}})
    volume_before, volume_after = before.one(VOLUME, "pyroscope-data"), after.one(VOLUME, "pyroscope-data")
    assert volume_after.inputs == volume_before.inputs
    assert volume_after.options == volume_before.options
    assert volume_after.record.urn == volume_before.record.urn
    assert volume_after.record.parent_urn == volume_before.record.parent_urn
    # ...while the container does change (its uploads or image are replacement triggers).
    assert pyroscope_container(after).inputs != pyroscope_container(before).inputs


def test_version_change_changes_the_image_and_the_uploaded_config():
    before = pyroscope_container(deploy_with({"server": DOCKER})).inputs
    after = deploy_with({"server": {**DOCKER, "version": "1.21.1"}})
    assert after.one(IMAGE, "pyroscope-image").inputs["name"] == "grafana/pyroscope:1.21.1"
    config = yaml.safe_load(uploaded(pyroscope_container(after).inputs, constants.PYROSCOPE_CONFIG_PATH))
    assert "compactor_blocks_retention_period" in config["limits"]
    assert uploaded(before, constants.PYROSCOPE_CONFIG_PATH) != uploaded(
        pyroscope_container(after).inputs, constants.PYROSCOPE_CONFIG_PATH
    )


def test_volume_is_protected_when_the_stack_asks_for_it():
    assert deploy_with({"server": DOCKER}).one(VOLUME, "pyroscope-data").options["protect"] is False
    protected = deploy_with({"server": {**DOCKER, "protect": True}})
    options = protected.one(VOLUME, "pyroscope-data").options
    assert (options["protect"], options["retainOnDelete"]) == (True, True)


# --- settings -------------------------------------------------------------------------------------


def test_publish_address_host_port_and_names_follow_the_config():
    deployed = deploy_with(
        {
            "server": {
                **DOCKER,
                # Published beyond this host without the gateway: an explicit choice.
                "gateway": {"allowUnauthenticated": True},
                "docker": {
                    "publishAddress": "0.0.0.0",
                    "hostPort": 14040,
                    "networkName": "profiling",
                    "volumeName": "profiling-data",
                },
            }
        }
    )
    container = pyroscope_container(deployed).inputs
    assert container["ports"] == [{"external": 14040, "internal": 4040, "ip": "0.0.0.0", "protocol": "tcp"}]
    assert container["name"] == "profiling"
    assert container["networksAdvanced"] == [{"aliases": ["pyroscope"], "name": "profiling"}]
    assert deployed.one(VOLUME, "pyroscope-data").inputs["name"] == "profiling-data"
    assert deployed.one(NETWORK, "pyroscope-network").inputs["name"] == "profiling"
    # Published on every address: clients on this host still use the loopback address.
    assert deployed.outputs["pyroscopeUrl"] == "http://127.0.0.1:14040"


def test_memory_limit_follows_the_config():
    deployed = deploy_with({"server": {**DOCKER, "resources": {"limits": {"memory": "1536Mi"}}}})
    assert pyroscope_container(deployed).inputs["memory"] == 1536


def test_old_1x_without_profilecli_ready_gets_no_health_check():
    deployed = deploy_with({"server": {**DOCKER, "version": "1.7.1"}})
    container = pyroscope_container(deployed).inputs
    assert "healthcheck" not in container
    assert container.get("wait") is False


def test_gateway_takes_the_published_port():
    deployed = deploy_with({"server": {**DOCKER, "gateway": {"enabled": True}}})
    assert not pyroscope_container(deployed).inputs.get("ports")
    gateway = deployed.one(CONTAINER, "pyroscope-gateway").inputs
    assert gateway["ports"][0]["ip"] == "127.0.0.1"
    assert gateway["ports"][0]["external"] == 4040
    assert deployed.outputs["gatewayUser"] == "pyroscope"
    assert "gatewayPassword" in deployed.run.secret_outputs


def test_no_docker_resources_when_the_server_is_off():
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": "https://pyroscope.example.com"},
        }
    )
    assert not deployed.of_type(CONTAINER)
    assert not deployed.of_type(VOLUME)


# --- pure builders --------------------------------------------------------------------------------


def config_of(server: dict[str, Any], **rest: Any) -> Any:
    return load_config({"server": {**DOCKER, **server}, **rest}, "test")


def test_urls():
    assert internal_url() == "http://pyroscope:4040"
    assert host_url(config_of({}).server) == "http://127.0.0.1:4040"
    specific = config_of(
        {
            "docker": {"publishAddress": "10.1.2.3", "hostPort": 5000},
            "gateway": {"allowUnauthenticated": True},
        }
    ).server
    assert host_url(specific) == "http://10.1.2.3:5000"
    assert docker_options.host_address("0.0.0.0") == "127.0.0.1"


def test_healthcheck_test_from_1_8_on():
    assert healthcheck_test(config_of({"version": "1.8.0"}).server) is not None
    assert healthcheck_test(config_of({"version": "1.7.1"}).server) is None
    assert healthcheck_test(config_of({}).server) == [
        "CMD",
        constants.PYROSCOPE_PROFILECLI,
        "ready",
        "--url=http://127.0.0.1:4040",
    ]


def test_memory_limit_mb():
    assert memory_limit_mb(config_of({}).server) == 4096
    assert memory_limit_mb(config_of({"resources": {"limits": {"memory": "512Mi"}}}).server) == 512


def test_multitenancy_without_any_tenant_is_refused_for_grafana():
    with pytest.raises(Exception, match=r"pyroscope:server\.tenants"):
        config_of({"multitenancy": True})


def test_gateway_with_multitenancy_needs_tenants_and_pushes_as_the_wired_tenant():
    with pytest.raises(
        Exception, match=r"pyroscope:server\.tenants: \[\] needs at least one tenant: the gateway"
    ):
        config_of({"multitenancy": True, "gateway": {"enabled": True}}, target={"tenantId": "a"})
    deployed = deploy_with(
        {
            "server": {**DOCKER, "multitenancy": True, "tenants": ["a", "b"], "gateway": {"enabled": True}},
            "target": {"tenantId": "b"},
        }
    )
    assert deployed.outputs["gatewayUser"] == "b"


def test_gateway_container_is_named_per_stack_and_rotates_its_logs():
    # Container names are host-wide: a second stack (other networkName) must not collide with the
    # first one's gateway. nginx logs every request, so the json-file log must be rotated.
    deployed = deploy_with(
        {"server": {**DOCKER, "gateway": {"enabled": True}, "docker": {"networkName": "profiling"}}}
    )
    gateway = deployed.one(CONTAINER, "pyroscope-gateway").inputs
    assert gateway["name"] == "profiling-gateway"
    # Its alias (what Grafana's datasource URL names) does not change.
    assert gateway["networksAdvanced"] == [
        {"aliases": ["pyroscope-gateway"], "name": "profiling"},
        {"name": "profiling-internal"},
    ]
    assert gateway["logDriver"] == docker_options.LOG_DRIVER
    assert gateway["logOpts"] == docker_options.LOG_OPTIONS
    labels = {label["label"]: label["value"] for label in gateway["labels"]}
    assert labels[constants.LABEL_COMPONENT] == "gateway"
    server = pyroscope_container(deployed).inputs
    server_labels = {label["label"]: label["value"] for label in server["labels"]}
    assert labels[constants.LABEL_INSTANCE] == server_labels[constants.LABEL_INSTANCE]
    names = [container.inputs["name"] for container in deployed.of_type(CONTAINER)]
    assert len(names) == len(set(names))


def test_gateway_published_on_every_address_is_pushed_to_on_loopback():
    deployed = deploy_with(
        {"server": {**DOCKER, "gateway": {"enabled": True}, "docker": {"publishAddress": "0.0.0.0"}}}
    )
    assert deployed.outputs["pyroscopeUrl"] == "http://127.0.0.1:4040"
    assert deployed.outputs["profilerServerAddress"] == "http://127.0.0.1:4040"
