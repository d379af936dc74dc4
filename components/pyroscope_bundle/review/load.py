"""Read render directories (as ``pyroscope-bundle render`` writes them) for the review diff.

Only what the render wrote is read: ``resources.json``, ``outputs.json`` and the ``kubernetes/``,
``ecs/`` and ``files/`` trees. Secrets in them are already the redaction marker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESOURCES_FILE = "resources.json"
OUTPUTS_FILE = "outputs.json"
# Where each redacted value is, with its fingerprint (renders before it have none).
SECRETS_FILE = "secrets.json"
TREES = ("kubernetes", "ecs", "files")


class RenderDirError(Exception):
    """A directory that is not a render; the text names the directory and what is wrong."""


@dataclass(frozen=True)
class Resource:
    """One ``resources.json`` entry, addressed the way reviewers name it: type + name."""

    key: str
    type: str
    name: str
    entry: dict[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        inputs = self.entry.get("inputs")
        return inputs if isinstance(inputs, dict) else {}

    @property
    def options(self) -> dict[str, Any]:
        options = self.entry.get("options")
        return options if isinstance(options, dict) else {}

    @property
    def parent(self) -> str | None:
        parent = self.entry.get("parent")
        return parent if isinstance(parent, str) else None

    def former_identities(self) -> list[tuple[str, str, str | None]]:
        """(type, name, parent name) this resource had before, by its aliases (the render
        records them: an unset field of an alias spec means "as it is now")."""
        identities: list[tuple[str, str, str | None]] = []
        for alias in self.entry.get("aliases") or []:
            if not isinstance(alias, dict):
                continue
            if isinstance(alias.get("urn"), str):
                # urn:pulumi:<stack>::<project>::<parent types $ type>::<name>
                head, _, name = alias["urn"].rpartition("::")
                rtype = head.rpartition("::")[2].rpartition("$")[2]
                identities.append((rtype, name, self.parent))
                continue
            parent = self.parent
            if isinstance(alias.get("parentUrn"), str):
                parent = alias["parentUrn"].rpartition("::")[2]
            elif alias.get("noParent"):
                parent = None
            identities.append(
                (str(alias.get("type") or self.type), str(alias.get("name") or self.name), parent)
            )
        return identities


@dataclass(frozen=True)
class Render:
    """One stack's render."""

    root: Path
    stack: str
    resources: dict[str, Resource]
    outputs: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)
    # Resource key -> {input path: fingerprint}, and file path -> fingerprint, of redacted values.
    secret_fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)
    file_fingerprints: dict[str, str] = field(default_factory=dict)


def is_render(path: Path) -> bool:
    return (path / RESOURCES_FILE).is_file()


def load_render(root: Path) -> Render:
    document = _read_json(root / RESOURCES_FILE)
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise RenderDirError(f"{root / RESOURCES_FILE}: has no `resources` list; is it a render?")
    entries = [entry for entry in document["resources"] if isinstance(entry, dict)]
    counts: dict[tuple[str, str], int] = {}
    for entry in entries:
        ident = (str(entry.get("type")), str(entry.get("name")))
        counts[ident] = counts.get(ident, 0) + 1
    resources: dict[str, Resource] = {}
    for entry in entries:
        rtype, name = str(entry.get("type")), str(entry.get("name"))
        # type+name is unique in practice; children with the same name under different
        # parents are told apart by the parent.
        key = f"{rtype} {name}" if counts[(rtype, name)] == 1 else f"{rtype} {entry.get('parent')}/{name}"
        resources[key] = Resource(key=key, type=rtype, name=name, entry=entry)
    outputs_path = root / OUTPUTS_FILE
    outputs = _read_json(outputs_path) if outputs_path.is_file() else {}
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for tree in TREES
        if (root / tree).is_dir()
        for path in sorted((root / tree).rglob("*"))
        if path.is_file()
    }
    stack = document.get("stack")
    by_identity = {
        (resource.type, resource.name, resource.entry.get("parent")): key
        for key, resource in resources.items()
    }
    secrets_path = root / SECRETS_FILE
    secrets = _read_json(secrets_path) if secrets_path.is_file() else {}
    secret_fingerprints: dict[str, dict[str, str]] = {}
    for item in secrets.get("resources") or [] if isinstance(secrets, dict) else []:
        owner = by_identity.get((item.get("type"), item.get("name"), item.get("parent")))
        if owner is not None and isinstance(item.get("path"), str):
            secret_fingerprints.setdefault(owner, {})[item["path"]] = str(item.get("fingerprint"))
    file_fingerprints = secrets.get("files") if isinstance(secrets, dict) else None
    return Render(
        root=root,
        stack=stack if isinstance(stack, str) else root.name,
        resources=resources,
        outputs=outputs if isinstance(outputs, dict) else {},
        files=files,
        secret_fingerprints=secret_fingerprints,
        file_fingerprints=dict(file_fingerprints) if isinstance(file_fingerprints, dict) else {},
    )


def load_side(root: Path) -> dict[str, Render]:
    """Renders under ``root`` by stack: ``root`` itself, or one subdirectory per stack.

    An EMPTY directory is an empty set of stacks (a base commit that could not render, or a
    repository that had no stacks yet); a directory with content but no render is an error: a
    mistyped path must not read as "everything was added".
    """
    if not root.is_dir():
        raise RenderDirError(f"{root}: no such directory")
    if is_render(root):
        render = load_render(root)
        return {render.stack: render}
    children = sorted(root.iterdir())
    renders = [load_render(child) for child in children if child.is_dir() and is_render(child)]
    if children and not renders:
        raise RenderDirError(
            f"{root}: is not a render (no {RESOURCES_FILE} in it or in a subdirectory per stack); "
            "pass the directory `pyroscope-bundle render --out` wrote"
        )
    return {render.stack: render for render in renders}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RenderDirError(f"{path}: missing; render with `pyroscope-bundle render`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RenderDirError(f"{path}: is not valid JSON: {error}") from None
