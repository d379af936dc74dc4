"""One profiler settings value per service: what every platform's wiring is built from.

Built by pure functions from the validated config, the service and the resolved target
:class:`~pyroscope_bundle.endpoints.Endpoint`, so a test can build one by hand and every wiring
(Kubernetes patch, ECS task definition, transforms, helpers) sees exactly the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pyroscope_bundle_runtime import contract

from pyroscope_bundle import constants
from pyroscope_bundle.config import Service
from pyroscope_bundle.config.model import Target
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.stack_key import derive, stack_key
from pyroscope_bundle.wiring.agents import AgentInjection, injected_java_agent_path, injection_for

# The HMAC purpose label of the rollout hash (the gateway's salts use another).
ROLLOUT_HASH_PURPOSE = "rollout-hash"


@dataclass(frozen=True)
class ProfilerSettings:
    """Everything a profiled service needs to push profiles, for one runtime."""

    service: str
    runtime: contract.Runtime
    # The stack name: the value of the `environment` tag.
    environment: str
    application_name: str
    server_address: pulumi.Input[str]
    basic_auth_user: pulumi.Input[str] | None = None
    # A secret Output, or None when the target takes no password.
    basic_auth_password: pulumi.Output[str] | None = field(default=None, repr=False)
    tenant_id: str | None = None
    # environment, service, version (when set) and the user's tags, sorted by key.
    tags: Mapping[str, str] = field(default_factory=dict)
    sample_rate: int = 100
    profile_types: tuple[contract.ProfileType, ...] = ("cpu",)
    # Java: where the image has pyroscope.jar (attached through JAVA_TOOL_OPTIONS); None when
    # the image attaches the agent itself.
    java_agent_path: str | None = contract.JAVA_DEFAULT_AGENT_PATH
    # Java: the variable carrying -javaagent, and flags put before it there.
    java_options_variable: str = contract.JAVA_TOOL_OPTIONS
    java_options: str | None = None
    # The injected agent (copied or downloaded into a shared volume); None: the image has it.
    agent: AgentInjection | None = None

    @property
    def labels(self) -> str:
        return contract.format_labels(self.tags)

    @property
    def agent_path(self) -> str | None:
        """Java: where the JVM loads the agent from (the injected copy wins over the image's)."""
        return injected_java_agent_path() if self.agent is not None else self.java_agent_path

    @property
    def dotnet_directory(self) -> str:
        """.NET: the directory of the two native libraries."""
        return constants.AGENT_DIR if self.agent is not None else contract.DOTNET_PROFILER_DIR


def service_tags(
    environment: str, service: str, version: str | None, user_tags: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags every profile of ``service`` carries (bundle tags win; the loader refuses clashes)."""
    tags = dict(user_tags or {})
    tags.update(environment=environment, service=service)
    if version:
        tags["version"] = version
    return dict(sorted(tags.items()))


def build_settings(
    *,
    service: str,
    runtime: contract.Runtime,
    environment: str,
    endpoint: Endpoint,
    application_name: str | None = None,
    version: str | None = None,
    tags: Mapping[str, str] | None = None,
    sample_rate: int = 100,
    profile_types: Sequence[contract.ProfileType] = ("cpu",),
    java_agent_path: str | None = contract.JAVA_DEFAULT_AGENT_PATH,
    java_options_variable: str = contract.JAVA_TOOL_OPTIONS,
    java_options: str | None = None,
    agent: AgentInjection | None = None,
) -> ProfilerSettings:
    """Settings for a workload that is not in ``pyroscope:services`` (transforms, consumer stacks)."""
    problem = contract.profile_type_problem(runtime, list(profile_types))
    if problem:
        raise ValueError(f"service {service}: profile types {list(profile_types)} {problem}")
    for key, value in (tags or {}).items():
        tag_error = contract.tag_problem(key, value)
        if tag_error:
            raise ValueError(f"service {service}: tag {key}={value!r} {tag_error}")
    version_error = contract.tag_value_problem(version) if version is not None else None
    if version_error:
        raise ValueError(f"service {service}: version {version!r} {version_error}")
    return ProfilerSettings(
        service=service,
        runtime=runtime,
        environment=environment,
        application_name=application_name or service,
        server_address=endpoint.url,
        basic_auth_user=endpoint.basic_auth_user,
        basic_auth_password=endpoint.basic_auth_password,
        tenant_id=endpoint.tenant_id,
        tags=service_tags(environment, service, version, tags),
        sample_rate=sample_rate,
        profile_types=tuple(sorted(set(profile_types))),
        java_agent_path=java_agent_path,
        java_options_variable=java_options_variable,
        java_options=java_options,
        agent=agent,
    )


def profiler_settings(stack: str, service: Service, endpoint: Endpoint) -> ProfilerSettings:
    """The settings of a service listed in ``pyroscope:services``; ``stack`` is the
    ``environment`` tag."""
    return build_settings(
        service=service.name,
        runtime=service.runtime,
        environment=stack,
        endpoint=endpoint,
        application_name=service.application_name,
        version=service.version,
        tags=service.tags,
        sample_rate=service.sample_rate,
        profile_types=service.profile_types,
        java_agent_path=service.java_agent_path,
        java_options_variable=service.agent.java_options_variable,
        java_options=service.agent.java_options,
        agent=service_agent(service),
    )


def service_agent(service: Service) -> AgentInjection | None:
    """The injection ``service.agent`` asks for (the loader has refused impossible ones)."""
    agent = service.agent
    return injection_for(
        service.runtime,
        agent.delivery,
        image=agent.image,
        path=agent.path,
        url=agent.url,
        sha256=agent.sha256,
    )


def is_wired(target: Target, service: Service) -> bool:
    """The global switch (``pyroscope:target.enabled``) and the service's own switch: off means
    no wiring resources at all."""
    return target.enabled and service.enabled


def credentials_hash_of(password: str, key: str) -> str:
    """HMAC-SHA256 of ``password`` under the stack's key, first 16 hex digits: the rollout trigger.

    Not secret, so the pod annotation / ECS variable shows in diffs when the password changes.
    Without the key (a secret kept in the stack state, :mod:`pyroscope_bundle.stack_key`) it
    cannot be used to test guesses of the password offline, and the same password gives
    unrelated values in two stacks.
    """
    return derive(key, ROLLOUT_HASH_PURPOSE, password).hex()[: contract.CREDENTIALS_HASH_LENGTH]


def credentials_hash(
    password: pulumi.Output[str] | None, key: pulumi.Input[str] | None = None
) -> pulumi.Output[str] | None:
    """The rollout trigger for ``password``: a plain (unsecret) Output, see :func:`credentials_hash_of`.

    ``key``: this stack's key unless given (:func:`~pyroscope_bundle.stack_key.stack_key`).
    """
    if password is None:
        return None
    hashed = pulumi.Output.all(password, key if key is not None else stack_key()).apply(
        lambda args: credentials_hash_of(args[0], args[1])
    )
    return pulumi.Output.unsecret(hashed)
