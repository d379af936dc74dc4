"""The rules across sections are the model's: ``load_config``, ``BundleConfig.model_validate`` and
``BundleConfig(...)`` refuse the same configurations with the same problems.

One case per group of rules that lives in ``config/checks.py`` (versions, sizes, Grafana, the
target, Tempo, ECS reach and sources) and ``config/services.py`` (tags, agents, ECS files):
the loader only reads and validates, so a config built in Python cannot skip any of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pyroscope_bundle.config import BundleConfig, ConfigError, Problem, load_config
from pyroscope_bundle.config.loader import problems_of

K8S = {"backend": "kubernetes"}
EXTERNAL = {"kind": "external", "url": "https://pyroscope.example.com"}


def k8s_svc(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "checkout",
        "platform": "kubernetes",
        "runtime": "java",
        "kubernetes": {"namespace": "shop"},
        **overrides,
    }


def ecs_svc(name: str = "payments", **ecs: Any) -> dict[str, Any]:
    return {"name": name, "platform": "ecs", "runtime": "python", "ecs": ecs}


CONTAINERS = [{"name": "app", "image": "example/app:1", "essential": True}]
FILES: dict[str, Any] = {
    "app.json": CONTAINERS,
    "leaky.json": [{**CONTAINERS[0], "environment": [{"name": "API_TOKEN", "value": "s3cr3t-value"}]}],
    "task-a.json": {"family": "shared", "containerDefinitions": CONTAINERS},
    "task-b.json": {"family": "shared", "containerDefinitions": CONTAINERS},
}

# (id, raw config, key path of the one problem, fragment of its message)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("server-version", {"server": {"version": "0.37.0"}}, "pyroscope:server.version", "is not supported"),
    (
        "storage-floor",
        {"server": {"storage": {"size": "512Mi"}}},
        "pyroscope:server.storage.size",
        "1Gi floor",
    ),
    ("grafana-version", {"grafana": {"version": "8.5.0"}}, "pyroscope:grafana.version", "9.4 to 13.x"),
    (
        "grafana-mode-backend",
        {"server": K8S, "grafana": {"mode": "docker"}},
        "pyroscope:grafana.mode",
        "needs pyroscope:server.backend: docker",
    ),
    (
        "target-self-url",
        {"target": {"url": "https://pyroscope.example.com"}},
        "pyroscope:target.url",
        "must not be set for kind self",
    ),
    (
        "grafana-cloud-user",
        {
            "target": {"kind": "grafana-cloud", "url": "https://profiles.grafana.net", "basicAuthUser": "me"},
            "authToken": "t",
        },
        "pyroscope:target.basicAuthUser",
        "numeric user id",
    ),
    (
        "tempo-existing",
        {"server": K8S, "grafana": {"tempo": {"existing": True}}},
        "pyroscope:grafana.tempo.existing",
        "needs grafana.mode api",
    ),
    (
        "ecs-reach-docker",
        {"services": [ecs_svc(containerDefinitions="configs/ecs/app.json")]},
        "pyroscope:services[0].platform",
        "cannot reach a Docker server",
    ),
    (
        "ecs-both-sources",
        {
            "target": EXTERNAL,
            "services": [
                ecs_svc(containerDefinitions="configs/ecs/app.json", taskDefinition="configs/ecs/task-a.json")
            ],
        },
        "pyroscope:services[0].ecs.taskDefinition",
        "are both set",
    ),
    (
        "ecs-file-missing",
        {"target": EXTERNAL, "services": [ecs_svc(containerDefinitions="configs/ecs/absent.json")]},
        "pyroscope:services[0].ecs.containerDefinitions",
        "does not exist under",
    ),
    (
        "ecs-plain-secret",
        {"target": EXTERNAL, "services": [ecs_svc(containerDefinitions="configs/ecs/leaky.json")]},
        "pyroscope:services[0].ecs.containerDefinitions",
        "credential-like plain environment value (app: API_TOKEN)",
    ),
    (
        "ecs-whole-task-family",
        {
            "target": EXTERNAL,
            "services": [
                ecs_svc("a", taskDefinition="configs/ecs/task-a.json"),
                ecs_svc("b", taskDefinition="configs/ecs/task-b.json"),
            ],
        },
        "pyroscope:services[1].ecs.taskDefinition",
        "gives family shared",
    ),
    (
        "agent-not-injectable",
        {"server": K8S, "services": [k8s_svc(runtime="python", agent={"delivery": "copy"})]},
        "pyroscope:services[0].agent.delivery",
        "cannot inject the agent of runtime python",
    ),
    (
        "agent-javaagent-option",
        {"server": K8S, "services": [k8s_svc(agent={"javaOptions": "-javaagent:/x.jar"})]},
        "pyroscope:services[0].agent.javaOptions",
        "must not contain -javaagent",
    ),
    (
        "service-tag",
        {"server": K8S, "services": [k8s_svc(tags={"service_name": "x"})]},
        "pyroscope:services[0].tags.service_name",
        "",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "configs" / "ecs").mkdir(parents=True)
    for name, content in FILES.items():
        (root / "configs" / "ecs" / name).write_text(json.dumps(content))
    return root


def as_model_input(raw: dict[str, Any]) -> dict[str, Any]:
    """What the loader hands the model: the sections, the stack, whether authToken is set."""
    data = {key: value for key, value in raw.items() if key != "authToken"}
    return {"stack": "test", "authTokenSet": "authToken" in raw, **data}


def through_loader(raw: dict[str, Any], project: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(raw, "test", project)
    return caught.value.problems


def through_model_validate(raw: dict[str, Any], project: Path) -> list[Problem]:
    with pytest.raises(ValidationError) as caught:
        BundleConfig.model_validate(as_model_input(raw), context={"project_root": project})
    return problems_of(caught.value)


def through_constructor(raw: dict[str, Any]) -> list[Problem]:
    """``BundleConfig(**fields)`` has no validation context: every rule but the file checks."""
    with pytest.raises(ValidationError) as caught:
        BundleConfig(**as_model_input(raw))
    return problems_of(caught.value)


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_every_entry_point_refuses_with_the_same_problems(
    project: Path, raw: dict[str, Any], path: str, fragment: str
) -> None:
    loaded = through_loader(raw, project)
    assert [problem.path for problem in loaded] == [path], [str(p) for p in loaded]
    assert fragment in str(loaded[0])
    assert [str(p) for p in through_model_validate(raw, project)] == [str(p) for p in loaded]
    if "configs/ecs/" not in json.dumps(raw):  # file checks need the project root (the context)
        assert [str(p) for p in through_constructor(raw)] == [str(p) for p in loaded]


def test_a_valid_config_passes_every_entry_point(project: Path) -> None:
    raw: dict[str, Any] = {
        "target": EXTERNAL,
        "services": [ecs_svc(containerDefinitions="configs/ecs/app.json")],
    }
    loaded = load_config(raw, "test", project)
    assert BundleConfig.model_validate(as_model_input(raw), context={"project_root": project}) == loaded
    assert BundleConfig(**as_model_input(raw)) == loaded
