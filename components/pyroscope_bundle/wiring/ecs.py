"""Profiler wiring for ECS task definitions.

The password lives in a Secrets Manager secret holding JSON (``{"password": "<token>"}``);
containers get it through ``secrets: [{name, valueFrom: "<secret ARN>:password::"}]`` and
every other value through ``environment``. The task **execution** role needs
``secretsmanager:GetSecretValue`` on exactly that secret (and ``kms:Decrypt`` when the secret
uses a customer-managed key).

(a) :func:`wire_container_definitions` - a pure function over container definitions (a list of
    dicts or the JSON string ``aws.ecs.TaskDefinition`` takes);
(b) :class:`ProfiledTaskDefinition` - registers a profiled task definition from a
    container-definition file (what ``pyroscope:services`` uses);
(c) :func:`ecs_transform` - a stack transform for ``aws:ecs/taskDefinition:TaskDefinition``
    resources tagged ``pyroscope-bundle:runtime``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi
from pulumi.output import Unknown
from pyroscope_bundle_runtime import contract

from pyroscope_bundle import constants, ecs_files, names
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring import agents, ecs_task, engine_props
from pyroscope_bundle.wiring.env import EnvConflictError, profiler_env
from pyroscope_bundle.wiring.settings import (
    AgentInjection,
    ProfilerSettings,
    build_settings,
    credentials_hash,
)

__all__ = [
    "EcsCredentials",
    "EcsProfilerEnv",
    "ProfiledTaskDefinition",
    "ecs_env",
    "ecs_tasks_trust_policy",
    "ecs_transform",
    "managed_execution_policy_arn",
    "register_profiled_task_definition",
    "register_unprofiled_task_definition",
    "resolved_env",
    "secret_read_policy",
    "secret_value_from",
    "wire_container_definitions",
    "wire_task_definition",
]

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"

Definitions = TypeVar("Definitions", str, list[dict[str, Any]])

if TYPE_CHECKING:
    from pulumi_aws import ecs as aws_ecs


def secret_value_from(secret_arn: str, json_key: str = contract.CREDENTIALS_SECRET_KEY) -> str:
    """``<arn>:<json-key>::`` - one key of a JSON secret, current version."""
    return f"{secret_arn}:{json_key}::"


@dataclass(frozen=True)
class EcsProfilerEnv:
    """Resolved (plain) values for one service: ``environment`` and ``secrets`` entries."""

    runtime: str
    environment: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict)  # name -> valueFrom


def ecs_env(
    settings: ProfilerSettings,
    *,
    server_address: str,
    basic_auth_user: str | None,
    secret_value_from: str | None,
    credentials_hash: str | None = None,
) -> EcsProfilerEnv:
    """Plain ``environment`` values and the ``secrets`` reference (Outputs already resolved)."""
    environment: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for variable in profiler_env(settings, password_from_secret=secret_value_from is not None):
        if variable.from_secret:
            assert secret_value_from is not None
            secrets[variable.name] = secret_value_from
        elif variable.name == contract.SERVER_ADDRESS:
            environment[variable.name] = server_address
        elif variable.name == contract.BASIC_AUTH_USER:
            if basic_auth_user:
                environment[variable.name] = basic_auth_user
        else:
            assert isinstance(variable.value, str), variable.name
            environment[variable.name] = variable.value
    if credentials_hash:
        environment[contract.CREDENTIALS_HASH] = credentials_hash
    return EcsProfilerEnv(runtime=settings.runtime, environment=environment, secrets=secrets)


def _wire_one(definition: dict[str, Any], env: EcsProfilerEnv, overwrite: bool) -> dict[str, Any]:
    wired = copy.deepcopy(definition)
    owned = set(contract.owned_names(env.runtime)) | set(env.environment) | set(env.secrets)
    where = f"container {wired.get('name')}"
    kept_environment: list[dict[str, Any]] = []
    for entry in wired.get("environment") or []:
        name = entry.get("name")
        if name in owned and not (name in env.environment and entry.get("value") == env.environment[name]):
            if not overwrite:
                raise EnvConflictError(
                    f"{where}: environment {name} is already set; remove it (the wiring sets it) "
                    "or pass overwrite=True"
                )
            continue
        if name not in env.environment:
            kept_environment.append(entry)
    kept_secrets: list[dict[str, Any]] = []
    for entry in wired.get("secrets") or []:
        name = entry.get("name")
        if name in owned and not (name in env.secrets and entry.get("valueFrom") == env.secrets[name]):
            if not overwrite:
                raise EnvConflictError(
                    f"{where}: secret {name} is already set; remove it (the wiring sets it) "
                    "or pass overwrite=True"
                )
            continue
        if name not in env.secrets:
            kept_secrets.append(entry)
    environment = kept_environment + [{"name": k, "value": v} for k, v in env.environment.items()]
    secrets = kept_secrets + [{"name": k, "valueFrom": v} for k, v in env.secrets.items()]
    # Sorted: ECS hands lists back in its own order; an unsorted list is a new revision every time.
    wired["environment"] = sorted(environment, key=lambda item: str(item.get("name")))
    if secrets:
        wired["secrets"] = sorted(secrets, key=lambda item: str(item.get("name")))
    else:
        wired.pop("secrets", None)
    return wired


def wire_container_definitions(
    definitions: Definitions,
    env: EcsProfilerEnv,
    *,
    containers: Sequence[str] = (),
    overwrite: bool = False,
) -> Definitions:
    """(a) Container definitions with the profiler wired in; everything else is kept as it was.

    Accepts and returns the same form: a list of dicts, or a JSON string (returned with sorted
    keys so that the same input always gives the same bytes). ``containers``: wire only these
    (default: every container). A variable the wiring sets that a definition already sets to a
    different value is an :class:`EnvConflictError` unless ``overwrite``.
    """
    parsed: Any = json.loads(definitions) if isinstance(definitions, str) else definitions
    if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
        raise ValueError("container definitions must be a JSON list of objects")
    present = [item.get("name") for item in parsed]
    unknown = sorted(set(containers) - {name for name in present if isinstance(name, str)})
    if unknown:
        raise ValueError(
            f"no container named {', '.join(unknown)}; containers: {', '.join(map(str, present))}"
        )
    wired = [
        _wire_one(item, env, overwrite)
        if not containers or item.get("name") in containers
        else copy.deepcopy(item)
        for item in parsed
    ]
    if isinstance(definitions, str):
        return json.dumps(wired, sort_keys=True)
    return wired


def resolved_env(
    settings: ProfilerSettings,
    secret_value_from: pulumi.Input[str] | None,
    rollout_hash: pulumi.Input[str] | None,
) -> pulumi.Output[EcsProfilerEnv]:
    """:func:`ecs_env` once the address, user, secret ARN and hash are known (none is secret)."""
    return pulumi.Output.all(
        settings.server_address, settings.basic_auth_user, secret_value_from, rollout_hash
    ).apply(
        lambda values: ecs_env(
            settings,
            server_address=values[0],
            basic_auth_user=values[1],
            secret_value_from=values[2],
            credentials_hash=values[3],
        )
    )


# --- IAM --------------------------------------------------------------------------------------


def secret_read_policy(secret_arn: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """The execution role's permission: read exactly this secret (and decrypt it with its CMK)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadProfilerCredentials",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [secret_arn],
        }
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "DecryptProfilerCredentials",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def ecs_tasks_trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": names.ECS_TASKS_PRINCIPAL},
                "Action": "sts:AssumeRole",
            }
        ],
    }


class EcsCredentials(BundleComponent):
    """The JSON secret holding the password (or an existing one) and the policy to read it."""

    secret_arn: pulumi.Output[str]
    policy_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        stack: str,
        password: pulumi.Output[str] | None,
        existing_secret_arn: str | None = None,
        kms_key_arn: str | None = None,
        json_key: str = contract.CREDENTIALS_SECRET_KEY,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        from pulumi_aws import (
            iam,
            secretsmanager,
        )

        child = pulumi.ResourceOptions(parent=self)
        self.json_key = json_key
        if existing_secret_arn is not None:
            self.secret_arn = pulumi.Output.from_input(existing_secret_arn)
        else:
            if password is None:
                raise ValueError("EcsCredentials needs a password or an existing secret ARN")
            secret = secretsmanager.Secret(
                name,
                name=names.aws_secret_name(stack, name),
                description=f"Pyroscope profiler basic-auth password (JSON key: {json_key})",
                kms_key_id=kms_key_arn,
                # Disabling profiling deletes the secret; re-enabling must be able to recreate
                # the same name at once (the token is still in the stack config).
                recovery_window_in_days=0,
                opts=child,
            )
            secretsmanager.SecretVersion(
                name,
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(password).apply(  # type: ignore[arg-type]
                    lambda token: json.dumps({json_key: token})
                ),
                opts=child,
            )
            self.secret_arn = secret.arn
        policy = iam.Policy(
            f"{name}-read",
            name=names.aws_policy_name(stack, name),
            description="Lets ECS task execution roles read the Pyroscope profiler credentials secret.",
            policy=self.secret_arn.apply(
                lambda arn: json.dumps(secret_read_policy(arn, kms_key_arn), sort_keys=True)
            ),
            opts=child,
        )
        self.policy_arn = policy.arn
        self.register_outputs({"secretArn": self.secret_arn, "policyArn": self.policy_arn})


def _role_arn_for(role: str) -> pulumi.Output[str]:
    """An execution role given by name (or ARN) as an ARN, in this account and partition."""
    if role.startswith("arn:"):
        return pulumi.Output.from_input(role)
    import pulumi_aws

    identity = pulumi_aws.get_caller_identity_output()
    partition = pulumi_aws.get_partition_output()
    return pulumi.Output.all(partition.partition, identity.account_id).apply(
        lambda values: f"arn:{values[0]}:iam::{values[1]}:role/{role}"
    )


def _role_name_of(role: str) -> str:
    return role.rsplit("/", 1)[-1] if role.startswith("arn:") else role


def wire_task_definition(
    request: Mapping[str, Any],
    env: EcsProfilerEnv,
    agent: AgentInjection | None = None,
    *,
    containers: Sequence[str] = (),
    overwrite: bool = False,
) -> dict[str, Any]:
    """(a) A whole RegisterTaskDefinition request with the profiler wired: the containers' env,
    and for an injected agent its container, volume, mounts and ``dependsOn``. Nothing else changes."""
    wired = dict(request)
    wired["containerDefinitions"] = wire_container_definitions(
        list(request["containerDefinitions"]), env, containers=containers, overwrite=overwrite
    )
    if agent is not None:
        wired = ecs_task.with_agent(wired, agent, containers)
    return wired


def register_profiled_task_definition(
    name: str,
    settings: ProfilerSettings,
    *,
    container_definitions: str | list[dict[str, Any]] | None = None,
    family: str | None = None,
    stack: str,
    cpu: str = "256",
    memory: str = "512",
    task_definition: Mapping[str, Any] | None = None,
    credentials: EcsCredentials | None,
    execution_role: str | None = None,
    containers: Sequence[str] = (),
    overwrite: bool = False,
    managed_policy_arn: pulumi.Input[str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws_ecs.TaskDefinition:
    """Register a task definition with the profiler wired, and its execution role's grant.

    ``task_definition``: the service's whole RegisterTaskDefinition request, kept as it is apart
    from profiling; otherwise a Fargate one from ``container_definitions``, ``family``, ``cpu``
    and ``memory``. The execution role is the named one (or the request's ``executionRoleArn``),
    granted the read policy, or one created for the task (with the AWS-managed ECS execution
    policy, for image pulls and logs; pass ``managed_policy_arn`` to look its partition up once
    for many services). Revisions are registered with ``skip_destroy``: a replaced or unwired
    revision stays ACTIVE, so a service still running it keeps a valid task definition.
    """
    from pulumi_aws import ecs, iam

    if task_definition is None:
        if container_definitions is None or family is None:
            raise ValueError("pass task_definition, or container_definitions and family")
        parsed = (
            json.loads(container_definitions)
            if isinstance(container_definitions, str)
            else container_definitions
        )
        request = ecs_task.fargate_request(family, parsed, cpu, memory)
    else:
        request = ecs_files.parse_task_definition(task_definition)
    family = str(request["family"])
    if execution_role is None and request.get("executionRoleArn"):
        execution_role = str(request["executionRoleArn"])
    opts = opts or pulumi.ResourceOptions()
    role_arn: pulumi.Output[str] | None = None
    attachments: list[pulumi.Resource] = []
    if execution_role is not None:
        role_arn = _role_arn_for(execution_role)
        role_name: pulumi.Input[str] = _role_name_of(execution_role)
    elif credentials is not None:
        role = iam.Role(
            f"{name}-execution",
            name=names.execution_role_name(family, stack),
            description=f"ECS task execution role of {family} (created by pyroscope-bundle)",
            assume_role_policy=json.dumps(ecs_tasks_trust_policy(), sort_keys=True),
            opts=opts,
        )
        attachments.append(
            iam.RolePolicyAttachment(
                f"{name}-execution-managed",
                role=role.name,
                policy_arn=managed_policy_arn
                if managed_policy_arn is not None
                else managed_execution_policy_arn(),
                opts=opts,
            )
        )
        role_arn, role_name = role.arn, role.name
    if credentials is not None and role_arn is not None:
        attachments.append(
            iam.RolePolicyAttachment(
                f"{name}-read-credentials",
                role=role_name,
                policy_arn=credentials.policy_arn,
                opts=opts,
            )
        )
    value_from = (
        credentials.secret_arn.apply(lambda arn: secret_value_from(arn, credentials.json_key))
        if credentials is not None
        else None
    )
    rollout_hash = credentials_hash(settings.basic_auth_password) if credentials is not None else None
    if settings.agent is not None:
        # Refuse a clash (a container or volume already named like the agent's) before any
        # resource is registered, not inside an apply.
        ecs_task.with_agent(request, settings.agent, containers)
    definitions_json = resolved_env(settings, value_from, rollout_hash).apply(
        lambda env: json.dumps(
            wire_task_definition(request, env, settings.agent, containers=containers, overwrite=overwrite)[
                "containerDefinitions"
            ],
            sort_keys=True,
        )
    )
    args = ecs_task.task_definition_args(
        ecs_task.with_agent(request, settings.agent, containers) if settings.agent is not None else request
    )
    if role_arn is not None:
        args["execution_role_arn"] = role_arn
    tags = ecs_task.request_tags(request)
    return ecs.TaskDefinition(
        name,
        **args,
        container_definitions=definitions_json,
        tags=tags or None,
        skip_destroy=True,
        # The role must be able to read the secret before a task starts.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=attachments)),
    )


def register_unprofiled_task_definition(
    name: str, task_definition: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
) -> aws_ecs.TaskDefinition:
    """The service's own task definition, registered as it is (profiling off for it).

    Registered under the profiled revision's resource name with ``skip_destroy``: turning
    profiling off makes a new, unprofiled revision the family's latest and leaves the profiled one
    registered for tasks still running it.
    """
    from pulumi_aws import ecs

    request = ecs_files.parse_task_definition(task_definition)
    return ecs.TaskDefinition(
        name,
        **ecs_task.task_definition_args(request),
        container_definitions=json.dumps(request["containerDefinitions"], sort_keys=True),
        tags=ecs_task.request_tags(request) or None,
        skip_destroy=True,
        opts=opts,
    )


class ProfiledTaskDefinition(BundleComponent):
    """(b) A Fargate task definition from a container-definition file, with the profiler wired
    (see :func:`register_profiled_task_definition`)."""

    # Its token before tokens followed class names (aliased: deployed stacks keep it).
    FORMER_TYPES = ("pyroscope-bundle:wiring:EcsService",)

    def __init__(
        self,
        name: str,
        settings: ProfilerSettings,
        *,
        container_definitions: str | list[dict[str, Any]] | None = None,
        family: str | None = None,
        stack: str,
        cpu: str = "256",
        memory: str = "512",
        task_definition: Mapping[str, Any] | None = None,
        credentials: EcsCredentials | None,
        execution_role: str | None = None,
        containers: Sequence[str] = (),
        overwrite: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        self.task_definition = register_profiled_task_definition(
            name,
            settings,
            container_definitions=container_definitions,
            family=family,
            stack=stack,
            cpu=cpu,
            memory=memory,
            task_definition=task_definition,
            credentials=credentials,
            execution_role=execution_role,
            containers=containers,
            overwrite=overwrite,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.task_definition.arn
        self.register_outputs({"arn": self.arn, "family": self.task_definition.family})


def managed_execution_policy_arn() -> pulumi.Output[str]:
    import pulumi_aws

    return pulumi_aws.get_partition_output().partition.apply(
        lambda partition: f"arn:{partition}:iam::aws:{names.ECS_EXECUTION_MANAGED_POLICY}"
    )


# --- (c) the stack transform --------------------------------------------------------------------


_OPTIONAL_TAGS = (
    names.ECS_SERVICE_TAG,
    names.ECS_VERSION_TAG,
    names.ECS_CONTAINERS_TAG,
    names.ECS_AGENT_TAG,
    names.ECS_AGENT_IMAGE_TAG,
)


def _transform_injection(resource: str, runtime: str, tags: Mapping[str, Any]) -> AgentInjection | None:
    """The agent injection the tags ask for (``pyroscope-bundle:agent=copy``), or None."""
    delivery = str(tags.get(names.ECS_AGENT_TAG) or "image")
    try:
        return agents.injection_for(runtime, delivery, image=tags.get(names.ECS_AGENT_IMAGE_TAG) or None)
    except ValueError as error:
        raise ValueError(
            f"{resource}: tag {names.ECS_AGENT_TAG}={delivery!r}: {error} (the transform supports image "
            f"and copy, with {names.ECS_AGENT_IMAGE_TAG})"
        ) from None


def _wire_json(
    definitions: str, env: EcsProfilerEnv, containers: Sequence[str], injection: AgentInjection | None
) -> str:
    """Wired container definitions as JSON; with ``injection`` also the agent container."""
    if injection is None:
        return wire_container_definitions(definitions, env, containers=containers)
    request = {
        "containerDefinitions": wire_container_definitions(
            json.loads(definitions), env, containers=containers
        )
    }
    return json.dumps(
        ecs_task.with_agent(request, injection, containers)["containerDefinitions"], sort_keys=True
    )


def ecs_transform(
    endpoint: Endpoint,
    environment: str,
    secret_arn: pulumi.Input[str] | None,
    json_key: str = contract.CREDENTIALS_SECRET_KEY,
) -> Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]:
    """(c) A stack transform wiring every task definition tagged ``pyroscope-bundle:runtime``.

    Optional tags: ``pyroscope-bundle:service`` (default: the family), ``pyroscope-bundle:version``
    and ``pyroscope-bundle:containers`` (space-separated). Attach the read policy
    (``profilerSecretReadPolicyArn``) to the task execution role yourself. It takes the props as
    the engine delivers them (:mod:`.engine_props`): secret ``containerDefinitions`` are wired and
    stay secret; a task definition whose tags or definitions are not known yet (a preview) passes
    through with a warning.
    """
    value_from = (
        pulumi.Output.from_input(secret_arn).apply(lambda arn: secret_value_from(arn, json_key))
        if secret_arn is not None
        else None
    )
    rollout_hash = credentials_hash(endpoint.basic_auth_password) if secret_arn is not None else None

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != TASK_DEFINITION or not args.custom:
            return None
        resource = f"task definition {args.name}"
        props = args.props
        engine_props.refuse_outputs(resource, props)
        tags, _ = engine_props.reveal(props.get("tags"))
        runtime = tags.get(names.ECS_RUNTIME_TAG) if isinstance(tags, Mapping) else tags
        if isinstance(runtime, Unknown):
            engine_props.warn_unknown(resource, f"tag {names.ECS_RUNTIME_TAG}")
            return None
        if runtime is None or not isinstance(tags, Mapping):
            return None
        if runtime not in contract.RUNTIMES:
            allowed = ", ".join(contract.RUNTIMES)
            raise ValueError(f"{resource}: tag {names.ECS_RUNTIME_TAG}={runtime!r}; use one of {allowed}")
        family, _ = engine_props.reveal(props.get("family"))
        definitions, secret = engine_props.reveal(props.get("containerDefinitions"))
        if definitions is None:
            raise ValueError(
                f"{resource}: tagged {names.ECS_RUNTIME_TAG}={runtime} but has no containerDefinitions "
                "to wire"
            )
        # Service, version, containers and the definitions are all read whole: an unknown one
        # (a preview) leaves nothing to wire yet.
        read = {
            "tags": {key: tags[key] for key in _OPTIONAL_TAGS if key in tags},
            "containerDefinitions": definitions,
        }
        if names.ECS_SERVICE_TAG not in tags:
            read["family"] = family
        unknown = engine_props.unknown_path(read, "")
        if unknown is not None:
            engine_props.warn_unknown(resource, unknown)
            return None
        injection = _transform_injection(resource, runtime, tags)
        settings = build_settings(
            service=tags.get(names.ECS_SERVICE_TAG) or (family if isinstance(family, str) else args.name),
            runtime=runtime,
            environment=environment,
            endpoint=endpoint,
            version=tags.get(names.ECS_VERSION_TAG),
            agent=injection,
        )
        containers = tuple(str(tags.get(names.ECS_CONTAINERS_TAG, "")).split())
        if not isinstance(definitions, str):
            kind = type(definitions).__name__
            raise ValueError(f"{resource}: containerDefinitions must be a JSON string, not {kind}")
        wired = resolved_env(settings, value_from, rollout_hash).apply(
            lambda env: _wire_json(definitions, env, containers, injection)
        )
        new_props = {**props, "containerDefinitions": engine_props.hand_back(wired, secret)}
        if injection is not None:
            volumes, volumes_secret = engine_props.reveal(props.get("volumes"))
            if any(isinstance(v, Mapping) and v.get("name") == constants.AGENT_VOLUME for v in volumes or []):
                raise ValueError(f"{resource}: already has a volume named {constants.AGENT_VOLUME}")
            new_props["volumes"] = engine_props.hand_back(
                [*(volumes or []), agents.ecs_volume()], volumes_secret
            )
        return pulumi.ResourceTransformResult(props=new_props, opts=args.opts)

    return transform
