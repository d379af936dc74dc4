"""Expand ``helm.v4.Chart`` resources in the offline render, as the provider does on ``pulumi up``.

Under mocks a Chart is one component resource; on the engine the Kubernetes provider runs
``helm template`` on it and registers every object as a child (pulumi/pulumi-kubernetes
``provider/pkg/provider/helm/v4/chart.go``: hooks disabled, CRDs included unless ``skipCrds``,
the Chart's namespace applied to namespaced objects without one, each child named
``<chart>:<namespace>/<name>``, ``v1/Secret`` payloads secret, ``helm.sh/resource-policy: keep``
-> ``retainOnDelete``). This module does the same with Helm's own template engine, used as a
library (``helm-python-sdk``, imported lazily: its wheel is ~240 MB and only the render needs
it), on the pinned chart archive, with exactly the values the program registered.

Children inherit the Chart's ``protect`` and go through the Chart's own resource transforms and
the stack transforms, as the engine runs them, so the render shows which chart object ends up
protected or rewired.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

from pyroscope_bundle.render.mocks import RecordedResource, Recording, call_transform, deserialize_exact
from pyroscope_bundle.render.redact import plain

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
HOOK_ANNOTATION = "helm.sh/hook"
RESOURCE_POLICY_ANNOTATION = "helm.sh/resource-policy"
# Kinds the API server keeps outside namespaces (the provider asks discovery; offline, this list).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CustomResourceDefinition",
    "ClusterRole", "ClusterRoleBinding", "PriorityClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "IngressClass", "RuntimeClass", "CSIDriver",
    "VolumeAttachment", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})  # fmt: skip
INSTALL_HINT = "helm pull grafana/{chart} --version {version} --destination $(helm env HELM_REPOSITORY_CACHE)"


class ChartError(Exception):
    """A chart that was found but cannot be used (wrong chart, template error). Text is for the user."""


@dataclass
class Expansion:
    """What became of one Chart resource in the render."""

    chart: str
    version: str
    name: str
    source: Path | None = None
    reason: str = ""
    children: list[RecordedResource] = field(default_factory=list)

    @property
    def expanded(self) -> bool:
        return self.source is not None

    def note(self) -> dict[str, Any]:
        """What resources.json says about the Chart resource."""
        if self.source is None:
            return {"expanded": False, "reason": self.reason}
        return {"expanded": True, "objects": len(self.children)}

    def message(self) -> str:
        """The one line the render prints when the chart could not be expanded."""
        return (
            f"warning: chart {self.chart} {self.version} ({self.name}) NOT expanded: {self.reason}; "
            f"its objects are missing from kubernetes/ (pass --chart PATH, or "
            f"{INSTALL_HINT.format(chart=self.chart, version=self.version)})"
        )


def helm_cache_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where Helm keeps downloaded charts (helm/helm ``pkg/cli/environment.go``: the repository
    cache is ``$HELM_REPOSITORY_CACHE``, else ``<cache home>/repository``; the cache home is
    ``$HELM_CACHE_HOME``, else ``$XDG_CACHE_HOME/helm``, else the platform's cache directory)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    homes: list[Path] = []
    if env.get("HELM_CACHE_HOME"):
        homes.append(Path(env["HELM_CACHE_HOME"]))
    if env.get("XDG_CACHE_HOME"):
        homes.append(Path(env["XDG_CACHE_HOME"]) / "helm")
    homes.append(home / ("Library/Caches" if sys.platform == "darwin" else ".cache") / "helm")
    dirs = [Path(env["HELM_REPOSITORY_CACHE"])] if env.get("HELM_REPOSITORY_CACHE") else []
    dirs += [cache / "repository" for cache in homes]
    return list(dict.fromkeys(dirs))


def find_chart(chart: str, version: str, explicit: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The archive or directory to render: ``explicit`` (``--chart``) or Helm's cache.

    Raises :class:`FileNotFoundError` naming every place looked at when there is none (the
    render then says the chart is not expanded), :class:`ChartError` when ``--chart`` names a
    path that does not exist (a typo is the user's error, not a render without the chart).
    """
    if explicit is not None:
        if not explicit.exists():
            raise ChartError(f"{explicit}: no such file or directory")
        return explicit
    looked = []
    for directory in helm_cache_dirs(env):
        for candidate in (directory / f"{chart}-{version}.tgz", directory / chart):
            if candidate.exists():
                return candidate
        looked.append(str(directory))
    raise FileNotFoundError(f"no {chart}-{version}.tgz in Helm's cache ({', '.join(looked)})")


def render_chart(
    path: Path, chart: str, version: str, values: dict[str, Any], *, name: str, namespace: str
) -> list[dict[str, Any]]:
    """The chart's objects as ``helm template`` makes them for the provider (no hooks, no NOTES),
    namespaced objects in ``namespace``."""
    try:
        import helm_python
    except ImportError:
        raise ChartError(
            "Helm's template engine is not installed (pip install 'pyroscope-bundle[render]')"
        ) from None
    try:
        with helm_python.Chart.load(path) as loaded:
            if (loaded.name, loaded.version) != (chart, version):
                raise ChartError(
                    f"{path} is chart {loaded.name} {loaded.version}; the program deploys {chart} {version}"
                )
            manifests = loaded.render(
                values, name=name, namespace=namespace, revision=1, is_install=True, is_upgrade=False
            )
            crds = [crd["data"] for crd in loaded.crds if _crd_chart_rendered(crd, manifests)]
    except helm_python.HelmError as error:
        raise ChartError(f"{path}: {error}") from None
    texts = [*crds, *(text for key, text in sorted(manifests.items()) if _is_manifest(key))]
    objects = [obj for text in texts for obj in _documents(text)]
    for obj in objects:
        metadata = obj.setdefault("metadata", {})
        if obj.get("kind") not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
            metadata["namespace"] = namespace
    return [obj for obj in objects if HOOK_ANNOTATION not in (obj["metadata"].get("annotations") or {})]


def _is_manifest(template: str) -> bool:
    base = template.rsplit("/", 1)[-1]
    return base.endswith((".yaml", ".yml", ".tpl", ".json")) and not base.startswith("_")


def _crd_chart_rendered(crd: Mapping[str, str], manifests: Mapping[str, str]) -> bool:
    """CRDs of the top chart and of enabled subcharts only (disabled ones render no templates)."""
    owner = crd.get("name", "").split("/crds/", 1)[0]
    return "/charts/" not in crd.get("name", "") or any(key.startswith(owner + "/") for key in manifests)


def _documents(text: str) -> Iterable[dict[str, Any]]:
    for document in yaml.safe_load_all(text):
        if not isinstance(document, dict) or not document:
            continue
        if document.get("kind", "").endswith("List") and isinstance(document.get("items"), list):
            yield from (item for item in document["items"] if isinstance(item, dict))
        else:
            yield document


def type_token(obj: Mapping[str, Any]) -> str:
    """``apps/v1`` + ``StatefulSet`` -> ``kubernetes:apps/v1:StatefulSet`` (core: ``core/v1``)."""
    api_version = str(obj["apiVersion"])
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{obj['kind']}"


Transform = Callable[[pulumi.ResourceTransformArgs], Any]  # as the SDK registered it


def child_records(
    parent: RecordedResource, objects: list[dict[str, Any]], transforms: list[Transform]
) -> list[RecordedResource]:
    """One registration per object, as the provider makes them under the Chart."""
    records = []
    for obj in objects:
        metadata = obj["metadata"]
        name = (
            f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else metadata["name"]
        )
        name = f"{parent.name}:{name}"
        token = type_token(obj)
        props: dict[str, Any] = dict(obj)
        if token == "kubernetes:core/v1:Secret":
            for key in ("data", "stringData"):
                if key in props:
                    props[key] = rpc.wrap_rpc_secret(props[key])
        keep = (metadata.get("annotations") or {}).get(RESOURCE_POLICY_ANNOTATION) == "keep"
        options = {
            **parent.options,
            "protect": bool(parent.options.get("protect")),
            "retainOnDelete": keep,
        }
        props, options = _apply_transforms(
            transforms, props, options, token=token, name=name, parent_urn=parent.urn
        )
        records.append(
            RecordedResource(
                type=token,
                name=name,
                urn=f"{parent.urn}${token}::{name}",
                parent_urn=parent.urn,
                custom=True,
                remote=False,
                options=options,
                dependency_urns=[],
                inputs=props,
            )
        )
    return records


def _apply_transforms(
    transforms: list[Transform],
    props: dict[str, Any],
    options: dict[str, Any],
    *,
    token: str,
    name: str,
    parent_urn: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run each transform through the SDK's callback as the engine does (serialized props in,
    options with the inherited ``protect``), keeping what it changes in props and options."""
    struct = _sync_await(rpc.serialize_properties(props, {}))
    for transform in transforms:
        request = resource_pb2.TransformRequest(
            type=token,
            name=name,
            custom=True,
            parent=parent_urn,
            properties=struct,
            options=resource_pb2.TransformResourceOptions(
                protect=options["protect"], retain_on_delete=options["retainOnDelete"]
            ),
        )
        response = _sync_await(call_transform(transform, request))
        struct = response.properties
        if response.HasField("options"):
            if response.options.HasField("protect"):
                options = {**options, "protect": bool(response.options.protect)}
            options = {**options, "retainOnDelete": bool(response.options.retain_on_delete)}
    return deserialize_exact(struct), options


class ChartExpander:
    """Expands each Chart when it registers (the SDK's transform callbacks live only during the
    run, as on the engine, where the provider expands a Chart at its registration), then puts
    the children after their Chart in the recording once the run is over.

    No chart at hand is not an error (the review still shows everything else) but never silent:
    the Expansion says why, the Chart's entry in resources.json is marked not expanded and the
    render prints one line. A chart that is found but wrong raises :class:`ChartError`.
    """

    def __init__(self, recording: Recording, explicit: Path | None = None) -> None:
        self.recording = recording
        self.explicit = explicit
        self.expansions: dict[str, Expansion] = {}
        self.errors: list[ChartError] = []

    def on_record(self, record: RecordedResource) -> None:
        if record.type != CHART_TYPE:
            return
        try:
            self.expansions[record.urn] = expand(record, self.recording.stack_transforms, self.explicit)
        except ChartError as error:
            self.errors.append(error)

    def finish(self) -> list[Expansion]:
        if self.errors:
            raise self.errors[0]
        resources: list[RecordedResource] = []
        for record in self.recording.resources:
            resources.append(record)
            expansion = self.expansions.get(record.urn)
            if expansion is not None:
                record.notes["chart"] = expansion.note()
                resources.extend(expansion.children)
        self.recording.resources[:] = resources
        return [self.expansions[urn] for urn in self.expansions]


def expand(record: RecordedResource, stack_transforms: list[Transform], explicit: Path | None) -> Expansion:
    """Render one Chart registration and make its children's registrations."""
    inputs = plain(record.inputs)
    expansion = Expansion(
        chart=str(inputs.get("chart")), version=str(inputs.get("version")), name=record.name
    )
    try:
        path = find_chart(expansion.chart, expansion.version, explicit)
    except FileNotFoundError as missing:
        expansion.reason = str(missing)
        return expansion
    objects = render_chart(
        path,
        expansion.chart,
        expansion.version,
        inputs.get("values") or {},
        name=str(inputs.get("name") or record.name),
        namespace=str(inputs.get("namespace") or "default"),
    )
    expansion.children = child_records(record, objects, [*record.transforms, *stack_transforms])
    expansion.source = path
    return expansion


def report(expansions: list[Expansion]) -> None:
    """One line on stderr per chart that could not be expanded."""
    for expansion in expansions:
        if not expansion.expanded:
            print(expansion.message(), file=sys.stderr)
