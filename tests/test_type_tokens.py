"""Every component registers as ``pyroscope-bundle:<package>:<ClassName>``; renamed tokens are
aliased, the render records the aliases and the review pairs the renamed component with its
former self (no delete and create for a stack deployed under the old token)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pyroscope_bundle
import pytest
from pyroscope_bundle.component import BundleComponent, type_token
from pyroscope_bundle.grafana.api import ApiDatasource
from pyroscope_bundle.render.command import render
from pyroscope_bundle.review.diff import diff_dirs

from tests.harness import PROJECT_DIR

# The tokens the bundle registered before they followed the class names.
FORMER = {
    "pyroscope-bundle:gateway:GatewayCredentials": "pyroscope-bundle:gateway:Credentials",
    "pyroscope-bundle:wiring:KubernetesServiceWiring": "pyroscope-bundle:wiring:KubernetesService",
    "pyroscope-bundle:wiring:ProfiledTaskDefinition": "pyroscope-bundle:wiring:EcsService",
}


def component_classes() -> list[type[Any]]:
    """Every ComponentResource subclass defined in the package (each module imported)."""
    for module in pkgutil.walk_packages(pyroscope_bundle.__path__, "pyroscope_bundle."):
        importlib.import_module(module.name)
    found: list[type[Any]] = []
    pending: list[type[pulumi.ComponentResource]] = [pulumi.ComponentResource]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("pyroscope_bundle.") and subclass is not BundleComponent:
                found.append(subclass)
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_every_component_token_is_package_and_class_name() -> None:
    classes = component_classes()
    assert len(classes) >= 15
    for cls in classes:
        assert issubclass(cls, BundleComponent), (
            f"{cls.__qualname__} does not register through BundleComponent"
        )
        package = cls.__module__.split(".")[1]
        assert f"pyroscope-bundle:{package}:{cls.__name__}" == cls.TYPE
        assert type_token(cls) == cls.TYPE


def test_the_token_is_built_from_the_class_not_written() -> None:
    with pytest.raises(ValueError, match="not defined in a package of pyroscope_bundle"):
        type_token(int)

    class Outside(ApiDatasource):
        pass

    # A subclass in another program keeps the token of the bundle's class it extends.
    assert Outside.TYPE == ApiDatasource.TYPE == "pyroscope-bundle:grafana:ApiDatasource"


def test_renamed_tokens_keep_their_former_token_as_an_alias() -> None:
    by_token = {cls.TYPE: cls for cls in component_classes()}
    for token, former in FORMER.items():
        assert former in by_token[token].FORMER_TYPES


def _render(out: Path, stack: str) -> dict[str, Any]:
    render(PROJECT_DIR, stack, out)
    return json.loads((out / "resources.json").read_text())


def test_every_registered_component_is_one_of_the_classes(tmp_path: Path) -> None:
    tokens = {cls.TYPE for cls in component_classes()}
    for stack in ("local", "staging", "production"):
        document = _render(tmp_path / stack, stack)
        registered = {r["type"] for r in document["resources"] if r["type"].startswith("pyroscope-bundle:")}
        assert registered, stack
        assert registered <= tokens, registered - tokens


def _as_former_release(render_dir: Path) -> None:
    """Rewrite a render as the previous release wrote it: the former tokens, no aliases."""
    path = render_dir / "resources.json"
    document = json.loads(path.read_text())
    for resource in document["resources"]:
        resource.pop("aliases", None)
        token = resource["type"]
        if token == "pyroscope-bundle:wiring:WiredServices":
            platform = "Kubernetes" if "kubernetes" in resource["name"] else "Ecs"
            resource["type"] = f"pyroscope-bundle:wiring:{platform}Services"
        resource["type"] = FORMER.get(resource["type"], resource["type"])
    path.write_text(json.dumps(document))


def test_the_review_pairs_a_renamed_component_with_its_former_token(tmp_path: Path) -> None:
    head = tmp_path / "head" / "staging"
    document = _render(head, "staging")
    [credentials] = [
        r for r in document["resources"] if r["type"] == "pyroscope-bundle:gateway:GatewayCredentials"
    ]
    # The render records the alias the component registers with.
    assert {"type": "pyroscope-bundle:gateway:Credentials"} in credentials["aliases"]
    base = tmp_path / "base" / "staging"
    shutil.copytree(head, base)
    _as_former_release(base)

    report = diff_dirs(base.parent, head.parent)
    [stack] = report.stacks
    assert stack.status == "unchanged", [(d.status, d.key) for d in stack.resources]


def test_without_aliases_the_rename_is_a_delete_and_create(tmp_path: Path) -> None:
    head = tmp_path / "head" / "staging"
    _render(head, "staging")
    base = tmp_path / "base" / "staging"
    shutil.copytree(head, base)
    _as_former_release(base)
    document = json.loads((head / "resources.json").read_text())
    for resource in document["resources"]:
        resource.pop("aliases", None)
    (head / "resources.json").write_text(json.dumps(document))

    [stack] = diff_dirs(base.parent, head.parent).stacks
    assert {d.type for d in stack.of_status("added")} == {
        "pyroscope-bundle:gateway:GatewayCredentials",
        "pyroscope-bundle:wiring:WiredServices",
    }
    assert {d.type for d in stack.of_status("removed")} == {
        "pyroscope-bundle:gateway:Credentials",
        "pyroscope-bundle:wiring:KubernetesServices",
        "pyroscope-bundle:wiring:EcsServices",
    }
