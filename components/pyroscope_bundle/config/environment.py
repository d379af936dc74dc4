"""Settings the bundle reads from outside ``pyroscope:*``: the AWS provider's region.

The microservices mode creates an S3 bucket; its region is
``pyroscope:server.kubernetes.helm.objectStorage.region``, else the AWS provider's own (stack
config ``aws:region``, then ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` as the provider reads
them). Never a silent us-east-1: with none of them the loader refuses the config before any
resource is registered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields
from pyroscope_bundle.config.types import check_aws_region

AWS_REGION_KEY = "aws:region"
REGION_KEY = key_path("server", "kubernetes", "helm", "objectStorage", "region")


def provider_region() -> str | None:
    """The stack's ``aws:region`` (None outside a Pulumi program or when unset)."""
    import pulumi

    return pulumi.Config("aws").get("region") or None


def resolve_region(
    configured: str | None, aws_region: str | None, env: Mapping[str, str] | None = None
) -> str | None:
    """The bucket's region: the configured one, else the provider's; None when there is none."""
    env = os.environ if env is None else env
    return configured or aws_region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def region_problem() -> Problem:
    return Problem(
        REGION_KEY,
        "is not set and neither is aws:region (nor AWS_REGION / AWS_DEFAULT_REGION): microservices "
        "mode stores profiles in an S3 bucket that needs a region; set one of them, e.g. "
        "`pulumi config set --path server.kubernetes.helm.objectStorage.region eu-west-1` or "
        "`pulumi config set aws:region eu-west-1`",
        has_value=False,
    )


def check_environment(config: BundleFields) -> list[Problem]:
    """What the chosen mode needs from the AWS provider's settings."""
    aws_region = provider_region()
    if aws_region is not None:
        # The AWS provider refuses it only at `pulumi up`, after the render showed a deployment.
        try:
            check_aws_region(aws_region)
        except ValueError as error:
            return [Problem(AWS_REGION_KEY, str(error), aws_region)]
    server = config.server
    if not (server.enabled and server.backend == "kubernetes" and server.kubernetes.mode == "microservices"):
        return []
    if resolve_region(server.kubernetes.helm.object_storage.region, aws_region) is not None:
        return []
    return [region_problem()]
