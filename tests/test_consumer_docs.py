"""The consumer-facing docs hold: the README snippet runs verbatim under the testing kit, and the
example stack's own tests pass on their own (as the team that copied it runs them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from pyroscope_bundle import testing

from tests.harness import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "consumer"
TOKEN = "readme-token-0123456789"


def readme_consumer_snippet() -> str:
    """The Python block of the README's "Using the components in your own stacks" section."""
    text = (PROJECT_DIR / "README.md").read_text()
    section = text.split("## Using the components in your own stacks", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return snippet


# The user's own spec, before profiling: the one name the snippet leaves to the reader.
MY_DEPLOYMENT_SPEC: dict[str, Any] = {
    "selector": {"matchLabels": {"app": "orders"}},
    "template": {
        "metadata": {"labels": {"app": "orders"}},
        "spec": {
            "containers": [
                {"name": "orders", "image": "ghcr.io/acme/orders:3.1.0"},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.36.2"},
            ]
        },
    },
}


def test_the_readme_snippet_registers_the_secret_its_pods_reference():
    snippet = readme_consumer_snippet()
    assert "my_deployment_spec" in snippet

    def program() -> None:
        exec(snippet, {"my_deployment_spec": MY_DEPLOYMENT_SPEC})  # noqa: S102 - the README, verbatim

    outputs = testing.profiling_stack_outputs(basic_auth_password=TOKEN)
    result = testing.run(program, mocks=testing.Mocks({"acme/pyroscope/production": outputs}))
    deployment = result.one("kubernetes:apps/v1:Deployment", "orders")
    secret = result.one("kubernetes:core/v1:Secret")
    orders, envoy = deployment.inputs["spec"]["template"]["spec"]["containers"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in orders["env"] if "valueFrom" in e]
    assert refs == [{"name": "pyroscope-profiler-credentials", "key": "password"}]
    # The Secret exists where the pods look for it, with that key, and stays a secret.
    assert secret.inputs["metadata"]["name"] == refs[0]["name"]
    assert secret.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"] == "orders"
    assert testing.is_secret(secret.inputs["stringData"])
    assert testing.reveal(secret.inputs["stringData"]) == {refs[0]["key"]: TOKEN}
    assert secret.urn in deployment.dependency_urns  # depends_on=[credentials] reaches the Secret
    # The sidecar is left alone: one default (the container named like the service).
    assert "env" not in envoy


def test_the_example_stack_passes_its_own_tests_on_its_own():
    source = os.pathsep.join(str(PROJECT_DIR / part) for part in ("components", "runtime/src"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=EXAMPLE, env={**os.environ, "PYTHONPATH": source}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b(\d+) passed\b", result.stdout), result.stdout
    assert "failed" not in result.stdout and "skipped" not in result.stdout


def wiring_own_program_snippet() -> str:
    """docs/wiring.md: the Kubernetes wiring "In your own Pulumi program"."""
    text = (PROJECT_DIR / "docs" / "wiring.md").read_text()
    section = text.split("In your own Pulumi program (`pyroscope_bundle.wiring.kubernetes`", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_own_program_wiring_snippet_wires_its_deployment_and_the_opted_in_ones():
    snippet = wiring_own_program_snippet()
    gateway = "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"

    def program() -> None:
        import pulumi_kubernetes as kubernetes

        exec(snippet, {"my_deployment_spec": MY_DEPLOYMENT_SPEC})  # noqa: S102 - the doc, verbatim
        # A workload registered after the transform, opted in by label and annotation.
        kubernetes.apps.v1.Deployment(
            "billing",
            metadata={
                "name": "billing",
                "namespace": "billing",
                "labels": {"pyroscope-bundle/profile": "true"},
                "annotations": {"pyroscope-bundle/runtime": "python"},
            },
            spec={
                "selector": {"matchLabels": {"app": "billing"}},
                "template": {
                    "metadata": {"labels": {"app": "billing"}},
                    "spec": {"containers": [{"name": "billing", "image": "ghcr.io/acme/billing:1.0.0"}]},
                },
            },
        )

    result = testing.run(program, secrets={"test:profilerPassword": TOKEN})
    orders = result.one("kubernetes:apps/v1:Deployment", "orders")
    secret = result.one("kubernetes:core/v1:Secret", "orders-profiler")
    container, envoy = orders.inputs["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["PYROSCOPE_SERVER_ADDRESS"] == gateway
    assert env["PYROSCOPE_BASIC_AUTH_USER"] == "pyroscope"
    ref = env["PYROSCOPE_BASIC_AUTH_PASSWORD"]["secretKeyRef"]
    metadata = secret.inputs["metadata"]
    assert (metadata["name"], metadata["namespace"]) == (ref["name"], "orders")
    assert testing.is_secret(secret.inputs["stringData"])
    assert testing.reveal(secret.inputs["stringData"]) == {ref["key"]: TOKEN}
    assert secret.urn in orders.dependency_urns
    annotations = orders.inputs["spec"]["template"]["metadata"]["annotations"]
    assert annotations["pyroscope-bundle/credentials-hash"] == testing.rollout_hash(TOKEN)
    assert "env" not in envoy
    billing = result.one("kubernetes:apps/v1:Deployment", "billing")
    (wired,) = billing.inputs["spec"]["template"]["spec"]["containers"]
    billing_env = {e["name"]: e.get("value") for e in wired["env"]}
    assert billing_env["PYROSCOPE_SERVER_ADDRESS"] == gateway
    assert billing_env["PYROSCOPE_APPLICATION_NAME"] == "billing"
