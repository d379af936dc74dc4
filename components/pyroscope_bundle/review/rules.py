"""Which input changes REPLACE a resource, and which resources hold data: the one table.

A render shows inputs, not the engine's plan, so the review diff has to know what the providers
do with a changed input. Everything here is taken from the provider sources the bundle pins:

- Kubernetes (pulumi-kubernetes 4, ``provider/pkg/provider/diff.go`` ``forceNewProperties`` and
  ``provider.go`` ``Diff``): ``metadata.name``/``metadata.namespace`` replace any object
  (also ``*Patch`` resources, for which nothing else does); StatefulSet ``spec.selector``,
  ``spec.serviceName``, ``spec.volumeClaimTemplates``, ``spec.podManagementPolicy``,
  ``spec.revisionHistoryLimit``; Deployment/DaemonSet ``spec.selector``; PersistentVolumeClaim
  ``spec.accessModes``, ``spec.selector``, ``spec.storageClassName``, ``spec.volumeName`` (a
  larger ``spec.resources.requests.storage`` is an in-place expansion); Service
  ``spec.clusterIP``; RoleBinding/ClusterRoleBinding ``roleRef``; StorageClass ``parameters``,
  ``provisioner``; Secret ``type``, ``data``, ``stringData`` and ConfigMap ``data``,
  ``binaryData`` (the provider's ``enableSecretMutable``/``enableConfigMapMutable`` default to
  false: Secrets and ConfigMaps are replaced, never edited, so pods roll onto the new object).
- Docker (pulumi-docker 5 = kreuzwerker/docker, ``resource_docker_container.go``): every
  Container argument is ``ForceNew`` except the few ``resourceDockerContainerUpdate`` applies
  (restart policy, CPU/memory limits, block-IO limits) and client-side switches; ``envs``,
  ``uploads``, ``ports``, ``image``, ``volumes`` all recreate the container. Volume, Network and
  RemoteImage have no update at all (``name``, ``driver``, ``driverOpts``, ``labels``... are
  ``ForceNew``).
- AWS (pulumi-aws 7 = terraform-provider-aws): an ECS TaskDefinition is immutable - any change
  but tags registers a new revision (the old one is deregistered); S3 Bucket ``bucket``,
  ``bucketPrefix``, ``objectLockEnabled``; Secrets Manager Secret ``name``/``namePrefix``;
  SecretVersion ``secretId``/``secretString``/``secretBinary``; IAM Role and Policy
  ``name``/``namePrefix``/``path``; RolePolicyAttachment ``role``/``policyArn``; RolePolicy
  ``name``/``role``.
- random (pulumi-random): every argument of RandomPassword/RandomString replaces it, which
  generates a new value.
- Grafana (pulumiverse-grafana = terraform-provider-grafana ``resource_data_source.go``):
  DataSource ``uid`` and ``orgId``; Dashboard (``resource_dashboard.go``) ``folder`` and
  ``orgId`` (``configJson`` is updated in place, under the same uid).
- Kubernetes custom resources (PodMonitor, PrometheusRule) and CronJobs have no ``forceNew``
  field beyond identity: everything else is patched in place. What removing them costs (alerts
  that can no longer fire) is a review warning (``findings.removal_warnings``), not a data loss.

A changed ``parent`` changes the URN: without an alias Pulumi deletes and recreates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Named:
    """A path part: the list item found by its ``name`` field (env vars, containers, volumes)."""

    name: str

    def __str__(self) -> str:
        return f"[{self.name}]"


ANY = "*"  # in a rule: any single key, index or named item; as the whole rule: any input


@dataclass(frozen=True)
class Rule:
    """Replacement behaviour of one resource type."""

    replaces_on: tuple[tuple[str, ...], ...] = ()
    # With ``replaces_on == ((ANY,),)``: top-level inputs that are updated in place instead.
    in_place: frozenset[str] = frozenset()
    # What the replacement means, when "replace" alone would mislead.
    note: str = ""


def _paths(*dotted: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(path.split(".")) for path in dotted)


_EVERYTHING = _paths(ANY)
_LABEL_SELECTOR = ("spec.selector",)

K8S_IDENTITY = _paths("metadata.name", "metadata.namespace")

_KUBERNETES_RULES: dict[str, Rule] = {
    "apps/v1:StatefulSet": Rule(
        _paths(
            *_LABEL_SELECTOR,
            "spec.serviceName",
            "spec.volumeClaimTemplates",
            "spec.podManagementPolicy",
            "spec.revisionHistoryLimit",
        )
    ),
    "apps/v1:Deployment": Rule(_paths(*_LABEL_SELECTOR)),
    "apps/v1:DaemonSet": Rule(_paths(*_LABEL_SELECTOR)),
    "core/v1:PersistentVolumeClaim": Rule(
        _paths("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName")
    ),
    "core/v1:Service": Rule(_paths("spec.clusterIP")),
    "core/v1:Secret": Rule(_paths("type", "data", "stringData")),
    "core/v1:ConfigMap": Rule(_paths("data", "binaryData")),
    "rbac.authorization.k8s.io/v1:RoleBinding": Rule(_paths("roleRef")),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": Rule(_paths("roleRef")),
    "storage.k8s.io/v1:StorageClass": Rule(_paths("parameters", "provisioner")),
}

RULES: dict[str, Rule] = {
    **{f"kubernetes:{kind}": rule for kind, rule in _KUBERNETES_RULES.items()},
    "docker:index/container:Container": Rule(
        _EVERYTHING,
        in_place=frozenset(
            {
                "restart",
                "maxRetryCount",
                "cpuShares",
                "memory",
                "memoryReservation",
                "memorySwap",
                "cpuSet",
                "deviceReadBps",
                "deviceReadIops",
                "deviceWriteBps",
                "deviceWriteIops",
                "mustRun",
                "start",
                "wait",
                "waitTimeout",
                "destroyGraceSeconds",
                "removeVolumes",
                "rm",
                "attach",
                "logs",
                "containerReadRefreshTimeoutMilliseconds",
                # Not ForceNew, but Docker cannot change it on a running container: the new
                # healthcheck only applies once something else recreates the container.
                "healthcheck",
            }
        ),
    ),
    "docker:index/volume:Volume": Rule(_EVERYTHING, in_place=frozenset({"cluster"})),
    "docker:index/network:Network": Rule(_EVERYTHING),
    "docker:index/remoteImage:RemoteImage": Rule(
        _EVERYTHING, in_place=frozenset({"keepLocally", "forceRemove", "build"})
    ),
    "aws:ecs/taskDefinition:TaskDefinition": Rule(
        _EVERYTHING,
        in_place=frozenset({"tags", "tagsAll", "skipDestroy", "trackLatest"}),
        note="new task definition revision; services pick it up on their next deployment",
    ),
    "aws:s3/bucket:Bucket": Rule(_paths("bucket", "bucketPrefix", "objectLockEnabled")),
    "aws:s3/bucketV2:BucketV2": Rule(_paths("bucket", "bucketPrefix", "objectLockEnabled")),
    "aws:secretsmanager/secret:Secret": Rule(_paths("name", "namePrefix")),
    "aws:secretsmanager/secretVersion:SecretVersion": Rule(
        _paths("secretId", "secretString", "secretBinary")
    ),
    "aws:iam/role:Role": Rule(_paths("name", "namePrefix", "path")),
    "aws:iam/policy:Policy": Rule(_paths("name", "namePrefix", "path")),
    "aws:iam/rolePolicy:RolePolicy": Rule(_paths("name", "namePrefix", "role")),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Rule(_paths("role", "policyArn")),
    "random:index/randomPassword:RandomPassword": Rule(_EVERYTHING, note="generates a new value"),
    "random:index/randomString:RandomString": Rule(_EVERYTHING, note="generates a new value"),
    "grafana:oss/dataSource:DataSource": Rule(_paths("uid", "orgId")),
    "grafana:index/dataSource:DataSource": Rule(_paths("uid", "orgId")),
    "grafana:oss/dashboard:Dashboard": Rule(_paths("folder", "orgId")),
    "grafana:index/dashboard:Dashboard": Rule(_paths("folder", "orgId")),
}

# Resources whose deletion or replacement loses profiling data (or Grafana's state).
DATA_VOLUME_TYPES = frozenset({
    "docker:index/volume:Volume",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolume",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
})  # fmt: skip
# Inputs of other resources that decide which data volume is mounted or claimed.
DATA_VOLUME_INPUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "kubernetes:apps/v1:StatefulSet": _paths("spec.volumeClaimTemplates"),
    "docker:index/container:Container": _paths("volumes", "mounts"),
}


def rule_for(resource_type: str) -> Rule:
    """The replacement rule of ``resource_type`` (Kubernetes objects always replace on identity)."""
    rule = RULES.get(resource_type, Rule())
    if resource_type.startswith("kubernetes:") and resource_type.count(":") == 2:
        return Rule(K8S_IDENTITY + rule.replaces_on, rule.in_place, rule.note)
    return rule


def _matches(path: Sequence[object], pattern: tuple[str, ...]) -> bool:
    """``path`` lies under ``pattern``, or is an ancestor of it (the whole subtree changed)."""
    return all(wanted in (ANY, str(part)) for part, wanted in zip(path, pattern, strict=False))


def replacing_paths(resource_type: str, changed: Sequence[Sequence[object]]) -> list[Sequence[object]]:
    """The changed input paths that make the provider replace a resource of this type."""
    rule = rule_for(resource_type)
    found = []
    for path in changed:
        if not path:
            continue
        if rule.replaces_on == _EVERYTHING:
            if str(path[0]) not in rule.in_place:
                found.append(path)
            continue
        if any(_matches(path, pattern) for pattern in rule.replaces_on):
            found.append(path)
    return found


def data_volume_paths(resource_type: str, changed: Sequence[Sequence[object]]) -> list[Sequence[object]]:
    """The changed input paths that touch a data volume (all of them, for a volume itself)."""
    if resource_type in DATA_VOLUME_TYPES:
        return [path for path in changed if path]
    patterns = DATA_VOLUME_INPUTS.get(resource_type, ())
    return [path for path in changed if path and any(_matches(path, p) for p in patterns)]


def holds_data(resource_type: str, inputs: dict[str, object] | None = None) -> bool:
    """Whether adding/removing this resource adds/removes a data volume."""
    if resource_type in DATA_VOLUME_TYPES:
        return True
    spec = (inputs or {}).get("spec")
    return (
        resource_type == "kubernetes:apps/v1:StatefulSet"
        and isinstance(spec, dict)
        and bool(spec.get("volumeClaimTemplates"))
    )
