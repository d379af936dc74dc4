"""Labels, annotations, tags and resource names the wiring sets or reads, and the stack outputs
consumer stacks read (one place for each).

No imports: the config checks (collisions of the names the wiring will give) and the wiring use
the same names. Public as ``pyroscope_bundle.wiring.names`` too (``from pyroscope_bundle.wiring
import names``), the path consumer stacks import.
"""

from __future__ import annotations

from typing import Final

# --- Kubernetes: set on wired workloads and their pods (discoverability, rollouts) ------------
PREFIX: Final = "pyroscope-bundle"
PROFILED_LABEL: Final = f"{PREFIX}/profiled"  # "true": `kubectl get pods -l pyroscope-bundle/profiled=true`
SERVICE_LABEL: Final = f"{PREFIX}/service"
RUNTIME_LABEL: Final = f"{PREFIX}/runtime"
APPLICATION_ANNOTATION: Final = f"{PREFIX}/application-name"
# HMAC of the token under the stack's key: changes the pod template (a rollout) exactly when the token does.
CREDENTIALS_HASH_ANNOTATION: Final = f"{PREFIX}/credentials-hash"
# Where an injected agent comes from ("copied from <image>", "downloaded from <url> (sha256 ...)").
AGENT_SOURCE_ANNOTATION: Final = f"{PREFIX}/agent-source"

# --- Kubernetes: opt-in read by the stack transform ---------------------------------------------
# Label on a Deployment/StatefulSet/DaemonSet: "true" wires it.
OPT_IN_LABEL: Final = f"{PREFIX}/profile"
# Annotations (or labels) on the workload: runtime (required), and optional overrides.
RUNTIME_ANNOTATION: Final = RUNTIME_LABEL
SERVICE_ANNOTATION: Final = SERVICE_LABEL
VERSION_ANNOTATION: Final = f"{PREFIX}/version"
CONTAINERS_ANNOTATION: Final = f"{PREFIX}/containers"  # comma-separated; absent: the one named like it
# java/dotnet: "copy" injects the agent (from AGENT_IMAGE_ANNOTATION, or the upstream .NET image).
AGENT_ANNOTATION: Final = f"{PREFIX}/agent"
AGENT_IMAGE_ANNOTATION: Final = f"{PREFIX}/agent-image"

# --- ECS: tags on an aws.ecs.TaskDefinition read by the stack transform -------------------------
ECS_RUNTIME_TAG: Final = f"{PREFIX}:runtime"  # opt-in: the runtime (java, python, ...)
ECS_SERVICE_TAG: Final = f"{PREFIX}:service"  # optional: service name (default: family)
ECS_VERSION_TAG: Final = f"{PREFIX}:version"
# java/dotnet: "copy" adds the agent container (from ECS_AGENT_IMAGE_TAG, or the upstream .NET image).
ECS_AGENT_TAG: Final = f"{PREFIX}:agent"
ECS_AGENT_IMAGE_TAG: Final = f"{PREFIX}:agent-image"
ECS_CONTAINERS_TAG: Final = (
    f"{PREFIX}:containers"  # optional, comma-separated (tag values allow no ',': use ' ')
)

# --- stack outputs for consumer stacks (StackReference) -----------------------------------------
OUTPUT_SERVER_ADDRESS: Final = "profilerServerAddress"
# Where clients outside the cluster (ECS tasks) push, when it differs from the address above.
OUTPUT_EXTERNAL_SERVER_ADDRESS: Final = "profilerExternalServerAddress"
OUTPUT_BASIC_AUTH_USER: Final = "profilerBasicAuthUser"
OUTPUT_BASIC_AUTH_PASSWORD: Final = "profilerBasicAuthPassword"  # secret
OUTPUT_TENANT_ID: Final = "profilerTenantId"
OUTPUT_SECRET_ARN: Final = "profilerSecretArn"
OUTPUT_SECRET_JSON_KEY: Final = "profilerSecretJsonKey"
OUTPUT_SECRET_READ_POLICY_ARN: Final = "profilerSecretReadPolicyArn"
OUTPUT_KUBERNETES_SECRET_NAME: Final = "profilerKubernetesSecretName"
OUTPUT_KUBERNETES_SECRET_KEY: Final = "profilerKubernetesSecretKey"
OUTPUT_WIRED_SERVICES: Final = "profiledServices"

# --- AWS --------------------------------------------------------------------------------------
ECS_TASKS_PRINCIPAL: Final = "ecs-tasks.amazonaws.com"
ECS_EXECUTION_MANAGED_POLICY: Final = "policy/service-role/AmazonECSTaskExecutionRolePolicy"


# The ECS credentials component of the bundle's program; the AWS names below derive from it.
ECS_CREDENTIALS: Final = "profiler-credentials"


def aws_secret_name(stack: str, component: str = ECS_CREDENTIALS) -> str:
    """Secrets Manager names are per account and region: one per stack and component."""
    return f"pyroscope/{stack}/{component}"


def aws_policy_name(stack: str, component: str = ECS_CREDENTIALS) -> str:
    """IAM policy names are per account: one per stack and component (the default component
    keeps its historical name)."""
    part = "profiler" if component == ECS_CREDENTIALS else component
    return f"pyroscope-{stack}-{part}-secret-read"


def execution_role_name(family: str, stack: str) -> str:
    """At most 64 characters, as IAM requires."""
    return f"{family}-{stack}-execution"[:64]


def network_policy_name(service: str) -> str:
    return f"pyroscope-egress-{service}"[:63]
