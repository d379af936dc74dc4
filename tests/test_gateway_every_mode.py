"""No credential the bundle issues reaches an admin, debug or cross-tenant route, in any mode.

For each server mode (Docker, Kubernetes monolithic, Kubernetes microservices) the stack runs
under mocks, and the nginx.conf it really renders (the Docker upload / the gateway ConfigMap) runs
in REAL nginx on loopback with the htpasswd files exactly as the stack ships them. Only what ties
the config to its host is rewritten: listen ports, upstream addresses (a recording receiver
stands in for Pyroscope and every component), file paths, and the HTTP/2 listen syntax of
Debian's older nginx. Then every user name of every htpasswd file is tried with every password
the stack generates (a superset of the pairs it hands out) on every forbidden path and every
raw path that normalises to one: none reaches the receiver.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pulumi.runtime import rpc
from pyroscope_bundle import constants, stack_key
from pyroscope_bundle.render.mocks import placeholder

from tests.gateway_stack import Gateway, Receiver, free_port, running_gateway
from tests.harness import Deployed, deploy_with
from tests.test_credential_loop import k8s_secret, string_data
from tests.test_gateway_roles import FORBIDDEN, NORMALISING, call
from tests.test_kubernetes_server import stack_config

pytestmark = pytest.mark.slow

AWS = {"aws:region": "eu-west-1"}
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
CONTAINER = "docker:index/container:Container"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


@dataclass(frozen=True)
class Shipped:
    """What a stack ships to its gateway, and every password it generates."""

    conf: str
    htpasswd: dict[str, str]
    passwords: list[str]

    @property
    def users(self) -> list[str]:
        names = {line.split(":", 1)[0] for text in self.htpasswd.values() for line in text.splitlines()}
        return sorted(names | {"admin"})


def _passwords(deployed: Deployed) -> list[str]:
    return sorted(
        placeholder("password", r.name)
        for r in deployed.of_type(RANDOM_PASSWORD)
        if r.name != stack_key.RESOURCE_NAME
    )


def docker_stack() -> Shipped:
    deployed = deploy_with(
        {"server": {"backend": "docker", "gateway": {"enabled": True}}, "grafana": {"mode": "docker"}}
    )
    container = deployed.one(CONTAINER, "pyroscope-gateway")
    files = {u["file"]: u["content"] for u in container.raw_inputs["uploads"]}
    plain = {path: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for path, v in files.items()}
    htpasswd = {
        role: plain[f"{constants.GATEWAY_HTPASSWD_DIR}/{role}"]
        for role in ("push", "query", "admin")
        if f"{constants.GATEWAY_HTPASSWD_DIR}/{role}" in plain
    }
    return Shipped(plain[f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf"], htpasswd, _passwords(deployed))


def _kubernetes(deployed: Deployed) -> Shipped:
    [config_map] = [c for c in deployed.of_type(CONFIG_MAP) if "nginx.conf" in (c.inputs.get("data") or {})]
    htpasswd = string_data(k8s_secret(deployed, "pyroscope", "pyroscope-gateway-htpasswd"))
    return Shipped(config_map.inputs["data"]["nginx.conf"], dict(htpasswd), _passwords(deployed))


def monolithic_stack() -> Shipped:
    return _kubernetes(deploy_with(stack_config("staging"), stack="staging", extra=AWS))


def microservices_stack() -> Shipped:
    config = copy.deepcopy(stack_config("staging"))
    config["server"]["kubernetes"] = {
        **config["server"]["kubernetes"],
        "mode": "microservices",
        "helm": {"objectStorage": {"region": "eu-west-1"}},
    }
    return _kubernetes(deploy_with(config, stack="staging", extra=AWS))


MODES: dict[str, Callable[[], Shipped]] = {
    "docker": docker_stack,
    "kubernetes-monolithic": monolithic_stack,
    "kubernetes-microservices": microservices_stack,
}


def on_loopback(stack_conf: str, upstream: str) -> Callable[[str], str]:
    """An ``edit`` for running_gateway: the stack's config with the harness's port and paths."""

    def edit(harness_conf: str) -> str:
        port = re.search(r"listen (127\.0\.0\.1:\d+);", harness_conf).group(1)  # type: ignore[union-attr]
        htpasswd_dir = re.search(r"auth_basic_user_file (\S+)/push;", harness_conf).group(1)  # type: ignore[union-attr]
        tmp = re.search(r"pid (\S+)/nginx\.pid;", harness_conf).group(1)  # type: ignore[union-attr]
        conf = re.sub(rf"(?<=[ \t]){re.escape(constants.GATEWAY_TMP_DIR)}/", f"{tmp}/", stack_conf)
        conf = conf.replace(f"{constants.GATEWAY_HTPASSWD_DIR}/", f"{htpasswd_dir}/")
        conf = conf.replace("access_log /dev/stdout", f"access_log {tmp}/access.log")
        conf = conf.replace(f"listen {constants.GATEWAY_PORT};", f"listen {port};", 1)
        # nginx 1.25.1+ syntax (the image) -> Debian's 1.22 syntax, on a free port.
        conf = re.sub(
            rf"listen {constants.GATEWAY_GRPC_PORT};\n(\s*)http2 on;",
            f"listen 127.0.0.1:{free_port()} http2;",
            conf,
        )
        # Every upstream (a Service, a Docker alias, each microservice) -> the receiver.
        conf = re.sub(r"(\n\s*server) [A-Za-z0-9.-]+:\d+;", rf"\1 {upstream};", conf)
        conf = re.sub(r"(\n\s*set \$\w+) [A-Za-z0-9.-]+:\d+;", rf"\1 {upstream};", conf)
        assert "svc.cluster.local" not in conf and f"listen {constants.GATEWAY_PORT};" not in conf
        return conf

    return edit


@pytest.fixture(scope="module", params=list(MODES))
def mode(request: pytest.FixtureRequest) -> tuple[str, Shipped]:
    return request.param, MODES[request.param]()


@pytest.fixture(scope="module")
def stack_gateway(nginx: str, receiver: Receiver, mode: tuple[str, Shipped]) -> Iterator[Gateway]:
    _, shipped = mode
    with running_gateway(
        nginx,
        receiver.address,
        {},
        multitenancy=False,
        htpasswd=shipped.htpasswd,
        edit=on_loopback(shipped.conf, receiver.address),
    ) as gateway:
        yield gateway


def test_the_stacks_own_config_runs_and_its_push_credential_is_real(
    stack_gateway: Gateway, receiver: Receiver, mode: tuple[str, Shipped]
) -> None:
    name, shipped = mode
    assert "error_page 401 = @auth_failed;" in stack_gateway.config
    assert "admin" not in shipped.htpasswd, "the operator credential is off by default"
    before = len(receiver.requests)
    accepted = [
        (user, password)
        for user in shipped.users
        for password in shipped.passwords
        if call(stack_gateway, "POST", constants.PYROSCOPE_PUSH_PATH, (user, password)) == 200
    ]
    # Positive control: the stack's push credential(s) pass (so the refusals below are not
    # refusals of anything at all).
    assert accepted, f"{name}: no generated credential pushes"
    assert len(receiver.requests) - before == len(accepted)


def test_no_issued_credential_reaches_a_forbidden_route_in_any_mode(
    stack_gateway: Gateway, receiver: Receiver, mode: tuple[str, Shipped]
) -> None:
    name, shipped = mode
    before = len(receiver.requests)
    reached = []
    for path in [*FORBIDDEN, *NORMALISING]:
        for method in ("GET", "POST"):
            for user in shipped.users:
                for password in shipped.passwords:
                    status = call(stack_gateway, method, path, (user, password))
                    if status not in (400, 403):
                        reached.append((method, path, user, status))
    assert reached == [], name
    assert len(receiver.requests) == before, f"{name}: a forbidden request reached Pyroscope"
