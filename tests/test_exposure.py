"""No unauthenticated exposure without saying so: an Ingress or a non-loopback publish address
without the gateway, and basic-auth credentials over plain http across a network, are refused
with the key to change, unless `server.gateway.allowUnauthenticated` says it is on purpose."""

from __future__ import annotations

from typing import Any

import pytest
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.config.exposure import is_private_target


def problems(raw: dict[str, Any]) -> list[str]:
    try:
        load_config({**raw, "authToken": True}, "test")
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    return []


INGRESS = {
    "backend": "kubernetes",
    "gateway": {"enabled": False},
    "kubernetes": {
        "ingress": {"enabled": True, "host": "profiles.example.com"},
        "allowFrom": [{"namespace": "ingress-nginx"}],
    },
}


def test_an_ingress_without_the_gateway_is_refused() -> None:
    (problem,) = problems({"server": INGRESS})
    assert problem.startswith("pyroscope:server.kubernetes.ingress.enabled:")
    assert "allowUnauthenticated" in problem and "server.gateway.enabled" in problem


def test_a_public_publish_address_without_the_gateway_is_refused() -> None:
    (problem,) = problems({"server": {"backend": "docker", "docker": {"publishAddress": "0.0.0.0"}}})
    assert problem.startswith('pyroscope:server.docker.publishAddress: "0.0.0.0"')


@pytest.mark.parametrize(
    "server",
    [
        {**INGRESS, "gateway": {"enabled": False, "allowUnauthenticated": True}},
        {
            "backend": "docker",
            "docker": {"publishAddress": "0.0.0.0"},
            "gateway": {"allowUnauthenticated": True},
        },
        {"backend": "docker", "docker": {"publishAddress": "0.0.0.0"}, "gateway": {"enabled": True}},
        {"backend": "docker", "docker": {"publishAddress": "127.0.0.1"}},
    ],
)
def test_explicit_or_gated_exposure_is_accepted(server: dict[str, Any]) -> None:
    assert problems({"server": server}) == []


def test_credentials_over_plain_http_across_a_network_are_refused() -> None:
    target = {"kind": "external", "url": "http://profiles.example.com", "basicAuthUser": "svc"}
    (problem,) = problems({"server": {"enabled": False}, "grafana": {"mode": "none"}, "target": target})
    assert problem.startswith('pyroscope:target.url: "http://profiles.example.com"') and "https://" in problem
    https = {**target, "url": "https://profiles.example.com"}
    assert problems({"server": {"enabled": False}, "grafana": {"mode": "none"}, "target": https}) == []


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("pyroscope", True),
        ("gw.pyroscope.svc.cluster.local", True),
        ("profiles.example.com", False),
        ("10.0.0.5", False),
    ],
)
def test_private_targets(host: str, private: bool) -> None:
    assert is_private_target(host) is private
