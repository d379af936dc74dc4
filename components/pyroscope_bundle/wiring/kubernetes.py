"""Profiler wiring for Kubernetes workloads.

Three ways to apply the same wiring:

(a) :func:`wire_workload_spec` - a pure function for the ``spec`` of a Deployment /
    StatefulSet / DaemonSet your own program builds (Kubernetes camelCase dicts, as in YAML);
(b) :func:`kubernetes_transform` - a stack transform that wires every such workload carrying
    the opt-in label ``pyroscope-bundle/profile: "true"``;
(c) :class:`KubernetesServiceWiring` - a server-side-apply ``DeploymentPatch`` for an existing
    Deployment this stack does not own (what ``pyroscope:services`` uses).

The password always comes from a Secret via ``secretKeyRef``; the pod template carries a hash of
it so that rotating the token rolls the pods (and nothing else does).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import pulumi
from pulumi.output import Unknown
from pyroscope_bundle_runtime import contract

from pyroscope_bundle import constants, names
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring import agents, engine_props
from pyroscope_bundle.wiring.env import EnvConflictError, EnvVar, profiler_env
from pyroscope_bundle.wiring.settings import ProfilerSettings, build_settings, credentials_hash

__all__ = [
    "KubernetesCredentials",
    "KubernetesServiceWiring",
    "SecretKeyRef",
    "container_env",
    "default_containers",
    "deployment_patch_spec",
    "egress_policy_spec",
    "env_entry",
    "kubernetes_transform",
    "managed_labels",
    "merge_env",
    "pod_metadata",
    "register_service_wiring",
    "wire_containers",
    "wire_pod_template",
    "wire_workload_props",
    "wire_workload_spec",
]

WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
)


@dataclass(frozen=True)
class SecretKeyRef:
    """Where the password is: a Secret in the workload's namespace, and the key in it."""

    name: str = contract.KUBERNETES_SECRET_NAME
    key: str = contract.CREDENTIALS_SECRET_KEY


def env_entry(variable: EnvVar, secret: SecretKeyRef | None) -> dict[str, Any]:
    if variable.from_secret:
        if secret is None:
            raise ValueError(f"{variable.name} needs a Secret to reference")
        return {
            "name": variable.name,
            "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
        }
    return {"name": variable.name, "value": variable.value}


def container_env(settings: ProfilerSettings, secret: SecretKeyRef | None) -> list[dict[str, Any]]:
    """The ``env`` entries for one container, sorted by name; the password only as secretKeyRef."""
    variables = profiler_env(settings, password_from_secret=secret is not None)
    return [env_entry(variable, secret) for variable in variables]


def pod_metadata(settings: ProfilerSettings, credentials_hash: pulumi.Input[str] | None) -> dict[str, Any]:
    """Labels that make profiled pods discoverable; annotations that roll them on token rotation."""
    annotations: dict[str, Any] = {names.APPLICATION_ANNOTATION: settings.application_name}
    if settings.agent is not None:
        annotations[names.AGENT_SOURCE_ANNOTATION] = settings.agent.source
    if credentials_hash is not None:
        annotations[names.CREDENTIALS_HASH_ANNOTATION] = credentials_hash
    return {
        "labels": {
            names.PROFILED_LABEL: "true",
            names.RUNTIME_LABEL: settings.runtime,
            names.SERVICE_LABEL: settings.service,
        },
        "annotations": annotations,
    }


def merge_env(
    existing: Sequence[Mapping[str, Any]],
    ours: Sequence[Mapping[str, Any]],
    owned: Sequence[str],
    *,
    overwrite: bool,
    where: str,
) -> list[dict[str, Any]]:
    """The container's own entries (in their order) followed by ours (sorted).

    An entry of the container with a name we set (or the legacy PYROSCOPE_AUTH_TOKEN) is a
    conflict unless it is identical; ``overwrite`` replaces (or drops) it instead of failing.
    """
    ours_by_name = {entry["name"]: dict(entry) for entry in ours}
    owned_names = set(owned) | set(ours_by_name)
    kept: list[dict[str, Any]] = []
    for entry in existing:
        name = entry.get("name")
        if name not in owned_names:
            kept.append(dict(entry))
            continue
        if ours_by_name.get(name) == dict(entry):
            continue
        if not overwrite:
            raise EnvConflictError(
                f"{where}: env {name} is already set by the workload; remove it (the wiring sets it) "
                "or pass overwrite=True"
            )
    return kept + [ours_by_name[name] for name in sorted(ours_by_name)]


def wire_containers(
    containers: Sequence[Mapping[str, Any]],
    env: Sequence[Mapping[str, Any]],
    runtime: str,
    *,
    only: Sequence[str] = (),
    overwrite: bool = False,
    where: str = "workload",
) -> list[dict[str, Any]]:
    """Copies of ``containers`` with ``env`` merged into each (or into those named in ``only``)."""
    present = [container.get("name") for container in containers]
    unknown = sorted(set(only) - {name for name in present if isinstance(name, str)})
    if unknown:
        raise ValueError(
            f"{where}: no container named {', '.join(unknown)}; containers: {', '.join(map(str, present))}"
        )
    owned = contract.owned_names(runtime)
    wired: list[dict[str, Any]] = []
    for container in containers:
        copied = copy.deepcopy(dict(container))
        if not only or copied.get("name") in only:
            copied["env"] = merge_env(
                copied.get("env") or [],
                env,
                owned,
                overwrite=overwrite,
                where=f"{where} container {copied.get('name')}",
            )
        wired.append(copied)
    return wired


def wire_pod_template(
    template: Mapping[str, Any],
    settings: ProfilerSettings,
    secret: SecretKeyRef | None,
    credentials_hash: pulumi.Input[str] | None = None,
    *,
    only: Sequence[str] = (),
    overwrite: bool = False,
    where: str = "workload",
) -> dict[str, Any]:
    """A copy of a pod template with the profiler env, labels and annotations added."""
    wired = copy.deepcopy(dict(template))
    metadata = dict(wired.get("metadata") or {})
    extra = pod_metadata(settings, credentials_hash)
    metadata["labels"] = {**(metadata.get("labels") or {}), **extra["labels"]}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **extra["annotations"]}
    wired["metadata"] = metadata
    spec = dict(wired.get("spec") or {})
    spec["containers"] = wire_containers(
        spec.get("containers") or [],
        container_env(settings, secret),
        settings.runtime,
        only=only,
        overwrite=overwrite,
        where=where,
    )
    if settings.agent is not None:
        spec = _with_agent(spec, settings.agent, only=only, where=where)
    wired["spec"] = spec
    return wired


def _merge_named(
    existing: Sequence[Mapping[str, Any]], ours: Mapping[str, Any], key: str, where: str
) -> list[dict[str, Any]]:
    """``existing`` plus ``ours`` (matched on ``key``): an identical entry is kept once, a different
    one with the same key is a conflict (never silently replaced)."""
    kept = [dict(entry) for entry in existing]
    for entry in kept:
        if entry.get(key) == ours[key]:
            if entry != dict(ours):
                raise EnvConflictError(
                    f"{where}: already has {key} {ours[key]!r}, which the agent injection uses; "
                    "rename it or use agent.delivery image"
                )
            return kept
    return [*kept, dict(ours)]


def _with_agent(
    spec: Mapping[str, Any], injection: agents.AgentInjection, *, only: Sequence[str], where: str
) -> dict[str, Any]:
    """A pod spec with the agent's init container and ``emptyDir``, mounted read-only in the wired
    containers (those in ``only``, or every container)."""
    wired = dict(spec)
    wired["initContainers"] = _merge_named(
        spec.get("initContainers") or [], agents.kubernetes_init_container(injection), "name", where
    )
    wired["volumes"] = _merge_named(spec.get("volumes") or [], agents.kubernetes_volume(), "name", where)
    containers = []
    for container in wired.get("containers") or []:
        copied = dict(container)
        if not only or copied.get("name") in only:
            copied["volumeMounts"] = _merge_named(
                copied.get("volumeMounts") or [],
                agents.kubernetes_mount(),
                "mountPath",
                f"{where} container {copied.get('name')}",
            )
        containers.append(copied)
    wired["containers"] = containers
    return wired


def default_containers(workload: str) -> tuple[str, ...]:
    """Which containers get wired when none are named: the one named like the workload.

    The one default for the config (``kubernetes.containers`` empty: the container named like
    the Deployment), :func:`wire_workload_spec` (like the service) and the transform (like the
    workload), so a sidecar (envoy, a log shipper) never gets PYROSCOPE_* variables by accident.
    """
    return (workload,)


# A workload spec of the caller's type: a plain dict, or the provider SDK's TypedDict
# (``pulumi_kubernetes.apps.v1.DeploymentSpecArgsDict``, ...), which the result keeps so that
# ``Deployment(spec=wire_workload_spec(spec, ...))`` type-checks against the provider.
WorkloadSpec = TypeVar("WorkloadSpec", bound=Mapping[str, Any])


def wire_workload_spec(
    spec: WorkloadSpec,
    settings: ProfilerSettings,
    secret: SecretKeyRef | None = SecretKeyRef(),
    credentials_hash: pulumi.Input[str] | None = None,
    *,
    containers: Sequence[str] | None = None,
    overwrite: bool = False,
) -> WorkloadSpec:
    """(a) The ``spec`` of a Deployment/StatefulSet/DaemonSet you build, wired for profiling.

    ``spec`` uses Kubernetes (camelCase) keys, as in a YAML manifest, or the provider's
    snake_case TypedDict keys (the SDK translates those and passes camelCase through); pass the
    result as ``spec=`` of ``kubernetes.apps.v1.Deployment``: it has ``spec``'s type.
    ``secret``: the Secret holding the password in the workload's namespace (see
    :class:`KubernetesCredentials`), None when the target takes no password.
    ``credentials_hash``: pass :func:`credentials_hash` of the password to roll the pods when it
    is rotated. ``containers``: the containers to wire; by default the one named
    like ``settings.service`` (:func:`default_containers`), an error when there is none.
    """
    only = default_containers(settings.service) if containers is None else tuple(containers)
    if not only:
        raise ValueError(f"service {settings.service}: containers is empty; name the containers to wire")
    wired = copy.deepcopy(dict(spec))
    wired["template"] = wire_pod_template(
        wired.get("template") or {},
        settings,
        secret,
        credentials_hash,
        only=only,
        overwrite=overwrite,
        where=f"service {settings.service}",
    )
    # The same keys as ``spec`` plus the wiring's (camelCase, which the SDK passes through).
    return cast(WorkloadSpec, wired)


def deployment_patch_spec(
    settings: ProfilerSettings,
    secret: SecretKeyRef | None,
    credentials_hash: pulumi.Input[str] | None,
    containers: Sequence[str],
) -> dict[str, Any]:
    """The partial Deployment ``spec`` server-side apply merges into an existing Deployment.

    Containers are matched by name, so the patch names them; it owns only the fields it sets.
    """
    env = container_env(settings, secret)
    pod: dict[str, Any] = {"containers": [{"name": name, "env": env} for name in containers]}
    if settings.agent is not None:
        # Server-side apply merges initContainers and volumes by name, volumeMounts by mountPath:
        # the patch owns exactly these entries.
        pod["initContainers"] = [agents.kubernetes_init_container(settings.agent)]
        pod["volumes"] = [agents.kubernetes_volume()]
        for container in pod["containers"]:
            container["volumeMounts"] = [agents.kubernetes_mount()]
    return {"template": {"metadata": pod_metadata(settings, credentials_hash), "spec": pod}}


def egress_policy_spec(
    service: str, target_url: str, server_namespace: str | None, agent_url: str | None = None
) -> dict[str, Any]:
    """NetworkPolicy ``spec``: the wired pods may reach DNS and the profiling server.

    For the stack's own server (``server_namespace``): any port in that namespace (Service and
    pod ports may differ). For an external target: the URL's port on any address. With a
    downloaded agent (``agent_url``) the init container must reach that URL's port too.
    """
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    if server_namespace is not None:
        server_rule: dict[str, Any] = {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": server_namespace}}}]
        }
    else:
        parts = urlsplit(target_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        server_rule = {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }
    return {
        "podSelector": {"matchLabels": {names.PROFILED_LABEL: "true", names.SERVICE_LABEL: service}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": dns_ports,
            },
            server_rule,
            *([_any_address_rule(agent_url)] if agent_url else []),
        ],
    }


def _any_address_rule(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": port}]}


def managed_labels(component: str) -> dict[str, str]:
    return {
        constants.LABEL_NAME: "pyroscope-profiler",
        constants.LABEL_COMPONENT: component,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
    }


class KubernetesCredentials(BundleComponent):
    """The Secret holding the profiler password in one namespace (pods reference it by key)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        password: pulumi.Output[str],
        secret: SecretKeyRef = SecretKeyRef(),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        import pulumi_kubernetes.core.v1 as core

        self.secret_ref = secret
        self.secret = core.Secret(
            name,
            metadata={"name": secret.name, "namespace": namespace, "labels": managed_labels("credentials")},
            type="Opaque",
            string_data={secret.key: pulumi.Output.secret(password)},  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"secretName": secret.name})


def register_service_wiring(
    name: str,
    settings: ProfilerSettings,
    *,
    namespace: str,
    deployment: str,
    containers: Sequence[str],
    secret: SecretKeyRef | None,
    credentials_hash: pulumi.Input[str] | None,
    network_policy: bool = False,
    server_namespace: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> tuple[pulumi.CustomResource, pulumi.CustomResource | None]:
    """Register the patch (and the optional egress NetworkPolicy) wiring one existing Deployment.

    The stack program calls this for every service under one component per platform (a
    component per service would cost a third more registrations: bench/); the
    :class:`KubernetesServiceWiring` component wraps it for callers who want one per service.
    """
    import pulumi_kubernetes.apps.v1 as apps

    patch = apps.DeploymentPatch(
        name,
        metadata={
            "name": deployment,
            "namespace": namespace,
            "labels": {names.PROFILED_LABEL: "true"},
        },
        spec=deployment_patch_spec(settings, secret, credentials_hash, containers),
        opts=opts,
    )
    policy = None
    if network_policy:
        import pulumi_kubernetes.networking.v1 as networking

        policy = networking.NetworkPolicy(
            f"{name}-egress",
            metadata={
                "name": names.network_policy_name(settings.service),
                "namespace": namespace,
                "labels": managed_labels("egress"),
            },
            spec=pulumi.Output.from_input(settings.server_address).apply(
                lambda url: egress_policy_spec(
                    settings.service,
                    url,
                    server_namespace,
                    settings.agent.environment.get(agents.URL_VARIABLE) if settings.agent else None,
                )
            ),
            opts=opts,
        )
    return patch, policy


class KubernetesServiceWiring(BundleComponent):
    """(c) Wire an existing Deployment this stack does not own: a server-side-apply patch."""

    # Its token before tokens followed class names (aliased: deployed stacks keep it).
    FORMER_TYPES = ("pyroscope-bundle:wiring:KubernetesService",)

    def __init__(
        self,
        name: str,
        settings: ProfilerSettings,
        *,
        namespace: str,
        deployment: str,
        containers: Sequence[str],
        secret: SecretKeyRef | None,
        credentials_hash: pulumi.Input[str] | None,
        network_policy: bool = False,
        server_namespace: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        self.patch, self.network_policy = register_service_wiring(
            name,
            settings,
            namespace=namespace,
            deployment=deployment,
            containers=containers,
            secret=secret,
            credentials_hash=credentials_hash,
            network_policy=network_policy,
            server_namespace=server_namespace,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"deployment": deployment, "namespace": namespace})


# --- (b) the stack transform --------------------------------------------------------------------


def _opted_in(metadata: Mapping[str, Any]) -> bool:
    labels = metadata.get("labels") or {}
    return str(labels.get(names.OPT_IN_LABEL, "")).lower() == "true"


def _workload_settings(
    metadata: Mapping[str, Any], endpoint: Endpoint, environment: str
) -> tuple[ProfilerSettings, tuple[str, ...]]:
    annotations = {**(metadata.get("labels") or {}), **(metadata.get("annotations") or {})}
    workload = metadata.get("name") or "workload"
    given = annotations.get(names.RUNTIME_ANNOTATION)
    runtime = contract.runtime_named(given)
    if runtime is None:
        raise ValueError(
            f"{workload}: opted in with {names.OPT_IN_LABEL} but annotation {names.RUNTIME_ANNOTATION} is "
            f"{given!r}; set it to one of {', '.join(contract.RUNTIMES)}"
        )
    containers = tuple(
        part.strip()
        for part in str(annotations.get(names.CONTAINERS_ANNOTATION, "")).split(",")
        if part.strip()
    ) or default_containers(str(workload))
    delivery = str(annotations.get(names.AGENT_ANNOTATION) or "image")
    try:
        injection = agents.injection_for(
            str(runtime), delivery, image=annotations.get(names.AGENT_IMAGE_ANNOTATION) or None
        )
    except ValueError as error:
        raise ValueError(
            f"{workload}: annotation {names.AGENT_ANNOTATION}={delivery!r}: {error} "
            f"(the transform supports image and copy, with {names.AGENT_IMAGE_ANNOTATION})"
        ) from None
    settings = build_settings(
        service=str(annotations.get(names.SERVICE_ANNOTATION) or workload),
        runtime=runtime,
        environment=environment,
        endpoint=endpoint,
        version=annotations.get(names.VERSION_ANNOTATION),
        agent=injection,
    )
    return settings, containers


def wire_workload_props(
    props: Mapping[str, Any],
    endpoint: Endpoint,
    environment: str,
    secret: SecretKeyRef | None,
    credentials_hash: pulumi.Input[str] | None = None,
) -> dict[str, Any] | None:
    """The transformed props of one opted-in workload (plain dicts), or None when not opted in."""
    metadata = props.get("metadata") or {}
    if not _opted_in(metadata):
        return None
    settings, containers = _workload_settings(metadata, endpoint, environment)
    wired = dict(props)
    wired["spec"] = wire_workload_spec(
        props.get("spec") or {}, settings, secret, credentials_hash, containers=containers
    )
    return wired


def kubernetes_transform(
    endpoint: Endpoint,
    environment: str,
    secret: SecretKeyRef | None = SecretKeyRef(),
) -> Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]:
    """(b) A stack transform wiring every opted-in Deployment, StatefulSet and DaemonSet.

    Register it with ``pulumi.runtime.register_resource_transform(kubernetes_transform(...))``
    before the workloads are created, and create the Secret (:class:`KubernetesCredentials`) in
    each of their namespaces. Opt in with the label ``pyroscope-bundle/profile: "true"`` and the
    annotation ``pyroscope-bundle/runtime``. It takes the props as the engine delivers them
    (:mod:`.engine_props`): a secret ``spec`` is wired and stays secret; a workload whose opt-in
    label, annotations or containers are not known yet (a preview) passes through with a warning.
    """
    rollout_hash = credentials_hash(endpoint.basic_auth_password) if secret is not None else None

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ not in WORKLOAD_TYPES or not args.custom:
            return None
        resource = f"{args.type_} {args.name}"
        props = args.props
        engine_props.refuse_outputs(resource, props)
        metadata, _ = engine_props.reveal(props.get("metadata") or {})
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else metadata
        flag = labels.get(names.OPT_IN_LABEL) if isinstance(labels, Mapping) else labels
        if isinstance(flag, Unknown):
            engine_props.warn_unknown(resource, f"label {names.OPT_IN_LABEL}")
            return None
        if not isinstance(metadata, Mapping) or not _opted_in(metadata):
            return None
        unknown = engine_props.unknown_path(metadata, "metadata")
        if unknown is not None:
            # Name, service, runtime and version come from here: no guessing during a preview.
            engine_props.warn_unknown(resource, unknown)
            return None
        spec, spec_secret = engine_props.reveal(props.get("spec"))
        wired = engine_props.wire_unless_unknown(
            resource,
            {"spec": spec},
            lambda: wire_workload_props(
                {"metadata": metadata, "spec": spec}, endpoint, environment, secret, rollout_hash
            ),
        )
        if wired is None:
            return None
        new_props = {**props, "spec": engine_props.hand_back(wired["spec"], spec_secret)}
        return pulumi.ResourceTransformResult(props=new_props, opts=args.opts)

    return transform
