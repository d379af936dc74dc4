"""Config checks of ``pyroscope:services``: what the wiring needs, checked before any resource is registered.

Each problem names the key to change: tags every SDK parses the same way, profile types the
runtime's SDK can collect, container-definition files the ECS wiring can use.
"""

from __future__ import annotations

from pathlib import Path

from pyroscope_bundle_runtime import contract

from pyroscope_bundle import constants
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields, Service
from pyroscope_bundle.ecs_files import (
    check_container_definitions,
    load_container_definitions,
    load_task_definition,
    plain_secret_problems,
)


def check_services(config: BundleFields, project_root: Path | None) -> list[Problem]:
    problems: list[Problem] = []
    for index, service in enumerate(config.services):
        problems += _check_profile(index, service)
        problems += check_agent(index, service)
        if service.platform == "ecs":
            problems += _check_ecs_definitions(index, service, project_root)
    return problems + _check_whole_task_families(config, project_root)


def _check_whole_task_families(config: BundleFields, project_root: Path | None) -> list[Problem]:
    """A whole task-definition file brings its own family: two services must not share one
    (two services registering revisions of one task definition, two roles with one name)."""
    if project_root is None:
        return []
    problems: list[Problem] = []
    families: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.platform != "ecs":
            continue
        family = service.ecs.family or service.name
        relative = service.ecs.task_definition
        if relative is not None:
            try:
                family = str(load_task_definition(project_root / relative)["family"])
            except (ValueError, OSError):
                continue  # reported with the file
        if family in families and (
            relative is not None or config.services[families[family]].ecs.task_definition
        ):
            problems.append(
                Problem(
                    key_path("services", index, "ecs", "taskDefinition" if relative else "family"),
                    f"gives family {family}, which pyroscope:services[{families[family]}] registers too; "
                    "give each service a family of its own",
                    relative or family,
                )
            )
        families.setdefault(family, index)
    return problems


def _check_profile(index: int, service: Service) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in sorted(service.tags.items()):
        problem = contract.tag_problem(key, value)
        if problem:
            problems.append(Problem(key_path("services", index, "tags", key), problem, value))
    for field, text in (("version", service.version), ("applicationName", service.application_name)):
        value_problem = contract.tag_value_problem(text) if text is not None else None
        if value_problem:
            problems.append(Problem(key_path("services", index, field), value_problem, text))
    types_problem = contract.profile_type_problem(service.runtime, list(service.profile_types))
    if types_problem:
        problems.append(
            Problem(key_path("services", index, "profileTypes"), types_problem, service.profile_types)
        )
    default_rate = Service.model_fields["sample_rate"].default
    fixed_rate = _FIXED_RATE_REASONS.get(service.runtime)
    if fixed_rate is not None and service.sample_rate != default_rate:
        # A value here would be silently ignored by the SDK.
        problems.append(
            Problem(
                key_path("services", index, "sampleRate"),
                f"cannot be set for runtime {service.runtime} ({fixed_rate}); leave {default_rate}",
                service.sample_rate,
            )
        )
    return problems


_FIXED_RATE_REASONS = {
    "dotnet": "its profiler has no sampling rate",
    "go": (
        "pyroscope-go samples at a fixed 100 Hz: Config.SampleRate is deprecated and not configurable, "
        "api.go v1.4.2"
    ),
}


def check_agent(index: int, service: Service) -> list[Problem]:
    """What ``services[i].agent`` asks for must be possible for the runtime, and nothing set may be
    silently ignored."""
    agent = service.agent
    key = lambda *parts: key_path("services", index, "agent", *parts)  # noqa: E731
    problems: list[Problem] = []
    if agent.delivery != "image" and service.runtime not in constants.INJECTABLE_AGENT_RUNTIMES:
        reason = (
            "install pyroscope-bundle-runtime in the image (docs/wiring.md): an interpreter's agent "
            "must match its exact version and cannot be injected safely"
            if service.runtime == "python"
            else "the SDK is compiled or bundled into the application"
        )
        problems.append(
            Problem(
                key("delivery"),
                f"cannot inject the agent of runtime {service.runtime}: {reason}",
                agent.delivery,
            )
        )
        return problems
    if agent.delivery == "copy" and service.runtime == "java" and not agent.image:
        problems.append(
            Problem(
                key("image"),
                "is required for delivery copy of the java agent (there is no official agent image): "
                "an image with pyroscope.jar at agent.path (default /pyroscope.jar) and `cp`, or use "
                "delivery download",
                has_value=False,
            )
        )
    if agent.delivery == "download":
        if service.runtime != "java":
            problems.append(
                Problem(
                    key("delivery"),
                    "is for the java agent only (the .NET profiler ships per-architecture tarballs); "
                    "use copy, which takes the multi-arch upstream image",
                    agent.delivery,
                )
            )
        if agent.sha256 is None:
            problems.append(
                Problem(
                    key("sha256"),
                    "is required for delivery download: the pyroscope-java release publishes no checksum; "
                    "set the sha256 of a pyroscope.jar you trust",
                    has_value=False,
                )
            )
    unused = [
        (name, value)
        for name, value, used in (
            ("url", agent.url, agent.delivery == "download"),
            ("sha256", agent.sha256, agent.delivery == "download"),
            ("path", agent.path, agent.delivery == "copy"),
            ("image", agent.image, agent.delivery != "image"),
            ("javaOptions", agent.java_options, service.runtime == "java"),
        )
        if value is not None and not used
    ]
    if service.runtime != "java" and agent.java_options_variable != contract.JAVA_TOOL_OPTIONS:
        unused.append(("javaOptionsVariable", agent.java_options_variable))
    for name, value in unused:
        problems.append(
            Problem(
                key(name),
                f"has no effect with delivery {agent.delivery} and runtime {service.runtime}",
                value,
            )
        )
    default_path = Service.model_fields["java_agent_path"].default
    if agent.delivery != "image" and service.runtime == "java" and service.java_agent_path != default_path:
        problems.append(
            Problem(
                key_path("services", index, "javaAgentPath"),
                "is the agent's path inside the service image; with an injected agent (agent.delivery "
                f"{agent.delivery}) the wiring attaches the injected copy: remove it",
                service.java_agent_path,
            )
        )
    if agent.java_options and "-javaagent:" in agent.java_options:
        problems.append(
            Problem(
                key("javaOptions"), "must not contain -javaagent (the wiring adds it)", agent.java_options
            )
        )
    return problems


def _check_ecs_definitions(index: int, service: Service, project_root: Path | None) -> list[Problem]:
    whole = service.ecs.task_definition is not None
    relative = service.ecs.task_definition if whole else service.ecs.container_definitions
    if project_root is None or not relative or not (project_root / relative).is_file():
        return []  # missing file: reported by the loader
    file_key = key_path("services", index, "ecs", "taskDefinition" if whole else "containerDefinitions")
    try:
        if whole:
            definitions = check_container_definitions(
                load_task_definition(project_root / relative)["containerDefinitions"]
            )
        else:
            definitions = load_container_definitions(project_root / relative)
    except ValueError as error:
        return [Problem(file_key, str(error), relative)]
    problems: list[Problem] = []
    leaked = plain_secret_problems(definitions)
    if leaked:
        problems.append(
            Problem(
                file_key,
                f"has a credential-like plain environment value ({', '.join(leaked)}), which every "
                "reader of the task definition sees; move it to the container's secrets "
                "([{name, valueFrom: <Secrets Manager or SSM ARN>}])",
                relative,
            )
        )
    present = [item["name"] for item in definitions]
    unknown = [name for name in service.ecs.containers if name not in present]
    if unknown:
        problems.append(
            Problem(
                key_path("services", index, "ecs", "containers"),
                f"names no container of {relative}; containers there: {', '.join(present)}",
                unknown,
            )
        )
    if service.ecs.overwrite_environment:
        return problems
    owned = set(contract.owned_names(service.runtime))
    if service.runtime == "java":
        owned.add(service.agent.java_options_variable)
    for item in definitions:
        if service.ecs.containers and item["name"] not in service.ecs.containers:
            continue
        for section in ("environment", "secrets"):
            for entry in item.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") in owned:
                    problems.append(
                        Problem(
                            file_key,
                            f"sets {entry['name']} in container {item['name']} ({section}), which the "
                            "wiring sets; remove it from the file or set "
                            f"{key_path('services', index, 'ecs', 'overwriteEnvironment')}: true",
                            relative,
                        )
                    )
    return problems
