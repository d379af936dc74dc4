"""The Ingress in front of the gateway: configurable annotations (cert-manager, timeouts) and,
for the ingress-nginx class, a body limit and read timeout that match the gateway's own nginx."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.config import load_config
from pyroscope_bundle.config.errors import ConfigError
from pyroscope_bundle.config.types import nginx_size_bytes
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf
from pyroscope_bundle.server import k8s_manifests as manifests

from tests.harness import deploy_with
from tests.test_kubernetes_manifests import KUBERNETES_VERSION

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
BODY_SIZE = constants.INGRESS_NGINX_BODY_SIZE_ANNOTATION
READ_TIMEOUT = constants.INGRESS_NGINX_READ_TIMEOUT_ANNOTATION
ISSUER = "cert-manager.io/cluster-issuer"
GATEWAY_CONF = render_nginx_conf(NginxSettings(upstream="pyroscope:4040"))


def server(ingress: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "backend": "kubernetes",
        "kubernetes": {
            "ingress": {"enabled": True, "host": "profiles.example.com", **ingress},
            "allowFrom": [{"namespace": "ingress-nginx"}],
        },
        **extra,
    }


def refused(raw_server: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config({"server": raw_server}, "staging")
    (problem,) = caught.value.problems
    return str(problem)


# --- the builder --------------------------------------------------------------------------------


def test_ingress_nginx_gets_the_gateways_own_body_limit_and_query_timeout() -> None:
    annotations = manifests.ingress_annotations("nginx", {})
    # The same limits the gateway's nginx.conf enforces, read back from the config it renders.
    (body_limit,) = set(re.findall(r"client_max_body_size (\S+);", GATEWAY_CONF))
    assert nginx_size_bytes(annotations[BODY_SIZE]) == nginx_size_bytes(body_limit) == 16 * 1024 * 1024
    query_timeouts = set(re.findall(r"proxy_read_timeout (\d+)s;", GATEWAY_CONF))
    assert f"{annotations[READ_TIMEOUT]}" == str(max(int(t) for t in query_timeouts))


def test_configured_annotations_are_added_and_win_over_the_defaults() -> None:
    annotations = manifests.ingress_annotations("nginx", {ISSUER: "letsencrypt", READ_TIMEOUT: "600"})
    assert annotations == {ISSUER: "letsencrypt", READ_TIMEOUT: "600", BODY_SIZE: "16m"}


@pytest.mark.parametrize("class_name", [None, "traefik", "alb"])
def test_other_ingress_classes_get_only_the_configured_annotations(class_name: str | None) -> None:
    assert manifests.ingress_annotations(class_name, {ISSUER: "letsencrypt"}) == {ISSUER: "letsencrypt"}


def test_the_manifest_carries_them_and_passes_kubernetes_validate_strict() -> None:
    config = load_config(
        {"server": server({"className": "nginx", "tlsSecretName": "tls", "annotations": {ISSUER: "le"}})},
        "staging",
    )
    ingress = manifests.ingress_manifest(config.server.kubernetes, "pyroscope-gateway")
    assert ingress is not None
    assert ingress["metadata"]["annotations"] == {
        ISSUER: "le",
        BODY_SIZE: constants.GATEWAY_MAX_BODY_SIZE,
        READ_TIMEOUT: str(constants.GATEWAY_QUERY_TIMEOUT_SECONDS),
    }
    assert kubernetes_validate.validate(ingress, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


# --- through the program ------------------------------------------------------------------------


def test_a_stack_registers_the_ingress_to_the_gateway_with_its_annotations() -> None:
    annotations = {
        ISSUER: "letsencrypt-prod",
        READ_TIMEOUT: "900",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
    }
    deployed = deploy_with(
        {"server": server({"className": "nginx", "tlsSecretName": "tls", "annotations": annotations})}
    )
    ingress = deployed.one(INGRESS).inputs
    assert ingress["metadata"]["annotations"] == {**annotations, BODY_SIZE: constants.GATEWAY_MAX_BODY_SIZE}
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "pyroscope-gateway"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    document = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **ingress}
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_a_body_limit_equal_to_the_gateways_in_other_units_is_accepted() -> None:
    for same in ("16m", "16M", "16384k", str(16 * 1024 * 1024)):
        config = load_config(
            {"server": server({"className": "nginx", "annotations": {BODY_SIZE: same}})}, "s"
        )
        assert config.server.kubernetes.ingress.annotations[BODY_SIZE] == same


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["1m", "100m", "0", "16mb", "big"])
def test_a_body_limit_other_than_the_gateways_is_refused_naming_the_key(size: str) -> None:
    message = refused(server({"className": "nginx", "annotations": {BODY_SIZE: size}}))
    assert message.startswith(f'pyroscope:server.kubernetes.ingress.annotations.{BODY_SIZE}: "{size}" ')
    assert "use '16m' or leave it out" in message


def test_without_the_gateway_the_body_limit_is_the_users_to_choose() -> None:
    raw = server(
        {"className": "nginx", "annotations": {BODY_SIZE: "64m"}},
        gateway={"enabled": False, "allowUnauthenticated": True},
    )
    assert load_config({"server": raw}, "s").server.kubernetes.ingress.annotations[BODY_SIZE] == "64m"


def test_annotation_values_must_be_strings_and_keys_kubernetes_keys() -> None:
    number = refused(server({"annotations": {READ_TIMEOUT: 600}}))
    assert number.startswith(f"pyroscope:server.kubernetes.ingress.annotations.{READ_TIMEOUT}: 600")
    assert "quote it" in number
    flag = refused(server({"annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": True}}))
    assert "ssl-redirect" in flag and "quote it" in flag
    key = refused(server({"annotations": {"cert manager/issuer": "x"}}))
    assert "is not a Kubernetes annotation key" in key and "cert manager/issuer" in key
