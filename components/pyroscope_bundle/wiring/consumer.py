"""Reuse the profiling stack from another stack: read its outputs with a ``StackReference``.

The profiling stack exports where to push and how to authenticate (see ``docs/wiring.md``)::

    from pyroscope_bundle.wiring.consumer import shared_profiling

    shared = shared_profiling("acme/pyroscope/production")
    credentials = shared.credentials("orders")  # the Secret the pods' secretKeyRef reads
    settings = shared.settings(service="orders", runtime="java", environment="production")
    spec = wire_workload_spec(my_spec, settings, credentials.secret_ref, shared.rollout_hash)

Public API (typed; keyword arguments are explicit, so a typo is a type error):
:func:`shared_profiling`, :class:`SharedProfiling` and its :meth:`~SharedProfiling.settings`,
:meth:`~SharedProfiling.outside_settings` and :meth:`~SharedProfiling.credentials`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pyroscope_bundle_runtime import contract

from pyroscope_bundle import names
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring.kubernetes import KubernetesCredentials, SecretKeyRef
from pyroscope_bundle.wiring.settings import ProfilerSettings, build_settings, credentials_hash

__all__ = [
    "SharedProfiling",
    "shared_profiling",
]


@dataclass(frozen=True)
class SharedProfiling:
    """The profiling stack's outputs, as a consumer stack wires its own services with them."""

    endpoint: Endpoint
    # Where clients outside the server's cluster (ECS tasks) push: the profiling stack's external
    # address (an Ingress to the gateway) when it exports one, else ``endpoint``'s.
    outside_endpoint: Endpoint
    # Secrets Manager secret (JSON) with the password, its key, and the policy to attach to
    # task execution roles; None when the profiling stack wires no ECS service.
    secret_arn: pulumi.Output[Any]
    secret_json_key: pulumi.Output[Any]
    read_policy_arn: pulumi.Output[Any]
    kubernetes_secret: SecretKeyRef

    @property
    def rollout_hash(self) -> pulumi.Output[str] | None:
        return credentials_hash(self.endpoint.basic_auth_password)

    def settings(
        self,
        *,
        service: str,
        runtime: contract.Runtime,
        environment: str,
        application_name: str | None = None,
        version: str | None = None,
        tags: Mapping[str, str] | None = None,
        sample_rate: int = 100,
        profile_types: Sequence[contract.ProfileType] = ("cpu",),
        java_agent_path: str | None = contract.JAVA_DEFAULT_AGENT_PATH,
    ) -> ProfilerSettings:
        """The profiler settings of one service pushing to this stack's (in-cluster) endpoint.

        ``environment``: the value of the ``environment`` tag (usually the consumer's stack);
        ``application_name`` defaults to ``service``; ``tags`` are added to every profile.
        """
        return build_settings(
            service=service, runtime=runtime, environment=environment, endpoint=self.endpoint,
            application_name=application_name, version=version, tags=tags, sample_rate=sample_rate,
            profile_types=profile_types, java_agent_path=java_agent_path,
        )  # fmt: skip

    def outside_settings(
        self,
        *,
        service: str,
        runtime: contract.Runtime,
        environment: str,
        application_name: str | None = None,
        version: str | None = None,
        tags: Mapping[str, str] | None = None,
        sample_rate: int = 100,
        profile_types: Sequence[contract.ProfileType] = ("cpu",),
        java_agent_path: str | None = contract.JAVA_DEFAULT_AGENT_PATH,
    ) -> ProfilerSettings:
        """:meth:`settings` for a service outside the server's cluster, such as an ECS task."""
        return build_settings(
            service=service, runtime=runtime, environment=environment, endpoint=self.outside_endpoint,
            application_name=application_name, version=version, tags=tags, sample_rate=sample_rate,
            profile_types=profile_types, java_agent_path=java_agent_path,
        )  # fmt: skip

    def credentials(
        self, namespace: str, *, name: str | None = None, opts: pulumi.ResourceOptions | None = None
    ) -> KubernetesCredentials:
        """Create the Secret :attr:`kubernetes_secret` points at, in ``namespace``.

        Pods reference the password with ``secretKeyRef`` to a Secret in their own namespace;
        without it they fail with CreateContainerConfigError. Call it once per namespace your
        wired workloads run in, and make the workloads depend on the result. ``name``: the
        Pulumi resource name (default ``profiler-credentials-<namespace>``).
        """
        password = self.endpoint.basic_auth_password
        if password is None:
            raise ValueError(
                "this profiling stack is read with authenticated=False: there is no password to put "
                "in a Secret; wire the workloads with secret=None"
            )
        return KubernetesCredentials(
            name or f"profiler-credentials-{namespace}", namespace, password, self.kubernetes_secret, opts
        )


def shared_profiling(
    stack: str | pulumi.StackReference, *, authenticated: bool = True, tenant_id: str | None = None
) -> SharedProfiling:
    """Read a profiling stack's outputs (``org/project/stack``, or a StackReference you made).

    ``authenticated``: the target takes basic auth (Grafana Cloud, the gateway); then the user
    and the (secret) password outputs are required. ``tenant_id``: for a multi-tenant server,
    the tenant this consumer's services write to.
    """
    reference = stack if isinstance(stack, pulumi.StackReference) else pulumi.StackReference(stack)
    endpoint = Endpoint(
        url=reference.require_output(names.OUTPUT_SERVER_ADDRESS),
        basic_auth_user=reference.require_output(names.OUTPUT_BASIC_AUTH_USER) if authenticated else None,
        basic_auth_password=(
            pulumi.Output.secret(reference.require_output(names.OUTPUT_BASIC_AUTH_PASSWORD))
            if authenticated
            else None
        ),
        tenant_id=tenant_id,
    )
    external = reference.get_output(names.OUTPUT_EXTERNAL_SERVER_ADDRESS)
    outside_url = pulumi.Output.all(external, endpoint.url).apply(lambda urls: str(urls[0] or urls[1]))
    return SharedProfiling(
        endpoint=endpoint,
        outside_endpoint=dataclasses.replace(endpoint, url=outside_url),
        secret_arn=reference.get_output(names.OUTPUT_SECRET_ARN),
        secret_json_key=reference.get_output(names.OUTPUT_SECRET_JSON_KEY).apply(
            lambda key: key or contract.CREDENTIALS_SECRET_KEY
        ),
        read_policy_arn=reference.get_output(names.OUTPUT_SECRET_READ_POLICY_ARN),
        kubernetes_secret=SecretKeyRef(),
    )
