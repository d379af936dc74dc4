"""Reuse the profiling stack from another stack: read its outputs with a ``StackReference``.

The profiling stack exports where to push and how to authenticate (see ``docs/wiring.md``)::

    from pyroscope_bundle.wiring.consumer import shared_profiling

    shared = shared_profiling("acme/pyroscope/production")
    settings = shared.settings(service="orders", runtime="java", environment="production")
    spec = wire_workload_spec(my_spec, settings, shared.kubernetes_secret, shared.rollout_hash)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
from pyroscope_bundle_runtime import contract

from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring import names
from pyroscope_bundle.wiring.kubernetes import SecretKeyRef
from pyroscope_bundle.wiring.settings import ProfilerSettings, build_settings, credentials_hash


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

    def settings(self, **kwargs: Any) -> ProfilerSettings:
        """:func:`build_settings` for this endpoint (service, runtime, environment, version, ...)."""
        return build_settings(endpoint=self.endpoint, **kwargs)

    def outside_settings(self, **kwargs: Any) -> ProfilerSettings:
        """:meth:`settings` for a service outside the server's cluster, such as an ECS task."""
        return build_settings(endpoint=self.outside_endpoint, **kwargs)


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
