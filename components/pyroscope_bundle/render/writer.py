"""Write a program run as review files: resources.json, kubernetes/, ecs/, files/, outputs.json.

Everything is written with sorted keys and stable names, so rendering the same input twice gives
identical bytes and two renders diff cleanly.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pulumi.runtime import rpc

from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.mocks import RecordedResource
from pyroscope_bundle.render.redact import plain
from pyroscope_bundle.render.runner import ProgramRun

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DOCKER_CONTAINER = "docker:index/container:Container"
# Inputs of aws.ecs.TaskDefinition that are fields of the RegisterTaskDefinition request.
_ECS_REQUEST_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
    "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode", "proxyConfiguration",
    "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
)  # fmt: skip
_K8S_HEAD = ("apiVersion", "kind", "metadata")
_REDACTED_B64 = base64.b64encode(REDACTED.encode()).decode()


def write_render(run: ProgramRun, out_dir: Path, stack: str) -> dict[str, int]:
    """Write ``run`` under ``out_dir`` (replacing what was there); return counts for a summary."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    resources = run.recording.resources
    names = {record.urn: record.name for record in resources}
    _write_json(out_dir / "resources.json", {
        "stack": stack,
        "resources": [_resource_entry(record, names) for record in resources],
    })  # fmt: skip
    _write_json(out_dir / "outputs.json", {
        name: "[secret]" if name in run.secret_outputs else plain(value)
        for name, value in sorted(run.outputs.items())
    })  # fmt: skip
    counts = {"resources": len(resources), "kubernetes": 0, "ecs": 0, "files": 0}
    for record in resources:
        manifest = kubernetes_manifest(record)
        if manifest is not None:
            patch = record.type.endswith("Patch")
            _write_yaml(out_dir / "kubernetes" / kubernetes_file_name(manifest, patch=patch), manifest)
            counts["kubernetes"] += 1
            counts["files"] += _write_configmap_files(out_dir / "files", manifest)
        if record.type == TASK_DEFINITION:
            request = ecs_register_request(record)
            _write_json(out_dir / "ecs" / f"{request['family']}.json", request)
            counts["ecs"] += 1
        if record.type == DOCKER_CONTAINER:
            counts["files"] += _write_uploads(out_dir / "files", record)
    return counts


def _resource_entry(record: RecordedResource, names: dict[str, str]) -> dict[str, Any]:
    options = dict(record.options)
    options["dependsOn"] = sorted(names.get(urn, urn) for urn in record.dependency_urns)
    return {
        "type": record.type,
        "name": record.name,
        "parent": names.get(record.parent_urn) if record.parent_urn else None,
        "custom": record.custom,
        "options": options,
        "inputs": plain(record.inputs),
    }


def kubernetes_manifest(record: RecordedResource) -> dict[str, Any] | None:
    """The object as it would be applied, Secret payloads redacted (still valid base64)."""
    if not record.type.startswith("kubernetes:") or not record.custom:
        return None
    inputs = plain(record.inputs)
    if not isinstance(inputs.get("kind"), str) or not isinstance(inputs.get("apiVersion"), str):
        return None
    if inputs["kind"] == "Secret":
        # The SDK marks the whole payload secret; keep its keys, redact every value.
        for field, marker in (("data", _REDACTED_B64), ("stringData", REDACTED)):
            payload = rpc.unwrap_rpc_secret(record.inputs.get(field))
            if isinstance(payload, dict):
                inputs[field] = dict.fromkeys(sorted(payload), marker)
    head = {key: inputs.pop(key) for key in _K8S_HEAD if key in inputs}
    return {**head, **dict(sorted(inputs.items()))}


def kubernetes_file_name(manifest: dict[str, Any], *, patch: bool = False) -> str:
    """``<namespace>/<kind>-<name>.yaml``; server-side-apply patches of objects the stack does
    not own end in ``.patch.yaml``."""
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace") or "_cluster"
    suffix = ".patch.yaml" if patch else ".yaml"
    return f"{namespace}/{manifest['kind'].lower()}-{metadata.get('name', 'unnamed')}{suffix}"


def ecs_register_request(record: RecordedResource) -> dict[str, Any]:
    """A TaskDefinition's inputs as the ECS ``RegisterTaskDefinition`` request (camelCase)."""
    inputs = plain(record.inputs)
    request: dict[str, Any] = {key: inputs[key] for key in _ECS_REQUEST_FIELDS if key in inputs}
    definitions = inputs.get("containerDefinitions")
    request["containerDefinitions"] = (
        json.loads(definitions) if isinstance(definitions, str) and definitions != REDACTED else definitions
    )
    tags = inputs.get("tags")
    if isinstance(tags, dict) and tags:
        request["tags"] = [{"key": key, "value": value} for key, value in sorted(tags.items())]
    return request


def _write_configmap_files(files_dir: Path, manifest: dict[str, Any]) -> int:
    """ConfigMap keys as files; a Secret's keys too, their content redacted, so the review shows
    every file a mount would put on disk (a datasource provisioning file with a password, an
    htpasswd) even where it cannot show the content."""
    kind = manifest.get("kind")
    if kind not in ("ConfigMap", "Secret"):
        return 0
    metadata = manifest.get("metadata") or {}
    base = (
        files_dir / "kubernetes" / (metadata.get("namespace") or "_cluster") / metadata.get("name", "unnamed")
    )
    entries = manifest.get("data") or {}
    if kind == "Secret":
        entries = dict.fromkeys([*entries, *(manifest.get("stringData") or {})], REDACTED)
    for key, content in sorted(entries.items()):
        _write_text(base / key, content)
    return len(entries)


def _write_uploads(files_dir: Path, record: RecordedResource) -> int:
    """Docker ``uploads``; a secret upload (a password file, an htpasswd) is written redacted."""
    inputs = plain(record.inputs)
    container = inputs.get("name") or record.name
    uploads = inputs.get("uploads")
    written = 0
    for upload in uploads if isinstance(uploads, list) else []:
        if not isinstance(upload, dict) or not isinstance(upload.get("file"), str):
            continue
        path = PurePosixPath(upload["file"])
        content = upload.get("content")
        _write_text(
            files_dir / "docker" / container / path.relative_to(path.anchor),
            content if isinstance(content, str) else REDACTED,
        )
        written += 1
    return written


def _write_text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if content.endswith("\n") else content + "\n", encoding="utf-8")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), encoding="utf-8")
