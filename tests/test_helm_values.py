"""Scale-out mode: the official Helm chart's values, the S3 bucket, credentials and the Chart inputs."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml
from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig, ConfigError, load_config
from pyroscope_bundle.gateway.common import gateway_labels
from pyroscope_bundle.server.helm import (
    CREDENTIALS_SECRET,
    IRSA_ANNOTATION,
    bucket_access_policy,
    bucket_expiry_days,
    bucket_prefix,
    bucket_region,
    credentials_file,
    helm_values,
    lifecycle_rules,
    role_name_from_arn,
)

from tests.harness import Deployed, deploy_with

CHART = "kubernetes:helm.sh/v4:Chart"
BUCKET = "aws:s3/bucket:Bucket"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ROLE_ARN = "arn:aws:iam::123456789012:role/eks/pyroscope-irsa"
REGION = "eu-west-1"
AWS = {"aws:region": REGION}

# Every config carries the per-service usage group the monitoring rules read.
USAGE_GROUPS = {"distributor_usage_groups": {"service/${labels.service_name}": '{service_name=~".+"}'}}


GATEWAY_PODS = gateway_labels("pyroscope-gateway")


def server_config(**kubernetes: Any) -> dict[str, Any]:
    return {
        "backend": "kubernetes",
        "retention": "30d",
        "kubernetes": {"mode": "microservices", **kubernetes},
    }


def make_config(server: dict[str, Any] | None = None) -> BundleConfig:
    """The config as the loader gives it; the bucket's region stands in for aws:region (the
    loader refuses microservices mode with neither)."""
    server = copy.deepcopy(server or server_config())
    helm = server.setdefault("kubernetes", {}).setdefault("helm", {})
    helm.setdefault("objectStorage", {}).setdefault("region", REGION)
    return load_config({"server": server}, "test")


def test_microservices_on_with_v2_storage_and_no_bundled_extras() -> None:
    values = helm_values(make_config().server, "my-bucket", region=REGION)
    assert values["architecture"]["microservices"]["enabled"] is True
    assert values["architecture"]["storage"] == {"v1": False, "v2": True}
    assert values["alloy"]["enabled"] is False
    assert values["agent"]["enabled"] is False
    assert values["minio"]["enabled"] is False
    assert values["pyroscope"]["image"]["tag"] == constants.PYROSCOPE_DEFAULT_VERSION


def test_object_storage_bucket_and_region_are_wired() -> None:
    config = make_config(server_config(helm={"objectStorage": {"region": "eu-central-1"}}))
    s3 = helm_values(config.server, "profiles-bucket", region="eu-central-1")["pyroscope"][
        "structuredConfig"
    ]["storage"]
    assert s3 == {
        "backend": "s3",
        "s3": {
            "bucket_name": "profiles-bucket",
            "region": "eu-central-1",
            "endpoint": "s3.eu-central-1.amazonaws.com",
        },
    }


def test_retention_is_set_with_the_2x_key() -> None:
    config = make_config({**server_config(), "retention": "45d"})
    limits = helm_values(config.server, "b", region=REGION)["pyroscope"]["structuredConfig"]["limits"]
    assert limits == {"retention_period": "45d", **USAGE_GROUPS}


def test_persistence_is_on_only_for_the_stateful_components() -> None:
    config = make_config({**server_config(helm={"volumeSize": "5Gi"}), "storage": {"storageClass": "gp3"}})
    pyroscope = helm_values(config.server, "b", region=REGION)["pyroscope"]
    # The chart merges this block into every component: it carries the claim's shape, off.
    assert pyroscope["persistence"] == {
        "enabled": False,
        "accessModes": ["ReadWriteOnce"],
        "size": "5Gi",
        "storageClassName": "gp3",
    }
    enabled = {
        name
        for name, values in pyroscope["components"].items()
        if values.get("persistence", {}).get("enabled")
    }
    # The chart turns the metastore's volume off by default; its raft log must persist.
    assert enabled == {"metastore", "segment-writer"}


def test_irsa_annotates_the_service_account_and_needs_no_secret() -> None:
    config = make_config(server_config(helm={"objectStorage": {"irsaRoleArn": ROLE_ARN}}))
    pyroscope = helm_values(config.server, "b", region=REGION)["pyroscope"]
    assert pyroscope["serviceAccount"]["annotations"] == {IRSA_ANNOTATION: ROLE_ARN}
    assert "extraEnvFrom" not in pyroscope


def test_secret_credentials_arrive_as_a_mounted_file_never_as_values_or_env() -> None:
    values = helm_values(make_config().server, "b", region=REGION, credentials_secret=CREDENTIALS_SECRET)
    pyroscope = values["pyroscope"]
    assert "extraEnvFrom" not in pyroscope
    volume = {"name": "s3-credentials", "secret": {"secretName": CREDENTIALS_SECRET, "defaultMode": 0o440}}
    assert volume in pyroscope["extraVolumes"]
    mount = {"name": "s3-credentials", "mountPath": "/etc/pyroscope/aws", "readOnly": True}
    assert mount in pyroscope["extraVolumeMounts"]
    assert pyroscope["extraEnvVars"] == {"AWS_SHARED_CREDENTIALS_FILE": "/etc/pyroscope/aws/credentials"}
    s3 = pyroscope["structuredConfig"]["storage"]["s3"]
    assert "access_key_id" not in s3
    assert "secret_access_key" not in s3
    assert "annotations" not in pyroscope["serviceAccount"]


def test_pods_run_hardened_with_a_writable_tmp() -> None:
    pyroscope = helm_values(make_config().server, "b", region=REGION)["pyroscope"]
    assert pyroscope["podSecurityContext"]["runAsUser"] == 10001
    assert pyroscope["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in pyroscope["extraVolumeMounts"]


def test_values_are_plain_yaml() -> None:
    """Helm gets them as YAML: no Python objects that would not serialise."""
    assert yaml.safe_load(
        yaml.safe_dump(helm_values(make_config().server, "b", region=REGION))
    ) == helm_values(make_config().server, "b", region=REGION)


@pytest.mark.parametrize(("retention", "days"), [("30d", 37), ("1h", 8), ("36h", 9), ("90d", 97)])
def test_bucket_expiry_is_never_sooner_than_retention(retention: str, days: int) -> None:
    config = make_config({**server_config(), "retention": retention})
    assert bucket_expiry_days(config.server) == days
    assert bucket_expiry_days(config.server) * 86400 >= config.server.retention.seconds


def test_bucket_access_policy_is_scoped_to_the_bucket() -> None:
    policy = json.loads(bucket_access_policy("arn:aws:s3:::b"))
    resources = {statement["Resource"] for statement in policy["Statement"]}
    assert resources == {"arn:aws:s3:::b", "arn:aws:s3:::b/*"}
    assert role_name_from_arn(ROLE_ARN) == "pyroscope-irsa"


def test_microservices_needs_pyroscope_2() -> None:
    with pytest.raises(ConfigError, match=r"pyroscope:server\.version"):
        make_config({**server_config(), "version": constants.PYROSCOPE_LAST_V1_VERSION})


@pytest.fixture(scope="module")
def helm_mode() -> Deployed:
    return deploy_with(
        {"server": {**server_config(), "protect": True}, "grafana": {"mode": "kubernetes-sidecar"}},
        stack="staging",
        extra=AWS,
    )


def test_chart_inputs_pin_the_official_chart(helm_mode: Deployed) -> None:
    chart = helm_mode.one(CHART).inputs
    assert chart["chart"] == "pyroscope"
    assert chart["version"] == constants.PYROSCOPE_HELM_CHART_VERSION == "2.2.1"
    assert chart["repositoryOpts"] == {"repo": "https://grafana.github.io/helm-charts"}
    assert chart["namespace"] == "pyroscope"
    values = chart["values"]
    assert values["architecture"]["microservices"]["enabled"] is True
    bucket = helm_mode.one(BUCKET).inputs
    s3 = values["pyroscope"]["structuredConfig"]["storage"]["s3"]
    # The chart gets the bucket's real (provider-generated) name: the mock resolves it to the
    # resource name, where AWS would append a suffix to the prefix.
    assert s3["bucket_name"] == "pyroscope-bucket"
    assert "bucket" not in bucket
    assert bucket["bucketPrefix"] == "pyroscope-staging-"
    assert values["pyroscope"]["extraEnvVars"] == {
        "AWS_SHARED_CREDENTIALS_FILE": "/etc/pyroscope/aws/credentials"
    }
    # The bucket and the S3 client follow the AWS provider's region.
    assert bucket["region"] == s3["region"] == REGION
    assert s3["endpoint"] == f"s3.{REGION}.amazonaws.com"


def test_bucket_lifecycle_public_access_and_encryption(helm_mode: Deployed) -> None:
    rules = helm_mode.one(LIFECYCLE).inputs["rules"]
    # Only the v2 profile-data prefixes expire: tenant_settings.json and settings/ stay.
    assert sorted(rule["filter"]["prefix"] for rule in rules) == ["blocks/", "dlq/", "segments/"]
    for rule in rules:
        assert rule["status"] == "Enabled"
        assert rule["expiration"]["days"] == 37
    block = helm_mode.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[key] is True
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    encryption = helm_mode.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_protected_bucket_retained_children_and_unprotected_chart(helm_mode: Deployed) -> None:
    assert helm_mode.one(BUCKET).options["protect"] is True
    assert helm_mode.one(BUCKET).options["retainOnDelete"] is True
    # protect on the Chart would propagate to every chart object: a transform protects the
    # data-holding ones instead (checked on the expanded chart in test_chart_render.py).
    assert helm_mode.one(CHART).options["protect"] is False
    for token in (
        LIFECYCLE,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ):
        assert helm_mode.one(token).options["retainOnDelete"] is True, token


def test_credentials_secret_is_secret_and_network_policy_fences_the_release(helm_mode: Deployed) -> None:
    secret = helm_mode.one("kubernetes:core/v1:Secret", f"{CREDENTIALS_SECRET}-secret")
    assert secret.inputs["metadata"]["name"] == CREDENTIALS_SECRET
    assert secret.is_secret("stringData", "credentials")
    policy = helm_mode.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "pyroscope-networkpolicy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "pyroscope",
        "app.kubernetes.io/instance": "pyroscope",
    }
    # Port 4040 only from the authenticating gateway (Grafana queries through it too); every
    # port between the release's own pods.
    assert spec["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pyroscope"}},
            "podSelector": {"matchLabels": GATEWAY_PODS},
        }
    ]
    assert spec["ingress"][1] == {"from": [{"podSelector": {}}]}


def test_helm_mode_outputs_and_endpoints(helm_mode: Deployed) -> None:
    outputs = helm_mode.outputs
    assert outputs["chartVersion"] == "2.2.1"
    assert outputs["pyroscopeVersion"] == constants.PYROSCOPE_DEFAULT_VERSION
    # Clients (services, Grafana) go through the gateway, which routes pushes to the
    # distributor and everything else to the query-frontend; pyroscopeUrl/pyroscopePushUrl name
    # Pyroscope's own Services, as in single-binary mode (reachable by the gateway only).
    gateway = "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
    assert outputs["gatewayUrl"] == outputs["profilerServerAddress"] == gateway
    assert outputs["pyroscopeUrl"] == "http://pyroscope-query-frontend.pyroscope.svc.cluster.local:4040"
    assert outputs["pyroscopePushUrl"] == "http://pyroscope-distributor.pyroscope.svc.cluster.local:4040"
    assert helm_mode.of_type("kubernetes:apps/v1:StatefulSet") == []
    conf = helm_mode.one("kubernetes:core/v1:ConfigMap", "pyroscope-gateway-config").inputs["data"][
        "nginx.conf"
    ]
    assert "server pyroscope-distributor.pyroscope.svc.cluster.local:4040;" in conf
    assert "server pyroscope-query-frontend.pyroscope.svc.cluster.local:4040;" in conf


def test_helm_mode_without_the_gateway_exposes_the_components_directly() -> None:
    deployed = deploy_with({"server": {**server_config(), "gateway": {"enabled": False}}}, extra=AWS)
    outputs = deployed.outputs
    assert outputs["pyroscopeUrl"] == "http://pyroscope-query-frontend.pyroscope.svc.cluster.local:4040"
    assert outputs["pyroscopePushUrl"] == "http://pyroscope-distributor.pyroscope.svc.cluster.local:4040"
    assert "gatewayUrl" not in outputs


def test_irsa_mode_grants_the_role_and_creates_no_user() -> None:
    deployed = deploy_with(
        {"server": server_config(helm={"objectStorage": {"irsaRoleArn": ROLE_ARN}})}, extra=AWS
    )
    assert deployed.one("aws:iam/rolePolicy:RolePolicy").inputs["role"] == "pyroscope-irsa"
    assert deployed.of_type("aws:iam/user:User") == []
    assert [s.name for s in deployed.of_type("kubernetes:core/v1:Secret") if "s3" in s.name] == []
    values = deployed.one(CHART).inputs["values"]
    assert values["pyroscope"]["serviceAccount"]["annotations"] == {IRSA_ANNOTATION: ROLE_ARN}


def test_named_bucket_is_used_as_is() -> None:
    deployed = deploy_with(
        {"server": server_config(helm={"objectStorage": {"bucketName": "acme-profiles"}})}, extra=AWS
    )
    assert deployed.one(BUCKET).inputs["bucket"] == "acme-profiles"
    s3 = deployed.one(CHART).inputs["values"]["pyroscope"]["structuredConfig"]["storage"]["s3"]
    assert s3["bucket_name"] == "acme-profiles"


@pytest.mark.parametrize(
    ("stack", "prefix"),
    [
        ("staging", "pyroscope-staging-"),
        ("Prod_EU.2", "pyroscope-prod-eu-2-"),
        ("a-very-long-stack-name-for-the-eu-west-region", "pyroscope-a-very-long-stack-name-for-"),
    ],
)
def test_bucket_prefix_is_valid_for_any_stack_name(stack: str, prefix: str) -> None:
    assert bucket_prefix(stack) == prefix
    assert len(prefix) <= 37
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*-", prefix)


def test_bucket_region_follows_the_aws_provider_unless_set() -> None:
    assert bucket_region(None, "eu-west-1", env={}) == "eu-west-1"
    assert bucket_region("us-west-2", "eu-west-1", env={}) == "us-west-2"
    assert bucket_region(None, None, env={"AWS_REGION": "ap-south-1"}) == "ap-south-1"
    with pytest.raises(ConfigError, match=r"objectStorage\.region: is not set and neither is aws:region"):
        bucket_region(None, None, env={})


def test_lifecycle_rules_never_touch_settings_or_recording_rules() -> None:
    rules = lifecycle_rules(make_config().server)
    prefixes = [rule["filter"]["prefix"] for rule in rules]
    assert prefixes and all(prefixes)
    for key in ("tenant_settings.json", "settings/recording_rule.v1/rules.json"):
        assert not any(key.startswith(prefix) for prefix in prefixes), key
    for key in (
        "blocks/0/tenant-a/01J/block.bin",
        "segments/3/anonymous/01J/block.bin",
        "dlq/1/x/01J/meta.pb",
    ):
        assert any(key.startswith(prefix) for prefix in prefixes), key


def test_credentials_file_is_the_aws_shared_credentials_format() -> None:
    import configparser

    parser = configparser.ConfigParser()
    parser.read_string(credentials_file("AKIAEXAMPLE", "s3cr3t"))
    assert dict(parser["default"]) == {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "s3cr3t"}
