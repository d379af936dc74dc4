"""Scale-out: Pyroscope in microservices mode through the OFFICIAL grafana/pyroscope Helm chart.

The distributed engine (distributors, segment-writers, metastore raft, compaction-workers,
query-frontend/backend) is the chart's; this module only computes its values (a pure, tested
function), creates the S3 bucket the components share and the credentials to reach it, and
fences the pods with a NetworkPolicy.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.helm import v4 as helm_v4
from pulumi_kubernetes.networking import v1 as networking_v1

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.server.kubernetes import (
    data_options,
    deploy_gateway,
    gateway_outputs,
    push_endpoint,
    pyroscope_peers,
    register_front,
    register_namespace,
    tenant_for_queries,
)
from pyroscope_bundle.server.pyroscope_config import pyroscope_config

TYPE_TOKEN = "pyroscope-bundle:server:HelmPyroscope"
# Helm release name; with fullnameOverride every object is "pyroscope-<component>".
RELEASE = "pyroscope"
# The chart's selector labels (name = chart name, instance = release).
CHART_POD_LABELS = {constants.LABEL_NAME: "pyroscope", constants.LABEL_INSTANCE: RELEASE}
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
CREDENTIALS_SECRET = "pyroscope-s3-credentials"
# Components the chart runs for the v2 storage in microservices mode (values.yaml,
# architecture.microservices.v2); pushes go to the distributor, queries to the query-frontend.
PUSH_COMPONENT = "distributor"
QUERY_COMPONENT = "query-frontend"
# Chart 2.2.1 runs the metastore without a volume; its raft log must survive restarts
# (raftnode: "It must be a persistent directory").
PERSISTENT_COMPONENTS = ("metastore", "segment-writer")


def component_url(component: str, namespace: str) -> str:
    return manifests.in_cluster_url(f"{RELEASE}-{component}", namespace)


def s3_endpoint(region: str) -> str:
    """The regional S3 endpoint (the Thanos S3 client refuses an empty endpoint)."""
    return f"s3.{region}.amazonaws.com"


def helm_values(
    config: BundleConfig, bucket_name: pulumi.Input[str], *, credentials_secret: str | None = None
) -> dict[str, Any]:
    """Values for the grafana/pyroscope chart: microservices on the v2 storage, S3, retention, PVCs.

    Credentials: IRSA (``irsa_role_arn``: the chart's ServiceAccount is annotated, the AWS client
    chain picks up the web identity) or ``credentials_secret``, a Secret whose
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` keys become env vars. No key is ever a value.
    """
    server = config.server
    helm = server.kubernetes.helm
    storage = helm.object_storage
    persistence: dict[str, Any] = {
        "enabled": True,
        "accessModes": ["ReadWriteOnce"],
        "size": helm.volume_size.text,
    }
    if server.storage.storage_class:
        persistence["storageClassName"] = server.storage.storage_class
    service_account: dict[str, Any] = {"create": True, "name": RELEASE}
    if storage.irsa_role_arn:
        service_account["annotations"] = {IRSA_ANNOTATION: storage.irsa_role_arn}
    pyroscope: dict[str, Any] = {
        "fullnameOverride": RELEASE,
        "image": {"tag": server.version},
        # The chart defaults to debug logging.
        "extraArgs": {"log.level": "info"},
        "serviceAccount": service_account,
        "persistence": persistence,
        "components": {name: {"persistence": {"enabled": True}} for name in PERSISTENT_COMPONENTS},
        "podSecurityContext": manifests.pod_security_context(),
        "securityContext": manifests.container_security_context(),
        # Writable scratch for the read-only root filesystem (compaction-worker temp files).
        "extraVolumes": [{"name": manifests.TMP_VOLUME, "emptyDir": {}}],
        "extraVolumeMounts": [{"name": manifests.TMP_VOLUME, "mountPath": constants.PYROSCOPE_TMP_DIR}],
        "structuredConfig": {
            "multitenancy_enabled": server.multitenancy,
            "storage": {
                "backend": "s3",
                "s3": {
                    "bucket_name": bucket_name,
                    "region": storage.region,
                    "endpoint": s3_endpoint(storage.region),
                },
            },
            # Version-aware, the same keys as the single binary (2.x: limits.retention_period).
            "limits": pyroscope_config(server)["limits"],
        },
    }
    if credentials_secret is not None:
        pyroscope["extraEnvFrom"] = [{"secretRef": {"name": credentials_secret}}]
    return {
        "architecture": {"microservices": {"enabled": True}, "storage": {"v1": False, "v2": True}},
        "pyroscope": pyroscope,
        # Scraping is the wiring's job (push SDKs); no bundled collector, no demo object store.
        "alloy": {"enabled": False},
        "agent": {"enabled": False},
        "minio": {"enabled": False},
        "ingress": {"enabled": False},
    }


def bucket_expiry_days(config: BundleConfig) -> int:
    """Bucket lifecycle expiry: whole days, never sooner than the retention, plus a margin."""
    retention_days = math.ceil(config.server.retention.seconds / 86400)
    return retention_days + constants.BUCKET_EXPIRY_MARGIN_DAYS


def bucket_access_policy(bucket_arn: str) -> str:
    """Least privilege for Pyroscope on its bucket: list it, read/write/delete its objects."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                    "Resource": bucket_arn,
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": f"{bucket_arn}/*",
                },
            ],
        },
        sort_keys=True,
    )


def role_name_from_arn(role_arn: str) -> str:
    """``arn:aws:iam::123:role/path/name`` -> ``name`` (what iam.RolePolicy takes)."""
    return role_arn.rsplit("/", 1)[-1]


class HelmPyroscope(pulumi.ComponentResource):
    """Namespace, S3 bucket (+ lifecycle, encryption, no public access), credentials, NetworkPolicy
    and the official chart in microservices mode."""

    def __init__(self, name: str, config: BundleConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Imported here: the single-binary mode needs no AWS SDK (importing it costs seconds).
        from pulumi_aws import iam, s3

        super().__init__(TYPE_TOKEN, name, None, opts)
        server = config.server
        helm = server.kubernetes.helm
        storage = helm.object_storage
        namespace = server.kubernetes.namespace
        self.namespace = namespace
        created_namespace = register_namespace(config, self)
        in_namespace = [created_namespace] if created_namespace is not None else []
        tags = {"environment": config.stack, constants.LABEL_MANAGED_BY: constants.MANAGED_BY}

        bucket = s3.Bucket(
            f"{RELEASE}-bucket",
            bucket=storage.bucket_name,
            bucket_prefix=None if storage.bucket_name else f"pyroscope-{config.stack}-",
            region=storage.region,
            force_destroy=False,
            tags=tags,
            opts=data_options(config, self),
        )
        bucket_child = pulumi.ResourceOptions(parent=bucket)
        s3.BucketPublicAccessBlock(
            f"{RELEASE}-bucket-public-access-block",
            bucket=bucket.id,
            region=storage.region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        s3.BucketServerSideEncryptionConfiguration(
            f"{RELEASE}-bucket-encryption",
            bucket=bucket.id,
            region=storage.region,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True,
                }
            ],
            opts=bucket_child,
        )
        s3.BucketLifecycleConfiguration(
            f"{RELEASE}-bucket-lifecycle",
            bucket=bucket.id,
            region=storage.region,
            rules=[
                {
                    "id": "expire-after-retention",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": bucket_expiry_days(config)},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=bucket_child,
        )
        policy_document = bucket.arn.apply(bucket_access_policy)
        credentials_secret: str | None = None
        if storage.irsa_role_arn:
            iam.RolePolicy(
                f"{RELEASE}-bucket-access",
                name=f"pyroscope-{config.stack}-bucket-access",
                role=role_name_from_arn(storage.irsa_role_arn),
                policy=policy_document,
                opts=pulumi.ResourceOptions(parent=self),
            )
        else:
            user = iam.User(
                f"{RELEASE}-bucket-user",
                name=f"pyroscope-{config.stack}-bucket",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            iam.UserPolicy(
                f"{RELEASE}-bucket-access",
                name="bucket-access",
                user=user.name,
                policy=policy_document,
                opts=pulumi.ResourceOptions(parent=user),
            )
            key = iam.AccessKey(
                f"{RELEASE}-bucket-key", user=user.name, opts=pulumi.ResourceOptions(parent=user)
            )
            credentials_secret = CREDENTIALS_SECRET
            core_v1.Secret(
                f"{CREDENTIALS_SECRET}-secret",
                metadata={
                    "name": CREDENTIALS_SECRET,
                    "namespace": namespace,
                    "labels": manifests.labels("object-storage", RELEASE),
                },
                type="Opaque",
                string_data={
                    "AWS_ACCESS_KEY_ID": pulumi.Output.secret(key.id),
                    "AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(key.secret),
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=in_namespace),
            )

        # The authenticating gateway, as in single-binary mode: pushes to the distributor,
        # queries (and Grafana) to the query-frontend; then only it reaches the chart's HTTP port.
        gateway = deploy_gateway(
            config,
            self,
            in_namespace,
            service=f"{RELEASE}-{QUERY_COMPONENT}",
            push_service=f"{RELEASE}-{PUSH_COMPONENT}",
        )
        policy = manifests.network_policy_manifest(
            RELEASE,
            namespace,
            CHART_POD_LABELS,
            pyroscope_peers(config, gateway),
            constants.PYROSCOPE_HTTP_PORT,
            allow_same_namespace=True,
        )
        networking_v1.NetworkPolicy(
            f"{RELEASE}-networkpolicy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=in_namespace),
        )
        register_front(config, gateway, None, pulumi.ResourceOptions(parent=self, depends_on=in_namespace))
        self.chart = helm_v4.Chart(
            f"{RELEASE}-chart",
            chart=constants.PYROSCOPE_HELM_CHART,
            version=helm.chart_version,
            repository_opts={"repo": constants.PYROSCOPE_HELM_REPOSITORY},
            name=RELEASE,
            namespace=namespace,
            values=helm_values(config, bucket.bucket, credentials_secret=credentials_secret),
            # Its StatefulSets' PVCs hold the metastore's raft state (the index of the bucket).
            opts=pulumi.ResourceOptions(
                parent=self, protect=server.protect, depends_on=[*in_namespace, bucket]
            ),
        )
        self.bucket_name = bucket.bucket
        self.gateway_url = gateway.url if gateway is not None else None
        if gateway is not None:
            self.push = push_endpoint(config, gateway)
            self.query = gateway.query_endpoint()
            self.query_per_tenant = gateway.query_endpoints()
        else:
            self.push = Endpoint(
                url=component_url(PUSH_COMPONENT, namespace), tenant_id=config.target.tenant_id
            )
            self.query = Endpoint(
                url=component_url(QUERY_COMPONENT, namespace), tenant_id=tenant_for_queries(config)
            )
            self.query_per_tenant = {}
        external_url = manifests.ingress_url(config) if gateway is not None else None
        self.external_push = dataclasses.replace(self.push, url=external_url) if external_url else None
        self.register_outputs(
            {"pyroscopeUrl": self.query.url, "namespace": namespace, "bucketName": bucket.bucket}
        )


def deploy_helm_server(config: BundleConfig) -> ServerDeployment:
    component = HelmPyroscope("pyroscope", config)
    return ServerDeployment(
        backend="kubernetes",
        version=config.server.version,
        push=component.push,
        query=component.query,
        query_per_tenant=component.query_per_tenant,
        external_push=component.external_push,
        outputs={
            **gateway_outputs(component.gateway_url, component.push),
            **({"pyroscopeExternalUrl": component.external_push.url} if component.external_push else {}),
            "pyroscopeUrl": component.query.url,
            "pyroscopePushUrl": component.push.url,
            "namespace": component.namespace,
            "pyroscopeVersion": config.server.version,
            "chartVersion": config.server.kubernetes.helm.chart_version,
            "bucketName": component.bucket_name,
        },
        namespace=component.namespace,
    )
