"""pyroscope_bundle.testing: mocks for everything the bundle registers, and a runner that coexists
with users' own ``pulumi.runtime.set_mocks`` tests in one pytest session."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pulumi
import pytest
from pyroscope_bundle import testing
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.wiring.consumer import shared_profiling

from tests.harness import PROJECT_DIR

SESSION = PROJECT_DIR / "tests" / "kit_session" / "mixed_session.py"


def _pytest(path: Any) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(PROJECT_DIR / p) for p in ("components", "runtime/src")),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q", str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_kit_runs_and_users_set_mocks_tests_pass_together_in_one_session():
    result = _pytest(SESSION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_the_session_check_fails_when_a_run_leaks_into_the_users_tests(tmp_path):
    """The check above can fail: a runner that resets the options like the old one breaks test 3."""
    leaky = tmp_path / "leaky_session.py"
    leaky.write_text(
        SESSION.read_text().replace(
            'result = testing.run(_kit_program, stack="kit")',
            'result = testing.run(_kit_program, stack="kit")\n    pulumi.runtime.reset_options()',
        )
    )
    result = _pytest(leaky)
    assert result.returncode == 1, result.stdout
    assert "test_3_user_style_again" in result.stdout and "3 passed" in result.stdout


def test_plain_mocks_that_echo_inputs_crash_the_gateway_credentials_the_kit_does_not():
    """The issue's crash: mocks that echo inputs give RandomPassword no bcryptHash; the kit does."""

    class EchoMocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args):
            return {}, None

    def program() -> None:
        credentials = GatewayCredentials("gateway", ["push", "grafana"])
        pulumi.export("htpasswd", credentials.htpasswd["push"])

    result = testing.run(program)
    lines = result.outputs["htpasswd"].splitlines()
    assert sorted(line.split(":", 1)[0] for line in lines) == ["grafana", "push"]
    assert all(line.split(":", 1)[1].startswith("{SSHA}") for line in lines)
    assert "htpasswd" in result.secret_outputs
    passwords = result.of_type("random:index/randomPassword:RandomPassword")
    assert [r.name for r in passwords] == [
        "pyroscope-stack-key",
        "gateway-push",
        "gateway-grafana",
        "gateway-push.query",
        "gateway-grafana.query",
    ]

    # No result in the echoed state: the htpasswd builder gets None.
    with pytest.raises(AttributeError, match="encode"):
        testing.run(program, mocks=EchoMocks())  # type: ignore[arg-type]


def test_stack_references_hand_over_the_profiling_outputs_and_secrets():
    outputs = testing.profiling_stack_outputs(
        basic_auth_password="s3cret-token", external_server_address=None
    )

    def program() -> None:
        shared = shared_profiling("acme/pyroscope/production")
        pulumi.export("url", shared.endpoint.url)
        pulumi.export("password", shared.endpoint.basic_auth_password)
        pulumi.export("jsonKey", shared.secret_json_key)

    result = testing.run(program, mocks=testing.Mocks({"acme/pyroscope/production": outputs}))
    assert result.references == ("acme/pyroscope/production",)
    assert result.outputs == {
        "url": "https://profiles.example.com",
        "password": "s3cret-token",
        "jsonKey": "password",
    }
    assert result.secret_outputs == {"password"}


def test_an_unmocked_stack_reference_names_the_stacks_that_are_mocked():
    def program() -> None:
        pulumi.export("url", shared_profiling("acme/other/prod").endpoint.url)

    mocks = testing.Mocks({"acme/pyroscope/production": testing.profiling_stack_outputs()})
    with pytest.raises(
        Exception, match=r"'acme/other/prod' is not mocked.*mocked: acme/pyroscope/production"
    ):
        testing.run(program, mocks=mocks)


def test_provider_calls_and_config_reach_the_program():
    def program() -> None:
        import pulumi_aws as aws

        config = pulumi.Config("shop")
        pulumi.export("account", aws.get_caller_identity().account_id)
        pulumi.export("partition", aws.get_partition().partition)
        pulumi.export("region", aws.get_region().region)
        pulumi.export("namespace", config.require("namespace"))
        pulumi.export("token", config.require_secret("token"))
        pulumi.export("replicas", config.require_object("sizes")["replicas"])

    result = testing.run(
        program,
        config={"shop:namespace": "shop", "shop:sizes": {"replicas": 3}},
        secrets={"shop:token": "t0ken"},
    )
    assert result.outputs == {
        "account": testing.FAKE_ACCOUNT_ID,
        "partition": "aws",
        "region": testing.FAKE_REGION,
        "namespace": "shop",
        "token": "t0ken",
        "replicas": 3,
    }
    assert result.secret_outputs == {"token"}


def test_result_lookup_errors_list_what_was_registered():
    def program() -> None:
        import pulumi_kubernetes as k8s

        k8s.core.v1.Namespace("shop", metadata={"name": "shop"})

    result = testing.run(program)
    assert result.one("kubernetes:core/v1:Namespace", "shop").inputs["metadata"] == {"name": "shop"}
    with pytest.raises(LookupError, match="expected one kubernetes:core/v1:Secret, found 0; registered: "
                                          "kubernetes:core/v1:Namespace shop"):  # fmt: skip
        result.one("kubernetes:core/v1:Secret")


def test_reveal_and_is_secret():
    from pulumi.runtime import rpc

    wrapped = {"stringData": rpc.wrap_rpc_secret({"password": "x"})}
    assert testing.is_secret(wrapped["stringData"])
    assert testing.reveal(wrapped) == {"stringData": {"password": "x"}}
    assert not testing.is_secret({"password": "x"})
