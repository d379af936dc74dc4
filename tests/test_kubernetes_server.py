"""The Kubernetes server and sidecar datasource as the real program registers them (under mocks),
and every rendered Kubernetes object of the staging and production stacks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle import constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config import load_config
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.grafana.kubernetes import DATA_KEY, SECRET_DATA_KEY, SidecarDatasource
from pyroscope_bundle.render.runner import run_program

from tests.harness import Deployed, Registered, deploy_with
from tests.test_kubernetes_manifests import KUBERNETES_VERSION

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
K8S_STACKS = ("staging", "production")
PROBE_PODS = {
    "app.kubernetes.io/component": "probe",
    "app.kubernetes.io/instance": "pyroscope",
    "app.kubernetes.io/name": "pyroscope",
}


def unwrapped(value: Any) -> Any:
    """A recorded secret's plain value (tests only: to read what a Secret holds)."""
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def stack_config(stack: str) -> dict[str, Any]:
    """The ``pyroscope:*`` keys of a stack file, as deploy_with takes them."""
    document = yaml.safe_load((Path(__file__).parent.parent / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    config = document["config"]
    return {
        key.split(":", 1)[1]: value
        for key, value in config.items()
        if key.startswith("pyroscope:") and key != "pyroscope:authToken"
    }


def deploy_stack(stack: str) -> Deployed:
    secrets = {"authToken": "test-token"} if stack == "production" else None
    return deploy_with(stack_config(stack), stack=stack, secrets=secrets, extra={"aws:region": "eu-west-1"})


@pytest.fixture(scope="module")
def staging() -> Deployed:
    return deploy_stack("staging")


@pytest.fixture(scope="module")
def production() -> Deployed:
    return deploy_stack("production")


def test_staging_statefulset_pvc_probes_security_and_resources(staging: Deployed) -> None:
    statefulset = staging.one(STATEFULSET).inputs
    assert statefulset["metadata"] == {
        "name": "pyroscope",
        "namespace": "pyroscope",
        "labels": statefulset["metadata"]["labels"],
    }
    spec = statefulset["spec"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    [claim] = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim["spec"]
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["image"] == "grafana/pyroscope:2.2.1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert spec["template"]["metadata"]["annotations"]["checksum/config"]


def test_staging_config_map_carries_the_staging_retention(staging: Deployed) -> None:
    config_map = next(
        c for c in staging.of_type(CONFIG_MAP) if c.inputs["metadata"]["namespace"] == "pyroscope"
    )
    config = yaml.safe_load(config_map.inputs["data"]["config.yaml"])
    assert config["limits"]["retention_period"] == "14d"


def policy_spec(deployed: Deployed, name: str) -> dict[str, Any]:
    [policy] = [p for p in deployed.of_type(NETWORK_POLICY) if p.inputs["metadata"]["name"] == name]
    return policy.inputs["spec"]


def admitted(rule: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            peer.get("podSelector", {}).get("matchLabels", {}),
        )
        for peer in rule["from"]
    ]


SERVER_PODS = kube.selector_labels(kube.COMPONENT_SERVER)
GATEWAY_PODS = {
    "app.kubernetes.io/component": "gateway",
    "app.kubernetes.io/instance": "pyroscope-gateway",
    "app.kubernetes.io/name": "pyroscope",
}


def test_staging_services_and_pdb(staging: Deployed) -> None:
    services = {s.inputs["metadata"]["name"]: s.inputs["spec"] for s in staging.of_type(SERVICE)}
    assert {"pyroscope", "pyroscope-headless"} <= set(services)
    assert services["pyroscope"]["type"] == "ClusterIP"
    assert services["pyroscope-headless"]["clusterIP"] == "None"
    assert staging.one(PDB).inputs["spec"]["maxUnavailable"] == 1
    # ECS tasks push from outside the cluster: the Ingress fronts the gateway, never Pyroscope.
    [ingress] = staging.of_type(INGRESS)
    [rule] = ingress.inputs["spec"]["rules"]
    assert rule["host"] == "profiles.staging.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "pyroscope-gateway"
    # The backend names a port the gateway's Service really has (else the Ingress serves 503s).
    assert backend["port"]["name"] in {port["name"] for port in services["pyroscope-gateway"]["ports"]}
    assert ingress.inputs["spec"]["tls"] == [
        {"hosts": ["profiles.staging.example.com"], "secretName": "profiles-staging-tls"}
    ]


def test_staging_network_policies_put_the_gateway_in_front_of_pyroscope(staging: Deployed) -> None:
    """Pyroscope's port: ONLY the gateway pods (Grafana queries through the gateway too). The
    gateway's port: the wired services' namespace, Grafana's and allowFrom."""
    server = policy_spec(staging, "pyroscope")
    assert server["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    rule, own = server["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 4040}]
    assert admitted(rule) == [("pyroscope", GATEWAY_PODS)]
    # ...and the Pyroscope pod itself on any port (it dials its own ring address).
    assert own == {"from": [{"podSelector": {"matchLabels": SERVER_PODS}}]}
    gateway = policy_spec(staging, "pyroscope-gateway")
    assert gateway["podSelector"]["matchLabels"] == GATEWAY_PODS
    [rule] = gateway["ingress"]
    assert rule["ports"] == [
        {"protocol": "TCP", "port": constants.GATEWAY_PORT},
        {"protocol": "TCP", "port": constants.GATEWAY_GRPC_PORT},
    ]
    # ...and the probe's pods (monitoring on), not the rest of Pyroscope's namespace.
    assert admitted(rule) == [
        ("ingress-nginx", {}),
        ("monitoring", {}),
        ("pyroscope", PROBE_PODS),
        ("shop", {}),
    ]


def test_staging_services_push_through_the_gateway(staging: Deployed) -> None:
    assert staging.outputs["gatewayUrl"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
    deployment = staging.one("kubernetes:apps/v1:Deployment", "pyroscope-gateway").inputs
    assert deployment["metadata"]["namespace"] == "pyroscope"


def test_without_the_gateway_services_reach_pyroscope_directly() -> None:
    config = stack_config("staging")
    config["server"] = {**config["server"], "gateway": {"enabled": False, "allowUnauthenticated": True}}
    # Without the gateway nothing may expose Pyroscope to ECS (the loader refuses it).
    config["services"] = [s for s in config["services"] if s["platform"] != "ecs"]
    deployed = deploy_with(config, stack="staging", extra={"aws:region": "eu-west-1"})
    rule, _own = policy_spec(deployed, "pyroscope")["ingress"]
    assert admitted(rule) == [("ingress-nginx", {}), ("monitoring", {}), ("shop", {})]
    # No gateway policy; the monitoring one admits only Prometheus (test_monitoring_objects.py).
    names = sorted(p.inputs["metadata"]["name"] for p in deployed.of_type(NETWORK_POLICY))
    assert names == ["pyroscope", "pyroscope-metrics"]
    assert "gatewayUrl" not in deployed.outputs


def test_staging_datasource_secret_for_the_grafana_sidecar(staging: Deployed) -> None:
    """Behind the gateway the datasource authenticates: its file is a labelled Secret, and no
    ConfigMap in Grafana's namespace holds a datasource."""
    in_grafana = [c for c in staging.of_type(CONFIG_MAP) if c.inputs["metadata"]["namespace"] == "monitoring"]
    # Only the dashboard (for the dashboards sidecar), no datasource.
    assert [c.inputs["metadata"]["labels"].get("grafana_datasource") for c in in_grafana] == [None]
    assert [c.inputs["metadata"]["labels"]["grafana_dashboard"] for c in in_grafana] == ["1"]
    [secret] = [s for s in staging.of_type(SECRET) if s.inputs["metadata"]["namespace"] == "monitoring"]
    assert secret.inputs["metadata"]["labels"]["grafana_datasource"] == "1"
    assert secret.is_secret("stringData")
    [datasource] = yaml.safe_load(unwrapped(secret.raw_inputs["stringData"])[SECRET_DATA_KEY])["datasources"]
    assert datasource["url"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
    assert datasource["uid"] == "pyroscope"
    assert datasource["basicAuth"] is True
    assert datasource["basicAuthUser"] == constants.GATEWAY_SINGLE_USER
    assert datasource["secureJsonData"]["basicAuthPassword"].startswith("mock-password-")
    assert "httpHeaderName1" not in datasource["jsonData"]


def test_without_the_gateway_the_datasource_is_a_config_map_without_credentials() -> None:
    config = stack_config("staging")
    config["server"] = {**config["server"], "gateway": {"enabled": False, "allowUnauthenticated": True}}
    # Without the gateway nothing may expose Pyroscope to ECS (the loader refuses it).
    config["services"] = [s for s in config["services"] if s["platform"] != "ecs"]
    deployed = deploy_with(config, stack="staging", extra={"aws:region": "eu-west-1"})
    assert not [s for s in deployed.of_type(SECRET) if s.inputs["metadata"]["namespace"] == "monitoring"]
    config_map = next(
        c for c in deployed.of_type(CONFIG_MAP) if c.inputs["metadata"]["namespace"] == "monitoring"
    )
    assert config_map.inputs["metadata"]["labels"]["grafana_datasource"] == "1"
    [document] = config_map.inputs["data"].values()
    [datasource] = yaml.safe_load(document)["datasources"]
    assert datasource["url"] == "http://pyroscope.pyroscope.svc.cluster.local:4040"
    assert datasource["uid"] == "pyroscope"
    assert "basicAuth" not in datasource
    assert "secureJsonData" not in datasource


def test_staging_outputs(staging: Deployed) -> None:
    outputs = staging.outputs
    assert outputs["pyroscopeUrl"] == "http://pyroscope.pyroscope.svc.cluster.local:4040"
    assert outputs["namespace"] == "pyroscope"
    assert outputs["pyroscopeVersion"] == "2.2.1"
    assert outputs["datasourceUid"] == "pyroscope"


def test_staging_data_is_retained_but_not_protected(staging: Deployed) -> None:
    for token in (STATEFULSET, NAMESPACE):
        options = staging.one(token).options
        assert options["retainOnDelete"] is True
        assert options["protect"] is False


def test_production_protects_the_resources_that_hold_data(production: Deployed) -> None:
    for token in (STATEFULSET, NAMESPACE):
        options = production.one(token).options
        assert options["protect"] is True, token
        assert options["retainOnDelete"] is True, token
    for token in (SERVICE, PDB, NETWORK_POLICY):
        assert all(not r.options["protect"] for r in production.of_type(token)), token


def test_volume_claim_template_changes_do_not_replace_the_statefulset(production: Deployed) -> None:
    """A new storage.size must not recreate the StatefulSet: the PVC is grown in place instead."""
    assert production.one(STATEFULSET).options["ignoreChanges"] == ["spec.volumeClaimTemplates"]


def test_production_storage_class_size_and_resources(production: Deployed) -> None:
    spec = production.one(STATEFULSET).inputs["spec"]
    [claim] = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "gp3"
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    [container] = spec["template"]["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    }


def test_production_network_policies_admit_no_service_namespace(production: Deployed) -> None:
    """Production services send to Grafana Cloud: their namespace gets no access to the server."""
    rule, _own = policy_spec(production, "pyroscope")["ingress"]
    assert admitted(rule) == [("pyroscope", GATEWAY_PODS)]
    [rule] = policy_spec(production, "pyroscope-gateway")["ingress"]
    assert admitted(rule) == [("monitoring", {}), ("pyroscope", PROBE_PODS)]


def test_existing_namespace_is_not_created() -> None:
    deployed = deploy_with(
        {"server": {"backend": "kubernetes", "kubernetes": {"namespace": "obs", "createNamespace": False}}}
    )
    assert deployed.of_type(NAMESPACE) == []
    assert deployed.one(STATEFULSET).inputs["metadata"]["namespace"] == "obs"
    assert deployed.outputs["pyroscopeUrl"] == "http://pyroscope.obs.svc.cluster.local:4040"


def test_ingress_when_enabled() -> None:
    deployed = deploy_with(
        {
            "server": {
                "backend": "kubernetes",
                "kubernetes": {
                    "ingress": {"enabled": True, "host": "p.example.com"},
                    "allowFrom": [{"namespace": "ingress-nginx"}],
                },
            }
        }
    )
    ingress = deployed.one(INGRESS).inputs
    assert ingress["spec"]["rules"][0]["host"] == "p.example.com"


def _patch_keys(root: Path) -> set[tuple[str, str, str]]:
    """(namespace, kind, name) of rendered objects that are server-side-apply patches."""
    resources = json.loads((root / "resources.json").read_text())["resources"]
    return {
        (r["inputs"]["metadata"].get("namespace", ""), r["inputs"]["kind"], r["inputs"]["metadata"]["name"])
        for r in resources
        if r["type"].startswith("kubernetes:") and r["type"].endswith("Patch")
    }


def validate_strict(document: dict[str, Any], *, patch: bool) -> list[str]:
    """Strict-schema errors. A patch (e.g. DeploymentPatch) carries only the fields it sets, so
    for it only ``required`` errors are waived; unknown or mistyped fields still fail."""
    if not patch:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [error.message]
        return []
    schemas = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", document["apiVersion"])
    schema = kubernetes_validate.utils.schema_contents(
        f"{schemas}/{document['kind'].lower()}-{group_version}.json", KUBERNETES_VERSION
    )
    definitions = kubernetes_validate.utils.schema_contents(
        f"{schemas}/_definitions.json", KUBERNETES_VERSION
    )
    utils = kubernetes_validate.utils  # its jsonschema/referencing, the versions it validates with
    registry = utils.Resource.from_contents(definitions) @ (
        utils.Resource.from_contents(schema) @ utils.Registry()
    )
    validator = utils.jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
        if error.validator != "required"
    ]


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_every_rendered_kubernetes_object_passes_kubernetes_validate_strict(
    rendered: dict[str, Path], stack: str
) -> None:
    root = rendered[stack]
    patches = _patch_keys(root)
    documents = [
        (path, yaml.safe_load(path.read_text())) for path in sorted((root / "kubernetes").rglob("*.yaml"))
    ]
    kinds = {document["kind"] for _, document in documents}
    assert {
        "StatefulSet",
        "Service",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Namespace",
    } <= kinds
    problems = []
    for path, document in documents:
        if document["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: checked against the operator's own schema in test_monitoring_objects.py
        metadata = document["metadata"]
        key = (metadata.get("namespace", ""), document["kind"], metadata["name"])
        problems += [
            f"{path.relative_to(root)}: {error}" for error in validate_strict(document, patch=key in patches)
        ]
    assert problems == []


def test_patch_validation_still_rejects_unknown_fields() -> None:
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"templates": {}},
    }
    assert validate_strict(patch, patch=True) != []
    assert validate_strict({**patch, "spec": {}}, patch=True) == []


def test_a_datasource_with_a_password_goes_into_a_labelled_secret_not_a_config_map() -> None:
    config = load_config({"server": {"backend": "kubernetes"}}, "test")

    def program() -> None:
        query = Endpoint(
            url="http://pyroscope-gateway.pyroscope.svc.cluster.local:4040",
            basic_auth_user="grafana",
            basic_auth_password=pulumi.Output.secret("s3cret-value"),
        )
        SidecarDatasource("pyroscope-grafana", config.grafana, query)

    run = run_program(program, stack="test", config={}, secret_keys=[])
    recorded = [r for r in run.recording.resources if r.type.startswith("kubernetes:")]
    assert [r.type for r in recorded] == ["kubernetes:core/v1:Secret"]
    secret = Registered(recorded[0])
    assert secret.inputs["metadata"]["labels"]["grafana_datasource"] == "1"
    # The whole payload is secret, and its file name differs from the ConfigMap's (DATA_KEY).
    assert secret.is_secret("stringData")
    assert "s3cret-value" not in json.dumps(secret.inputs)
    payload = unwrapped(secret.raw_inputs["stringData"])
    assert list(payload) == [SECRET_DATA_KEY] != [DATA_KEY]
    [datasource] = yaml.safe_load(payload[SECRET_DATA_KEY])["datasources"]
    assert datasource["basicAuthUser"] == "grafana"
    assert datasource["secureJsonData"]["basicAuthPassword"] == "s3cret-value"


def test_gateway_credentials_are_exported_even_when_services_send_elsewhere(
    production: Deployed,
) -> None:
    """Production's services send to Grafana Cloud; smoke and other clients still need the
    gateway's own user and password, as outputs (the password secret)."""
    outputs = production.outputs
    assert outputs["gatewayUser"] == "pyroscope"
    assert outputs["gatewayUrl"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
    assert "gatewayPassword" in production.run.secret_outputs
    assert outputs["gatewayPassword"] != outputs["profilerBasicAuthPassword"]
