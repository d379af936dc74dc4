"""A user's test module: plain ``pulumi.runtime.set_mocks`` tests and testing-kit runs, one session.

tests/test_testing_kit.py runs it in a pytest process of its own (one worker, in this order);
its file name keeps the bundle's own suite from collecting it.
"""

from __future__ import annotations

import pulumi
from pyroscope_bundle import testing
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.wiring.consumer import shared_profiling

PROFILING = "acme/pyroscope/production"


class UserMocks(testing.Mocks):
    """The user's own mocks: the kit's, plus a value for their own resource type."""

    def new_resource(self, args):
        if args.typ == "aws:s3/bucket:Bucket":
            return "bucket-id", {**args.inputs, "arn": "arn:aws:s3:::user-bucket", "bucket": "user-bucket"}
        return super().new_resource(args)


pulumi.runtime.set_mocks(
    UserMocks({PROFILING: testing.profiling_stack_outputs(basic_auth_password="user-secret")}),
    project="user",
    stack="user",
    preview=False,
)
# Registered at import, as the Pulumi testing guide does: they live on the session's event loop.
credentials = GatewayCredentials("gateway", ["push"])
shared = shared_profiling(PROFILING)


@pulumi.runtime.test
def test_1_user_style_generated_password_and_hash():
    def check(parts):
        htpasswd, password = parts
        assert htpasswd.startswith("push:{SSHA}"), htpasswd
        assert password.startswith("mock-password-")

    return pulumi.Output.all(credentials.htpasswd["push"], credentials.password("push")).apply(check)


def _kit_program() -> None:
    import pulumi_aws as aws

    aws.s3.Bucket("kit-bucket", bucket="kit-bucket")
    pulumi.export("stack", pulumi.get_stack())


def test_2_kit_run_in_the_same_session():
    result = testing.run(_kit_program, stack="kit")
    assert result.one("aws:s3/bucket:Bucket").inputs["bucket"] == "kit-bucket"
    assert result.outputs == {"stack": "kit"}


@pulumi.runtime.test
def test_3_user_style_again_with_its_own_mocks_and_stack():
    import pulumi_aws as aws

    assert pulumi.get_stack() == "user"
    bucket = aws.s3.Bucket("user-bucket")

    def check(parts):
        arn, url, password = parts
        assert arn == "arn:aws:s3:::user-bucket"  # the user's mocks, not the kit's
        assert url == "https://profiles.example.com"
        assert password == "user-secret"

    return pulumi.Output.all(bucket.arn, shared.endpoint.url, shared.endpoint.basic_auth_password).apply(
        check
    )


def test_4_kit_run_again():
    assert testing.run(_kit_program, stack="kit-2").outputs == {"stack": "kit-2"}
