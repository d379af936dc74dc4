"""Bad configuration: one clear message naming the key path, before any resource is registered."""

from __future__ import annotations

from typing import Any

import pytest
from pyroscope_bundle.config import ConfigError, load_config

from tests.harness import PROJECT_DIR

K8S = {"backend": "kubernetes"}
ECS_FILE = "configs/ecs/payments-api.json"
EXTERNAL = {"kind": "external", "url": "https://pyroscope.example.com"}
GC_TARGET = {
    "kind": "grafana-cloud",
    "url": "https://profiles-prod-001.grafana.net",
    "basicAuthUser": "123456",
}
TOKEN = {"authToken": "t0ken"}


def svc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "checkout",
        "platform": "kubernetes",
        "runtime": "java",
        "kubernetes": {"namespace": "shop"},
    }
    base.update(overrides)
    return base


# (case id, config, secrets, exact key path, fragment of the explanation)
BAD_CONFIGS: list[tuple[str, dict[str, Any], dict[str, str], str, str]] = [
    (
        "retention-words",
        {"server": {"retention": "15 days"}},
        {},
        "pyroscope:server.retention",
        '"15 days" is not a duration; use e.g. 15d, 360h',
    ),
    ("retention-int", {"server": {"retention": 30}}, {}, "pyroscope:server.retention", "is not a duration"),
    (
        "retention-below-block",
        {"server": {"retention": "30m"}},
        {},
        "pyroscope:server.retention",
        "shorter than one block",
    ),
    (
        "retention-absurd",
        {"server": {"retention": "20y"}},
        {},
        "pyroscope:server.retention",
        "longer than 10y",
    ),
    (
        "size-units",
        {"server": {"storage": {"size": "50GB"}}},
        {},
        "pyroscope:server.storage.size",
        "is not a size",
    ),
    (
        "size-floor",
        {"server": {"storage": {"size": "512Mi"}}},
        {},
        "pyroscope:server.storage.size",
        "below the 1Gi floor",
    ),
    (
        "backend",
        {"server": {"backend": "podman"}},
        {},
        "pyroscope:server.backend",
        "'docker' or 'kubernetes'",
    ),
    (
        "version-v-prefix",
        {"server": {"version": "v2.2.1"}},
        {},
        "pyroscope:server.version",
        "without a leading v",
    ),
    (
        "version-future-major",
        {"server": {"version": "3.0.0"}},
        {},
        "pyroscope:server.version",
        "is not supported",
    ),
    ("version-0x", {"server": {"version": "0.37.2"}}, {}, "pyroscope:server.version", "is not supported"),
    (
        "server-typo",
        {"server": {"storagee": {"size": "1Gi"}}},
        {},
        "pyroscope:server.storagee",
        "allowed: backend, docker",
    ),
    ("server-not-object", {"server": "docker"}, {}, "pyroscope:server", "is not a mapping of settings"),
    (
        "multitenancy-bool",
        {"server": {"multitenancy": "yes-please"}},
        {},
        "pyroscope:server.multitenancy",
        "is not a boolean; use true or false",
    ),
    (
        "publish-address",
        {"server": {"docker": {"publishAddress": "localhost"}}},
        {},
        "pyroscope:server.docker.publishAddress",
        "is not an IPv4 address",
    ),
    (
        "host-port",
        {"server": {"docker": {"hostPort": 70000}}},
        {},
        "pyroscope:server.docker.hostPort",
        "less than or equal to 65535",
    ),
    (
        "namespace-name",
        {"server": {**K8S, "kubernetes": {"namespace": "Pyroscope_NS"}}},
        {},
        "pyroscope:server.kubernetes.namespace",
        "DNS-1123 label",
    ),
    (
        "k8s-mode",
        {"server": {**K8S, "kubernetes": {"mode": "distributed"}}},
        {},
        "pyroscope:server.kubernetes.mode",
        "'single-binary' or 'microservices'",
    ),
    (
        "ingress-host",
        {"server": {**K8S, "kubernetes": {"ingress": {"enabled": True}}}},
        {},
        "pyroscope:server.kubernetes.ingress.host",
        "is required when the ingress is enabled",
    ),
    (
        "memory-floor",
        {"server": {"resources": {"requests": {"memory": "128Mi"}}}},
        {},
        "pyroscope:server.resources.requests.memory",
        "below 256Mi",
    ),
    (
        "cpu-quantity",
        {"server": {"resources": {"requests": {"cpu": "fast"}}}},
        {},
        "pyroscope:server.resources.requests.cpu",
        "not a CPU quantity",
    ),
    (
        "tenants-without-multitenancy",
        {"server": {"tenants": ["team-a"]}},
        {},
        "pyroscope:server.tenants",
        "needs pyroscope:server.multitenancy: true",
    ),
    (
        "grafana-mode",
        {"grafana": {"mode": "cloud"}},
        {},
        "pyroscope:grafana.mode",
        "'docker', 'kubernetes-sidecar', 'api' or 'none'",
    ),
    (
        "grafana-too-old",
        {"grafana": {"version": "8.5.0"}},
        {},
        "pyroscope:grafana.version",
        "is not supported; use Grafana 9.4",
    ),
    (
        "grafana-latest",
        {"grafana": {"version": "latest"}},
        {},
        "pyroscope:grafana.version",
        "is not a version",
    ),
    (
        "grafana-api-url",
        {"grafana": {"mode": "api"}},
        {},
        "pyroscope:grafana.api.url",
        "is required when pyroscope:grafana.mode is api",
    ),
    (
        "tempo-url",
        {"grafana": {"tempo": {"url": "tempo:3200"}}},
        {},
        "pyroscope:grafana.tempo.url",
        "is not an http(s) URL",
    ),
    (
        "datasource-uid",
        {"grafana": {"datasource": {"uid": "Pyro Scope"}}},
        {},
        "pyroscope:grafana.datasource.uid",
        "DNS-1123 label",
    ),
    (
        "grafana-docker-on-k8s",
        {"server": K8S, "grafana": {"mode": "docker"}},
        {},
        "pyroscope:grafana.mode",
        "needs pyroscope:server.backend: docker",
    ),
    (
        "target-kind",
        {"target": {"kind": "cloud"}},
        {},
        "pyroscope:target.kind",
        "'self', 'external' or 'grafana-cloud'",
    ),
    (
        "external-without-url",
        {"target": {"kind": "external"}},
        {},
        "pyroscope:target.url",
        "is required for kind external",
    ),
    (
        "cloud-without-user",
        {"target": {**GC_TARGET, "basicAuthUser": None}},
        TOKEN,
        "pyroscope:target.basicAuthUser",
        "is required for Grafana Cloud",
    ),
    (
        "cloud-without-token",
        {"target": GC_TARGET},
        {},
        "pyroscope:authToken",
        "is required for Grafana Cloud",
    ),
    (
        "cloud-user-not-numeric",
        {"target": {**GC_TARGET, "basicAuthUser": "alice"}},
        TOKEN,
        "pyroscope:target.basicAuthUser",
        "numeric user id",
    ),
    (
        "cloud-with-tenant",
        {"target": {**GC_TARGET, "tenantId": "team-a"}},
        TOKEN,
        "pyroscope:target.tenantId",
        "must not be set for Grafana Cloud",
    ),
    (
        "target-url-scheme",
        {"target": {"kind": "external", "url": "ftp://pyroscope.example.com"}},
        {},
        "pyroscope:target.url",
        "is not an http(s) URL",
    ),
    (
        "tenant-without-multitenancy",
        {"target": {"tenantId": "team-a"}},
        {},
        "pyroscope:target.tenantId",
        "multitenancy is false",
    ),
    (
        "target-typo",
        {"target": {"kind": "self", "urll": "http://x"}},
        {},
        "pyroscope:target.urll",
        "is not a known key",
    ),
    ("services-not-list", {"services": {"name": "checkout"}}, {}, "pyroscope:services", "is not a list"),
    (
        "service-without-platform",
        {"services": [{"name": "checkout", "runtime": "java"}]},
        {},
        "pyroscope:services[0].platform",
        "is required",
    ),
    (
        "service-runtime",
        {"services": [svc(runtime="rust")]},
        {},
        "pyroscope:services[0].runtime",
        "'java', 'dotnet', 'nodejs', 'python', 'go' or 'ruby'",
    ),
    (
        "service-name",
        {"services": [svc(name="Checkout")]},
        {},
        "pyroscope:services[0].name",
        "DNS-1123 label",
    ),
    (
        "service-duplicate",
        {"services": [svc(), svc()], "target": EXTERNAL},
        {},
        "pyroscope:services[1].name",
        "duplicate of pyroscope:services[0].name",
    ),
    (
        "ecs-unreachable-in-cluster-server",
        {
            "server": K8S,
            "services": [svc(platform="ecs", kubernetes={}, ecs={"containerDefinitions": ECS_FILE})],
        },
        {},
        "pyroscope:services[0].platform",
        "cannot reach the in-cluster server: enable pyroscope:server.kubernetes.ingress",
    ),
    (
        "ecs-unreachable-docker-server",
        {"services": [svc(platform="ecs", kubernetes={}, ecs={"containerDefinitions": ECS_FILE})]},
        {},
        "pyroscope:services[0].platform",
        "cannot reach a Docker server on this host",
    ),
    (
        "java-agent-relative-path",
        {"services": [svc(javaAgentPath="pyroscope.jar")]},
        {},
        "pyroscope:services[0].javaAgentPath",
        "is not an absolute path of a .jar; use e.g. /opt/pyroscope/pyroscope.jar",
    ),
    (
        "datasource-uid-too-long-for-tenants",
        {
            "server": {**K8S, "multitenancy": True, "tenants": ["team-a", "platform-observability-team"]},
            "grafana": {"datasource": {"uid": "pyroscope-profiles-main"}},
        },
        {},
        "pyroscope:grafana.datasource.uid",
        "is too long for per-tenant uids",
    ),
    (
        "docker-volume-name",
        {"server": {"docker": {"volumeName": "pyroscope/data"}}},
        {},
        "pyroscope:server.docker.volumeName",
        "is not a Docker volume name",
    ),
    (
        "dotnet-sample-rate",
        {"services": [svc(runtime="dotnet", sampleRate=250)], "target": EXTERNAL},
        {},
        "pyroscope:services[0].sampleRate",
        "cannot be set for runtime dotnet",
    ),
    (
        "ingress-without-allow-from",
        {"server": {**K8S, "kubernetes": {"ingress": {"enabled": True, "host": "p.example.com"}}}},
        {},
        "pyroscope:server.kubernetes.allowFrom",
        "is empty but the ingress is enabled",
    ),
    (
        "ecs-without-file",
        {"services": [svc(platform="ecs", kubernetes={})], "target": EXTERNAL},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "is required for platform ecs",
    ),
    (
        "ecs-missing-file",
        {
            "services": [
                svc(platform="ecs", kubernetes={}, ecs={"containerDefinitions": "configs/ecs/nope.json"})
            ],
            "target": EXTERNAL,
        },
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "does not exist",
    ),
    (
        "k8s-without-namespace",
        {"services": [svc(kubernetes={})], "target": EXTERNAL},
        {},
        "pyroscope:services[0].kubernetes.namespace",
        "is required for platform kubernetes",
    ),
    (
        "k8s-namespace-name",
        {"services": [svc(kubernetes={"namespace": "Shop"})]},
        {},
        "pyroscope:services[0].kubernetes.namespace",
        "DNS-1123 label",
    ),
    (
        "sample-rate",
        {"services": [svc(sampleRate=0)]},
        {},
        "pyroscope:services[0].sampleRate",
        "greater than or equal to 1",
    ),
    (
        "profile-type",
        {"services": [svc(profileTypes=["gpu"])]},
        {},
        "pyroscope:services[0].profileTypes[0]",
        "'cpu'",
    ),
    (
        "tag-value-type",
        {"services": [svc(tags={"team": 5})]},
        {},
        "pyroscope:services[0].tags.team",
        "is a number where text is meant; quote it",
    ),
    (
        "service-enabled-bool",
        {"services": [svc(enabled="maybe")]},
        {},
        "pyroscope:services[0].enabled",
        "is not a boolean; use true or false",
    ),
    (
        "service-typo",
        {"services": [svc(runtme="java")]},
        {},
        "pyroscope:services[0].runtme",
        "allowed: agent, applicationName",
    ),
]


def raw_config(config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    return {**config, **dict.fromkeys(secrets, True)}


@pytest.mark.parametrize(
    ("config", "secrets", "path", "fragment"),
    [case[1:] for case in BAD_CONFIGS],
    ids=[case[0] for case in BAD_CONFIGS],
)
def test_bad_value_is_one_message_naming_its_key_path(config, secrets, path, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(raw_config(config, secrets), "test", PROJECT_DIR)
    problems = caught.value.problems
    assert [problem.path for problem in problems] == [path], str(caught.value)
    assert fragment in str(problems[0])


def test_there_are_at_least_forty_distinct_bad_configurations():
    assert len(BAD_CONFIGS) >= 40
    assert len({case[0] for case in BAD_CONFIGS}) == len(BAD_CONFIGS)


def test_unknown_top_level_key_names_the_allowed_keys():
    with pytest.raises(ConfigError) as caught:
        load_config({"servers": {}}, "test", PROJECT_DIR)
    message = str(caught.value)
    assert "pyroscope:servers: is not a known key" in message
    assert "pyroscope:server," in message


def test_several_bad_values_are_all_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_config({"server": {"retention": "soon", "storage": {"size": "big"}}}, "test", PROJECT_DIR)
    assert sorted(p.path for p in caught.value.problems) == [
        "pyroscope:server.retention",
        "pyroscope:server.storage.size",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://123456:glc_CANARY123@profiles-prod-001.grafana.net",
        "https://glc_CANARY123@profiles-prod-001.grafana.net",
        # Otherwise bad too: the message still must not print the token.
        "https://123456:glc_CANARY123@profiles-prod-001.grafana.net/?x=1",
    ],
)
def test_credentials_in_a_url_are_refused_without_printing_them(url):
    """A URL is a plain value (env, outputs): a token in it would leak, and so would the error."""
    with pytest.raises(ConfigError) as caught:
        load_config({"target": {"kind": "external", "url": url}}, "test", PROJECT_DIR)
    assert [problem.path for problem in caught.value.problems] == ["pyroscope:target.url"]
    assert "CANARY123" not in str(caught.value)
    assert "profiles-prod-001.grafana.net" in str(caught.value)


def test_an_existing_compose_volume_name_is_accepted():
    """Teams moving from docker-compose keep their data volume (compose names it project_volume)."""
    config = load_config(
        {"server": {"docker": {"volumeName": "observability_pyroscope-data"}}}, "dev", PROJECT_DIR
    )
    assert config.server.docker.volume_name == "observability_pyroscope-data"


def test_defaults_are_valid_and_documented_choices():
    config = load_config({}, "dev", PROJECT_DIR)
    assert config.server.backend == "docker"
    assert config.server.retention.text == "30d"
    assert config.server.docker.publish_address == "127.0.0.1"
    assert config.grafana_mode == "docker"
    assert config.gateway_enabled is False
    assert load_config({"server": K8S}, "dev", PROJECT_DIR).gateway_enabled is True
