"""Write a program run as review files: resources.json, kubernetes/, ecs/, files/, outputs.json.

Everything is written with sorted keys and stable names, so rendering the same input twice gives
identical bytes and two renders diff cleanly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pulumi.runtime import rpc

from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.mocks import RecordedResource
from pyroscope_bundle.render.redact import Redactor, plain
from pyroscope_bundle.render.runner import ProgramRun
from pyroscope_bundle.render.secrets import SecretAtoms

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DOCKER_CONTAINER = "docker:index/container:Container"
# Inputs of aws.ecs.TaskDefinition that are fields of the RegisterTaskDefinition request.
_K8S_HEAD = ("apiVersion", "kind", "metadata")
SECRETS_FILE = "secrets.json"


def write_render(
    run: ProgramRun, out_dir: Path, stack: str, atoms: SecretAtoms | None = None
) -> dict[str, int]:
    """Write ``run`` under ``out_dir`` (an empty directory); return counts for a summary.

    ``atoms``: the render's secret values; with them, generated files and Secrets holding a secret
    show everything but the secret values, and ``secrets.json`` lists where each redacted value
    is with its fingerprint (the review diff shows "secret changed" from it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    atoms = atoms if atoms is not None else SecretAtoms()
    atoms.add_generated(run.generated_secrets)
    resources = run.recording.resources
    names = {record.urn: record.name for record in resources}
    fingerprints: dict[str, Any] = {"resources": [], "files": {}}
    entries = []
    counts = {"resources": len(resources), "kubernetes": 0, "ecs": 0, "files": 0}
    for record in resources:
        redactor = Redactor(atoms)
        inputs = redacted_inputs(record, redactor)
        entry = _resource_entry(record, names, inputs)
        entries.append(entry)
        where = {"type": record.type, "name": record.name, "parent": entry["parent"]}
        fingerprints["resources"] += [
            {**where, "path": path, "fingerprint": fp} for path, fp in sorted(redactor.fingerprints.items())
        ]
        manifest = kubernetes_manifest(record, inputs)
        if manifest is not None:
            patch = record.type.endswith("Patch")
            _write_yaml(out_dir / "kubernetes" / kubernetes_file_name(manifest, patch=patch), manifest)
            counts["kubernetes"] += 1
            counts["files"] += _write_configmap_files(out_dir, manifest, redactor, fingerprints["files"])
        if record.type == TASK_DEFINITION:
            request = ecs_register_request(inputs)
            _write_json(out_dir / "ecs" / f"{request['family']}.json", request)
            counts["ecs"] += 1
        if record.type == DOCKER_CONTAINER:
            counts["files"] += _write_uploads(out_dir, record, inputs, redactor, fingerprints["files"])
    _write_json(out_dir / "resources.json", {"stack": stack, "resources": entries})
    _write_json(out_dir / "outputs.json", {
        name: REDACTED if name in run.secret_outputs else Redactor(None).plain(value)
        for name, value in sorted(run.outputs.items())
    })  # fmt: skip
    _write_json(out_dir / SECRETS_FILE, fingerprints)
    return counts


def redacted_inputs(record: RecordedResource, redactor: Redactor) -> dict[str, Any]:
    """A resource's inputs as plain data; a Secret's base64 ``data`` is redacted decoded and
    encoded again, so its non-secret content shows and the object stays valid."""
    raw = record.inputs
    data = raw.get("data") if _is_kubernetes_secret(raw) else None
    if data is None:
        return dict(redactor.plain(raw))
    decoded = {**raw, "data": _map_payload(data, _b64decode)}
    inputs = dict(redactor.plain(decoded))
    if isinstance(inputs.get("data"), dict):
        inputs["data"] = {key: _b64encode(value) for key, value in inputs["data"].items()}
    return inputs


def _is_kubernetes_secret(inputs: dict[str, Any]) -> bool:
    return inputs.get("kind") == "Secret" and inputs.get("apiVersion") == "v1"


def _map_payload(payload: Any, function: Any) -> Any:
    """Apply ``function`` to each value of a (possibly secret-wrapped) mapping, keeping secretness."""
    if rpc.is_rpc_secret(payload):
        return rpc.wrap_rpc_secret(_map_payload(rpc.unwrap_rpc_secret(payload), function))
    if isinstance(payload, dict):
        return {key: _map_payload(value, function) for key, value in payload.items()}
    return function(payload)


def _b64decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return value


def _b64encode(value: Any) -> Any:
    return base64.b64encode(value.encode()).decode() if isinstance(value, str) else value


def _resource_entry(
    record: RecordedResource, names: dict[str, str], inputs: dict[str, Any]
) -> dict[str, Any]:
    options = dict(record.options)
    options["dependsOn"] = sorted(names.get(urn, urn) for urn in record.dependency_urns)
    entry: dict[str, Any] = {
        "type": record.type,
        "name": record.name,
        "parent": names.get(record.parent_urn) if record.parent_urn else None,
        "custom": record.custom,
        "options": options,
        "inputs": inputs,
    }
    if record.aliases:
        entry["aliases"] = record.aliases
    if record.notes:
        entry["render"] = plain(record.notes)
    return entry


def kubernetes_manifest(
    record: RecordedResource, inputs: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The object as it would be applied (``inputs``: already redacted plain inputs)."""
    if not record.type.startswith("kubernetes:") or not record.custom:
        return None
    inputs = dict(inputs if inputs is not None else Redactor(None).plain(record.inputs))
    if not isinstance(inputs.get("kind"), str) or not isinstance(inputs.get("apiVersion"), str):
        return None
    head = {key: inputs.pop(key) for key in _K8S_HEAD if key in inputs}
    return {**head, **dict(sorted(inputs.items()))}


def kubernetes_file_name(manifest: dict[str, Any], *, patch: bool = False) -> str:
    """``<namespace>/<kind>-<name>.yaml``; server-side-apply patches of objects the stack does
    not own end in ``.patch.yaml``."""
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace") or "_cluster"
    suffix = ".patch.yaml" if patch else ".yaml"
    return f"{namespace}/{manifest['kind'].lower()}-{metadata.get('name', 'unnamed')}{suffix}"


def ecs_register_request(resource: RecordedResource | dict[str, Any]) -> dict[str, Any]:
    """A TaskDefinition (its record, or its plain inputs) as the ECS ``RegisterTaskDefinition``
    request (camelCase)."""
    from pyroscope_bundle.wiring.ecs_task import register_request

    inputs = resource if isinstance(resource, dict) else Redactor(None).plain(resource.inputs)
    # Pulumi's input names differ from the API's in places (hostPath, sizeInGib, proxy properties).
    request = register_request(inputs)
    definitions = inputs.get("containerDefinitions")
    request["containerDefinitions"] = (
        json.loads(definitions) if isinstance(definitions, str) and definitions != REDACTED else definitions
    )
    return request


def _write_configmap_files(
    out_dir: Path, manifest: dict[str, Any], redactor: Redactor, fingerprints: dict[str, str]
) -> int:
    """ConfigMap and Secret keys as the files a mount puts on disk; a Secret's content shows
    everything but its secret values (a password file alone is ``[secret]``)."""
    kind = manifest.get("kind")
    if kind not in ("ConfigMap", "Secret"):
        return 0
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace") or "_cluster"
    base = Path("files", "kubernetes", namespace, metadata.get("name", "unnamed"))
    entries = dict(manifest.get("data") or {})
    if kind == "Secret":
        entries = {key: _b64decode(value) for key, value in entries.items()}
        entries.update(manifest.get("stringData") or {})
        for field in ("data", "stringData"):
            for key, fingerprint in redactor.fingerprints.items():
                if key.startswith(f"{field}."):
                    fingerprints[(base / key[len(field) + 1 :]).as_posix()] = fingerprint
    for key, content in sorted(entries.items()):
        _write_text(out_dir / base / key, content if isinstance(content, str) else REDACTED)
    return len(entries)


def _write_uploads(
    out_dir: Path,
    record: RecordedResource,
    inputs: dict[str, Any],
    redactor: Redactor,
    fingerprints: dict[str, str],
) -> int:
    """Docker ``uploads`` as files; a secret upload shows everything but its secret values."""
    container = inputs.get("name") or record.name
    uploads = inputs.get("uploads")
    written = 0
    for index, upload in enumerate(uploads if isinstance(uploads, list) else []):
        if not isinstance(upload, dict) or not isinstance(upload.get("file"), str):
            continue
        path = PurePosixPath(upload["file"])
        relative = Path("files", "docker", container, path.relative_to(path.anchor))
        content = upload.get("content")
        _write_text(out_dir / relative, content if isinstance(content, str) else REDACTED)
        fingerprint = redactor.fingerprints.get(f"uploads[{index}].content")
        if fingerprint is not None:
            fingerprints[relative.as_posix()] = fingerprint
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
