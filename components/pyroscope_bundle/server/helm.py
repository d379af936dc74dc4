"""Scale-out: Pyroscope in microservices mode through the OFFICIAL grafana/pyroscope Helm chart.

The distributed engine (distributors, segment-writers, metastore raft, compaction-workers,
query-frontend/backend) is the chart's; this module only computes its values (a pure, tested
function), creates the S3 bucket the components share and the credentials to reach it, and
fences the pods with a NetworkPolicy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.helm import v4 as helm_v4
from pulumi_kubernetes.networking import v1 as networking_v1

from pyroscope_bundle import addresses, constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config import BundleConfig, ConfigError
from pyroscope_bundle.config.environment import provider_region, region_problem, resolve_region
from pyroscope_bundle.config.model import Server
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.endpoints import ServerDeployment, server_endpoints
from pyroscope_bundle.gateway.routes import COMPONENTS, Component
from pyroscope_bundle.naming import child_name
from pyroscope_bundle.placement import pod_placement
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.server.k8s_common import (
    DEFAULT_NAME,
    KubernetesServerArgs,
    data_options,
    deploy_gateway,
    gateway_outputs,
    gateway_passwords,
    gateway_query_passwords,
    kubernetes_server_args,
    pyroscope_peers,
    register_front,
    register_namespace,
    server_component_args,
)
from pyroscope_bundle.server.pyroscope_config import pyroscope_config

# Helm release name; with fullnameOverride every object is "pyroscope-<component>".
RELEASE = constants.PYROSCOPE_HELM_RELEASE
# The chart's selector labels (name = chart name, instance = release).
CHART_POD_LABELS = {constants.LABEL_NAME: "pyroscope", constants.LABEL_INSTANCE: RELEASE}
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
CREDENTIALS_SECRET = "pyroscope-s3-credentials"
# Components the chart runs for the v2 storage in microservices mode (values.yaml,
# architecture.microservices.v2); pushes go to the distributor, queries to the query-frontend.
PUSH_COMPONENT = constants.PYROSCOPE_PUSH_COMPONENT
QUERY_COMPONENT = constants.PYROSCOPE_QUERY_COMPONENT
# Chart 2.2.1 runs the metastore without a volume; its raft log must survive restarts
# (raftnode: "It must be a persistent directory").
PERSISTENT_COMPONENTS = ("metastore", "segment-writer")
# CPU limits per v2 component (the chart sets memory limits only); each is at least its request
# in the chart's values.yaml (architecture.microservices.v2.<component>.resources.requests.cpu).
COMPONENT_CPU_LIMITS = {
    "distributor": "2",
    "query-frontend": "1",
    "query-backend": "2",
    "segment-writer": "2",
    "compaction-worker": "2",
    "metastore": "2",
    "tenant-settings": "500m",
    "ad-hoc-profiles": "500m",
    "admin": "500m",
}
# Static S3 keys reach the pods as an AWS shared-credentials FILE, never as env values: with no
# access key in the config, the S3 client's chain is env, then AWS_SHARED_CREDENTIALS_FILE, then
# IAM (thanos-io/objstore providers/s3/s3.go NewBucketWithConfig, used by grafana/pyroscope
# pkg/objstore/providers/s3).
CREDENTIALS_KEY = "credentials"
CREDENTIALS_VOLUME = "s3-credentials"
CREDENTIALS_DIR = "/etc/pyroscope/aws"
# Where the v2 storage keeps profile data in the bucket (grafana/pyroscope pkg/block/block.go and
# object.go: segments/<shard>/anonymous/..., blocks/<shard>/<tenant>/..., dlq/<shard>/...). The
# same bucket holds tenant settings (tenant_settings.json) and recording rules (settings/...),
# which must never expire.
PROFILE_DATA_PREFIXES = ("blocks/", "segments/", "dlq/")
# S3 bucket_prefix: lowercase letters, digits, hyphens; at most 37 characters (AWS appends 26).
BUCKET_PREFIX_MAX = 37


def gateway_component_upstreams(namespace: str) -> dict[Component, str]:
    """The chart's Service of each component the gateway routes to, as the chart's own Ingress
    does (chart pyroscope-2.2.1 templates/ingress.yaml): pushes (OTLP included) -> distributor,
    queries -> query-frontend, settings -> tenant-settings, ad-hoc profiles -> ad-hoc-profiles."""
    domain = constants.KUBERNETES_SERVICE_DOMAIN
    port = constants.PYROSCOPE_HTTP_PORT
    return {c: f"{RELEASE}-{c}.{namespace}.{domain}:{port}" for c in COMPONENTS}


def component_url(component: str, namespace: str) -> str:
    return addresses.in_cluster_url(f"{RELEASE}-{component}", namespace)


def s3_endpoint(region: str) -> str:
    """The regional S3 endpoint (the Thanos S3 client refuses an empty endpoint)."""
    return f"s3.{region}.amazonaws.com"


def bucket_prefix(stack: str) -> str:
    """``pyroscope-<stack>-`` made valid for S3 whatever the stack is called (case, ``_``, length)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-") or "stack"
    room = BUCKET_PREFIX_MAX - len("pyroscope--")
    return f"pyroscope-{cleaned[:room].rstrip('-')}-"


def bucket_region(
    configured: str | None, aws_region: str | None, env: Mapping[str, str] | None = None
) -> str:
    """The bucket's region (:func:`pyroscope_bundle.config.environment.resolve_region`). The
    loader already refused a config without one; this guards a caller that skipped it."""
    region = resolve_region(configured, aws_region, env)
    if region is None:
        raise ConfigError([region_problem()])
    return region


def lifecycle_rules(server: Server) -> list[dict[str, Any]]:
    """One expiry rule per profile-data prefix; tenant settings and recording rules never expire."""
    days = bucket_expiry_days(server)
    return [
        {
            "id": f"expire-{prefix.rstrip('/')}-after-retention",
            "status": "Enabled",
            "filter": {"prefix": prefix},
            "expiration": {"days": days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        }
        for prefix in PROFILE_DATA_PREFIXES
    ]


def credentials_file(access_key_id: str, secret_access_key: str) -> str:
    """The AWS shared-credentials file (profile ``default``) the S3 client reads."""
    return f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"


def protect_data_holders(protect: bool) -> pulumi.ResourceTransform:
    """A transform for the Chart: ``protect`` on the StatefulSets that own volume claims (the
    metastore's raft state), not on every chart object as the Chart's own ``protect`` would."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != "kubernetes:apps/v1:StatefulSet" or not protect:
            return None
        spec = args.props.get("spec")
        if not isinstance(spec, Mapping) or not spec.get("volumeClaimTemplates"):
            return None
        return pulumi.ResourceTransformResult(
            props=args.props,
            opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True)),
        )

    return transform


def helm_values(
    server: Server,
    bucket_name: pulumi.Input[str],
    *,
    region: str,
    credentials_secret: str | None = None,
) -> dict[str, Any]:
    """Values for the grafana/pyroscope chart: microservices on the v2 storage, S3, retention, PVCs.

    Credentials: IRSA (``irsa_role_arn``: the chart's ServiceAccount is annotated, the AWS client
    chain picks up the web identity) or ``credentials_secret``, a Secret holding an AWS
    shared-credentials file, mounted read-only. No key is ever a value or an env variable.
    """
    helm = server.kubernetes.helm
    storage = helm.object_storage
    # The chart merges ``pyroscope.persistence`` into every component, and a Deployment with it
    # enabled mounts a claim ``<component>-data`` that no template creates (its pods stay Pending):
    # the shared block only carries the claim's shape, each stateful component switches it on.
    persistence: dict[str, Any] = {
        "enabled": False,
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
        "components": {
            name: {
                **({"persistence": {"enabled": True}} if name in PERSISTENT_COMPONENTS else {}),
                "resources": {"limits": {"cpu": cpu}},
            }
            for name, cpu in COMPONENT_CPU_LIMITS.items()
        },
        "podSecurityContext": manifests.pod_security_context(),
        "securityContext": kube.container_security_context(),
        # Writable scratch for the read-only root filesystem (compaction-worker temp files).
        "extraVolumes": [{"name": manifests.TMP_VOLUME, "emptyDir": {}}],
        "extraVolumeMounts": [{"name": manifests.TMP_VOLUME, "mountPath": constants.PYROSCOPE_TMP_DIR}],
        "structuredConfig": {
            "multitenancy_enabled": server.multitenancy,
            "storage": {
                "backend": "s3",
                "s3": {
                    "bucket_name": bucket_name,
                    "region": region,
                    "endpoint": s3_endpoint(region),
                },
            },
            # Version-aware, the same keys as the single binary (2.x: limits.retention_period).
            "limits": pyroscope_config(server)["limits"],
        },
    }
    # Scheduling and image pulls, the same for every chart component (chart values of the same
    # names; image.registry is prefixed to image.repository by the chart's templates).
    pyroscope.update(pod_placement(server.kubernetes))
    if server.image_registry:
        pyroscope["image"]["registry"] = server.image_registry
    if credentials_secret is not None:
        pyroscope["extraVolumes"].append(
            {"name": CREDENTIALS_VOLUME, "secret": {"secretName": credentials_secret, "defaultMode": 0o440}}
        )
        pyroscope["extraVolumeMounts"].append(
            {"name": CREDENTIALS_VOLUME, "mountPath": CREDENTIALS_DIR, "readOnly": True}
        )
        pyroscope["extraEnvVars"] = {"AWS_SHARED_CREDENTIALS_FILE": f"{CREDENTIALS_DIR}/{CREDENTIALS_KEY}"}
    return {
        "architecture": {"microservices": {"enabled": True}, "storage": {"v1": False, "v2": True}},
        "pyroscope": pyroscope,
        # Scraping is the wiring's job (push SDKs); no bundled collector, no demo object store.
        "alloy": {"enabled": False},
        "agent": {"enabled": False},
        "minio": {"enabled": False},
        "ingress": {"enabled": False},
    }


def bucket_expiry_days(server: Server) -> int:
    """Bucket lifecycle expiry: whole days, never sooner than the retention, plus a margin."""
    retention_days = math.ceil(server.retention.seconds / 86400)
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


class HelmPyroscope(BundleComponent):
    """Namespace, S3 bucket (+ lifecycle, encryption, no public access), credentials, NetworkPolicy
    and the official chart in microservices mode.

    Children are named after the component (``<name>-bucket``, ``<name>-chart``, ...; the bundle's
    ``pyroscope`` gives the names existing stacks hold), and so are the account-wide IAM names
    (``<name>-<stack>-bucket``). The chart's release and objects keep their names in
    ``server.kubernetes.namespace``: a second server goes into another namespace.
    """

    def __init__(
        self,
        name: str,
        args: KubernetesServerArgs,
        opts: pulumi.ResourceOptions | None = None,
        *deprecated: Any,
    ) -> None:
        # Imported here: the single-binary mode needs no AWS SDK (importing it costs seconds).
        from pulumi_aws import iam, s3

        args, opts = server_component_args("HelmPyroscope", name, args, opts, deprecated)
        super().__init__(name, opts)
        server = args.server
        routes = args.routes
        helm = server.kubernetes.helm
        storage = helm.object_storage
        namespace = server.kubernetes.namespace
        self.namespace = namespace
        created_namespace = register_namespace(server, self, name)
        in_namespace = [created_namespace] if created_namespace is not None else []
        tags = {"environment": args.stack, constants.LABEL_MANAGED_BY: constants.MANAGED_BY}

        region = bucket_region(storage.region, provider_region())
        bucket = s3.Bucket(
            f"{name}-bucket",
            bucket=storage.bucket_name,
            bucket_prefix=None if storage.bucket_name else bucket_prefix(args.stack),
            region=region,
            force_destroy=False,
            tags=tags,
            opts=data_options(server.protect, self),
        )
        # Retained with the bucket: a destroy must not leave it public or without expiry.
        bucket_child = pulumi.ResourceOptions(parent=bucket, retain_on_delete=True)
        s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access-block",
            bucket=bucket.id,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_child,
        )
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=bucket.id,
            region=region,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True,
                }
            ],
            opts=bucket_child,
        )
        s3.BucketLifecycleConfiguration(
            f"{name}-bucket-lifecycle",
            bucket=bucket.id,
            region=region,
            rules=lifecycle_rules(server),
            opts=bucket_child,
        )
        policy_document = bucket.arn.apply(bucket_access_policy)
        credentials_secret: str | None = None
        if storage.irsa_role_arn:
            iam.RolePolicy(
                f"{name}-bucket-access",
                name=f"{name}-{args.stack}-bucket-access",
                role=role_name_from_arn(storage.irsa_role_arn),
                policy=policy_document,
                opts=pulumi.ResourceOptions(parent=self),
            )
        else:
            user = iam.User(
                f"{name}-bucket-user",
                name=f"{name}-{args.stack}-bucket",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            iam.UserPolicy(
                f"{name}-bucket-access",
                name="bucket-access",
                user=user.name,
                policy=policy_document,
                opts=pulumi.ResourceOptions(parent=user),
            )
            key = iam.AccessKey(
                f"{name}-bucket-key", user=user.name, opts=pulumi.ResourceOptions(parent=user)
            )
            credentials_secret = CREDENTIALS_SECRET
            # Secret as a whole: the key id's secretness spreads to the file through apply.
            shared_file = pulumi.Output.all(pulumi.Output.secret(key.id), key.secret).apply(
                lambda keys: credentials_file(str(keys[0]), str(keys[1]))
            )
            core_v1.Secret(
                child_name(name, DEFAULT_NAME, f"{CREDENTIALS_SECRET}-secret"),
                metadata={
                    "name": CREDENTIALS_SECRET,
                    "namespace": namespace,
                    "labels": kube.labels("object-storage", RELEASE),
                },
                type="Opaque",
                string_data={CREDENTIALS_KEY: shared_file},
                opts=pulumi.ResourceOptions(parent=self, depends_on=in_namespace),
            )

        # The authenticating gateway, as in single-binary mode: pushes to the distributor,
        # queries (and Grafana) to the query-frontend; then only it reaches the chart's HTTP port.
        gateway = deploy_gateway(
            args, self, in_namespace, name=name, component_upstreams=gateway_component_upstreams(namespace)
        )
        policy = kube.network_policy_manifest(
            RELEASE,
            namespace,
            CHART_POD_LABELS,
            pyroscope_peers(args, gateway),
            constants.PYROSCOPE_HTTP_PORT,
            component=kube.COMPONENT_SERVER,
            allow_same_namespace=True,
        )
        networking_v1.NetworkPolicy(
            f"{name}-networkpolicy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=in_namespace),
        )
        register_front(args, gateway, pulumi.ResourceOptions(parent=self, depends_on=in_namespace), name)
        self.chart = helm_v4.Chart(
            f"{name}-chart",
            chart=constants.PYROSCOPE_HELM_CHART,
            version=helm.chart_version,
            repository_opts={"repo": constants.PYROSCOPE_HELM_REPOSITORY},
            name=RELEASE,
            namespace=namespace,
            values=helm_values(server, bucket.bucket, credentials_secret=credentials_secret, region=region),
            # Not protect=...: it would propagate to every chart object (an upgrade that replaces
            # a Service would then fail). Only the StatefulSets whose PVCs hold the metastore's
            # raft state (the index of the bucket) are protected.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*in_namespace, bucket],
                transforms=[protect_data_holders(server.protect)],
            ),
        )
        self.bucket_name = bucket.bucket
        self.gateway_url = gateway.url if gateway is not None else None
        # Every address and tenant from the routing rule (config/routing.py).
        self.gateway = gateway
        self.endpoints = server_endpoints(
            routes, gateway_passwords(gateway), gateway_query_passwords(gateway)
        )
        self.push = self.endpoints.push
        self.external_push = self.endpoints.external_push
        self.query_url = component_url(QUERY_COMPONENT, namespace)
        self.register_outputs(
            {"pyroscopeUrl": self.query_url, "namespace": namespace, "bucketName": bucket.bucket}
        )


def deploy_helm_server(config: BundleConfig, routes: Routes, *, name: str = DEFAULT_NAME) -> ServerDeployment:
    """Register the chart in microservices mode; return its endpoints and outputs."""
    component = HelmPyroscope(name, kubernetes_server_args(config, routes))
    return ServerDeployment(
        backend="kubernetes",
        version=config.server.version,
        push=component.push,
        query=component.endpoints.query,
        query_per_tenant=component.endpoints.query_per_tenant,
        external_push=component.external_push,
        outputs={
            **gateway_outputs(component.gateway, component.push),
            **({"pyroscopeExternalUrl": component.external_push.url} if component.external_push else {}),
            "pyroscopeUrl": component.query_url,
            "pyroscopePushUrl": component_url(PUSH_COMPONENT, component.namespace),
            "namespace": component.namespace,
            "pyroscopeVersion": config.server.version,
            "chartVersion": config.server.kubernetes.helm.chart_version,
            "bucketName": component.bucket_name,
        },
        namespace=component.namespace,
        resource=component,
        probe=component.gateway.probe_endpoints() if component.gateway is not None else None,
    )
