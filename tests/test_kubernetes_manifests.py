"""The single-binary Kubernetes objects, built directly from configuration (no Pulumi involved)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from pyroscope_bundle import addresses, constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config import BundleConfig, load_config
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.grafana.kubernetes import DATA_KEY, sidecar_config_map
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.server.pyroscope_config import pyroscope_config, pyroscope_config_yaml

# A current Kubernetes minor that kubernetes-validate ships strict schemas for.
KUBERNETES_VERSION = "1.36"


def make_config(server: dict[str, Any] | None = None, **sections: Any) -> BundleConfig:
    raw: dict[str, Any] = {"server": {"backend": "kubernetes", **(server or {})}, **sections}
    return load_config(raw, "test")


def statefulset(config: BundleConfig) -> dict[str, Any]:
    server = config.server
    return manifests.statefulset_manifest(server, server.kubernetes.namespace, pyroscope_config_yaml(server))


def pod_spec(config: BundleConfig) -> dict[str, Any]:
    return statefulset(config)["spec"]["template"]["spec"]


def container(config: BundleConfig) -> dict[str, Any]:
    [only] = pod_spec(config)["containers"]
    return only


def all_objects(config: BundleConfig) -> list[dict[str, Any]]:
    server = config.server
    namespace = server.kubernetes.namespace
    text = pyroscope_config_yaml(server)
    objects = [
        kube.namespace_manifest(namespace),
        kube.service_account_manifest(manifests.SERVER_NAME, namespace, kube.COMPONENT_SERVER),
        manifests.pyroscope_config_map(namespace, text),
        manifests.statefulset_manifest(server, namespace, text),
        manifests.service_manifest(namespace),
        manifests.service_manifest(namespace, headless=True),
        manifests.pdb_manifest(namespace),
        kube.network_policy_manifest(
            "pyroscope",
            namespace,
            kube.selector_labels("server"),
            manifests.client_peers(config),
            4040,
            component="server",
        ),
        sidecar_config_map(config.grafana, Endpoint(url=addresses.in_cluster_url("pyroscope", namespace))),
    ]
    ingress = manifests.ingress_manifest(config.server.kubernetes, manifests.SERVER_NAME)
    if ingress is not None:
        objects.append(ingress)
    return objects


VARIANTS = {
    "defaults": {},
    "v1-storage-class-ingress": {
        "version": constants.PYROSCOPE_LAST_V1_VERSION,
        "storage": {"size": "50Gi", "storageClass": "gp3"},
        "kubernetes": {
            "ingress": {
                "enabled": True,
                "host": "pyroscope.example.com",
                "className": "nginx",
                "tlsSecretName": "tls",
            },
            "allowFrom": [{"namespace": "ingress-nginx", "podLabels": {"app": "controller"}}],
        },
    },
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_passes_kubernetes_validate_strict(variant: str) -> None:
    config = make_config(
        VARIANTS[variant],
        services=[
            {"name": "api", "platform": "kubernetes", "runtime": "go", "kubernetes": {"namespace": "shop"}}
        ],
    )
    objects = all_objects(config)
    kinds = {item["kind"] for item in objects}
    assert {"StatefulSet", "Service", "NetworkPolicy", "PodDisruptionBudget", "ConfigMap"} <= kinds
    for item in objects:
        assert kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_strict_validation_rejects_a_misspelled_field() -> None:
    """The check above can fail: strict mode refuses unknown fields."""
    broken = statefulset(make_config())
    broken["spec"]["volumeClaimTemplate"] = broken["spec"].pop("volumeClaimTemplates")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_pvc_template_size_class_and_retention_policy() -> None:
    spec = statefulset(make_config({"storage": {"size": "50Gi", "storageClass": "gp3"}}))["spec"]
    [claim] = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == manifests.DATA_VOLUME
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "gp3"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1
    assert spec["serviceName"] == "pyroscope-headless"


def test_default_storage_class_is_left_to_the_cluster() -> None:
    [claim] = statefulset(make_config())["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]


def test_container_runs_all_targets_with_the_generated_config() -> None:
    config = make_config({"version": "2.2.1"})
    main = container(config)
    assert main["image"] == "grafana/pyroscope:2.2.1"
    assert main["args"] == ["-target=all", f"-config.file={constants.PYROSCOPE_CONFIG_PATH}"]
    mounts = {mount["mountPath"]: mount for mount in main["volumeMounts"]}
    assert mounts["/etc/pyroscope"]["readOnly"] is True
    volumes = {volume["name"]: volume for volume in pod_spec(config)["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "pyroscope-config"
    config_map = manifests.pyroscope_config_map("pyroscope", pyroscope_config_yaml(config.server))
    assert set(config_map["data"]) == {"config.yaml"}
    assert yaml.safe_load(config_map["data"]["config.yaml"])["limits"]["retention_period"] == "30d"


def test_probes_hit_ready_and_liveness_is_gentler_than_readiness() -> None:
    main = container(make_config())
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/ready", "port": "http"}
    startup, liveness, readiness = main["startupProbe"], main["livenessProbe"], main["readinessProbe"]
    # /ready is 503 while rings/raft start: startup allows minutes, liveness restarts late.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    liveness_window = liveness["periodSeconds"] * liveness["failureThreshold"]
    assert liveness_window >= 300
    assert liveness_window > readiness["periodSeconds"] * readiness["failureThreshold"]


def test_pod_security_meets_restricted() -> None:
    config = make_config()
    pod = pod_spec(config)
    assert pod["securityContext"] == {
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "pyroscope"
    security = container(config)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    account = kube.service_account_manifest("pyroscope", "pyroscope", "server")
    assert account["automountServiceAccountToken"] is False


def _paths(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [path for value in node.values() for path in _paths(value)]
    return [node] if isinstance(node, str) and node.startswith("/") else []


@pytest.mark.parametrize(
    "version", [constants.PYROSCOPE_DEFAULT_VERSION, constants.PYROSCOPE_LAST_V1_VERSION]
)
def test_every_path_pyroscope_writes_is_on_a_writable_volume(version: str) -> None:
    """readOnlyRootFilesystem: each data path of the generated config must be under a mounted volume."""
    config = make_config({"version": version})
    writable = [
        mount["mountPath"] for mount in container(config)["volumeMounts"] if not mount.get("readOnly")
    ]
    assert set(writable) == {constants.PYROSCOPE_DATA_DIR, constants.PYROSCOPE_TMP_DIR}
    paths = _paths(pyroscope_config(config.server))
    assert paths, "the generated config pins its data paths"
    for path in paths:
        assert any(path == root or path.startswith(root + "/") for root in writable), path
    tmp = next(volume for volume in pod_spec(config)["volumes"] if volume["name"] == manifests.TMP_VOLUME)
    assert tmp == {"name": "tmp", "emptyDir": {}}


def test_resources_come_from_config() -> None:
    config = make_config(
        {"resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}}
    )
    assert container(config)["resources"] == {
        "requests": {"cpu": "1", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }


def test_config_change_changes_the_pod_template_checksum() -> None:
    short, long = make_config({"retention": "7d"}), make_config({"retention": "90d"})
    annotation = manifests.CHECKSUM_ANNOTATION

    def checksum(config: BundleConfig) -> str:
        return statefulset(config)["spec"]["template"]["metadata"]["annotations"][annotation]

    assert checksum(short) != checksum(long)
    assert checksum(short) == checksum(make_config({"retention": "7d"}))
    assert len(checksum(short)) == 64


def test_services_select_the_statefulset_pods() -> None:
    config = make_config()
    pod_labels = statefulset(config)["spec"]["template"]["metadata"]["labels"]
    cluster_ip = manifests.service_manifest("pyroscope")
    headless = manifests.service_manifest("pyroscope", headless=True)
    assert cluster_ip["metadata"]["name"] == "pyroscope"
    assert "clusterIP" not in cluster_ip["spec"]
    assert headless["metadata"]["name"] == statefulset(config)["spec"]["serviceName"]
    assert headless["spec"]["clusterIP"] == "None"
    for service in (cluster_ip, headless):
        assert service["spec"]["ports"][0]["port"] == 4040
        assert service["spec"]["selector"].items() <= pod_labels.items()
    pdb = manifests.pdb_manifest("pyroscope")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


def test_network_policy_admits_service_grafana_and_allow_from_namespaces_only() -> None:
    config = make_config(
        {"kubernetes": {"allowFrom": [{"namespace": "ops", "podLabels": {"app": "debug"}}]}},
        services=[
            {"name": "a", "platform": "kubernetes", "runtime": "go", "kubernetes": {"namespace": "shop"}},
            {"name": "b", "platform": "kubernetes", "runtime": "java", "kubernetes": {"namespace": "shop"}},
            {
                "name": "c",
                "platform": "kubernetes",
                "runtime": "java",
                "enabled": False,
                "kubernetes": {"namespace": "off"},
            },
        ],
        grafana={"sidecar": {"namespace": "grafana"}},
    )
    policy = kube.network_policy_manifest(
        "pyroscope",
        "pyroscope",
        kube.selector_labels("server"),
        manifests.client_peers(config),
        4040,
        component="server",
    )
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"] == kube.selector_labels("server")
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 4040}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "grafana"}}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
            "podSelector": {"matchLabels": {"app": "debug"}},
        },
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}},
    ]


def test_services_sending_elsewhere_are_not_admitted() -> None:
    config = make_config(
        services=[
            {"name": "a", "platform": "kubernetes", "runtime": "go", "kubernetes": {"namespace": "shop"}}
        ],
        target={"kind": "external", "url": "https://profiles.example.com"},
    )
    assert [peer.namespace for peer in manifests.client_peers(config)] == ["monitoring"]


def test_no_peers_means_deny_all() -> None:
    policy = kube.network_policy_manifest("p", "pyroscope", {"a": "b"}, [], 4040, component="server")
    assert policy["spec"]["ingress"] == []
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_whole_namespace_peer_absorbs_label_restricted_ones() -> None:
    peers = kube.dedupe_peers([kube.Peer("a", {"x": "y"}), kube.Peer("a"), kube.Peer("a")])
    assert peers == [kube.Peer("a")]


def test_created_namespace_enforces_restricted_pod_security() -> None:
    namespace = kube.namespace_manifest("pyroscope")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_ingress_is_off_by_default_and_routes_to_the_service_when_on() -> None:
    assert manifests.ingress_manifest(make_config().server.kubernetes, "pyroscope") is None
    config = make_config(
        {
            "kubernetes": {
                "ingress": {"enabled": True, "host": "p.example.com", "tlsSecretName": "t"},
                "allowFrom": [{"namespace": "ingress-nginx"}],
            }
        }
    )
    ingress = manifests.ingress_manifest(config.server.kubernetes, "pyroscope")
    assert ingress is not None
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "p.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "pyroscope"
    assert ingress["spec"]["tls"] == [{"hosts": ["p.example.com"], "secretName": "t"}]


def test_in_cluster_url() -> None:
    assert addresses.in_cluster_url("pyroscope", "obs") == "http://pyroscope.obs.svc.cluster.local:4040"


def test_sidecar_config_map_is_labelled_and_holds_the_provisioning_file() -> None:
    config = make_config(grafana={"sidecar": {"namespace": "grafana", "label": "my_ds", "labelValue": "yes"}})
    url = addresses.in_cluster_url("pyroscope", "pyroscope")
    config_map = sidecar_config_map(config.grafana, Endpoint(url=url))
    assert config_map["metadata"]["namespace"] == "grafana"
    assert config_map["metadata"]["labels"]["my_ds"] == "yes"
    document = yaml.safe_load(config_map["data"][DATA_KEY])
    [datasource] = document["datasources"]
    assert datasource["url"] == url
    assert datasource["type"] == "grafana-pyroscope-datasource"
    assert datasource["uid"] == "pyroscope"
    assert "secureJsonData" not in datasource
