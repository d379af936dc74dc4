"""The gateway's pure parts (nginx config, htpasswd, users) and its resources under mocks."""

from __future__ import annotations

import re
from typing import Any

import bcrypt
import pulumi
import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.config.loader import load_config
from pyroscope_bundle.gateway import (
    GatewayCredentials,
    NginxSettings,
    deploy_docker_gateway,
    deploy_kubernetes_gateway,
    gateway_users,
    htpasswd_lines,
    render_nginx_conf,
)
from pyroscope_bundle.gateway.credentials import stable_bcrypt
from pyroscope_bundle.gateway.docker import docker_gateway_container_args
from pyroscope_bundle.gateway.kubernetes import CONFIG_CHECKSUM_ANNOTATION, gateway_deployment_spec
from pyroscope_bundle.render.mocks import placeholder
from pyroscope_bundle.render.runner import run_program

from tests.harness import Deployed


def locations(conf: str) -> dict[str, str]:
    """``location`` match -> its body."""
    return {
        m.group(1).strip(): m.group(2)
        for m in re.finditer(r"location ([^{]+)\{(.*?)\n        \}", conf, re.S)
    }


# --- nginx.conf -------------------------------------------------------------------------------------


def test_multitenant_config_sets_tenant_from_authenticated_user_on_every_authenticated_path() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", multitenancy=True))
    blocks = locations(conf)
    authenticated = {match: body for match, body in blocks.items() if "auth_basic_user_file" in body}
    assert set(authenticated) == {f"= {p}" for p in constants.PYROSCOPE_PUSH_PATHS} | {"/"}
    for body in authenticated.values():
        assert f"proxy_set_header {constants.TENANT_HEADER} $remote_user;" in body
        assert 'proxy_set_header Authorization "";' in body
        assert "auth_basic off" not in body


def test_single_tenant_config_strips_any_client_tenant_header() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", multitenancy=False))
    assert "$remote_user;" not in conf.replace("$remote_user [", "")
    for body in locations(conf).values():
        assert f'proxy_set_header {constants.TENANT_HEADER} "";' in body


def test_ready_is_open_for_probes_but_get_only_and_never_carries_a_tenant() -> None:
    ready = locations(render_nginx_conf(NginxSettings(upstream="pyroscope:4040", multitenancy=True)))[
        f"= {constants.PYROSCOPE_READY_PATH}"
    ]
    assert "auth_basic off;" in ready
    assert "limit_except GET { deny all; }" in ready
    assert f'proxy_set_header {constants.TENANT_HEADER} "";' in ready


def test_config_runs_unprivileged_with_every_write_under_tmp() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", tmp_dir="/tmp"))
    assert f"listen {constants.GATEWAY_PORT};" in conf
    assert "pid /tmp/nginx.pid;" in conf
    temp_paths = re.findall(r"^\s*(\w+_temp_path) (\S+);", conf, re.M)
    assert {name for name, _ in temp_paths} == {
        "client_body_temp_path",
        "proxy_temp_path",
        "fastcgi_temp_path",
        "uwsgi_temp_path",
        "scgi_temp_path",
    }
    assert all(path.startswith("/tmp/") for _, path in temp_paths)
    assert not re.search(r"^\s*user\s", conf, re.M)  # no root-only directive
    assert "client_max_body_size 16m;" in conf


def test_resolver_variant_re_resolves_the_upstream_per_request() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", resolver="127.0.0.11"))
    assert "resolver 127.0.0.11 valid=10s ipv6=off;" in conf
    assert "upstream pyroscope" not in conf
    assert "set $pyroscope_upstream http://pyroscope:4040;" in conf
    assert set(re.findall(r"proxy_pass (\S+);", conf)) == {"$pyroscope_upstream"}


@pytest.mark.parametrize("resolver", [None, "127.0.0.11"])
def test_pushes_can_go_to_a_separate_distributor(resolver: str | None) -> None:
    """Microservices: pushes to the distributor, queries and /ready to the query-frontend."""
    settings = NginxSettings(
        upstream="pyroscope-query-frontend:4040",
        push_upstream="pyroscope-distributor:4040",
        resolver=resolver,
    )
    conf = render_nginx_conf(settings)
    blocks = dict(re.findall(r"location (= \S+|/) \{(.*?)\n\s*\}", conf, flags=re.S))
    push_target = "$pyroscope_push_upstream" if resolver else "http://pyroscope_push"
    query_target = "$pyroscope_upstream" if resolver else "http://pyroscope"
    for path in constants.PYROSCOPE_PUSH_PATHS:
        assert f"proxy_pass {push_target};" in blocks[f"= {path}"]
    assert f"proxy_pass {query_target};" in blocks["/"]
    assert f"proxy_pass {query_target};" in blocks[f"= {constants.PYROSCOPE_READY_PATH}"]
    assert "pyroscope-distributor:4040" in conf and "pyroscope-query-frontend:4040" in conf


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("upstream", "pyroscope:4040; }"),
        ("upstream", "pyroscope"),
        ("htpasswd_path", "/etc/x htpasswd"),
        ("listen", "0.0.0.0:80 ssl"),
        ("max_body_size", "16m;"),
    ],
)
def test_values_that_would_break_out_of_a_directive_are_refused(field: str, value: str) -> None:
    settings: dict[str, Any] = {"upstream": "pyroscope:4040", field: value}
    with pytest.raises(ValueError, match=f"gateway {field}"):
        render_nginx_conf(NginxSettings(**settings))


# --- users and htpasswd -----------------------------------------------------------------------------


def test_users_are_the_tenants_with_multitenancy_and_one_fixed_user_without() -> None:
    multi = load_config({"server": {"multitenancy": True, "tenants": ["team-a", "team-b"]}}, "staging")
    assert gateway_users(multi) == ["team-a", "team-b"]
    assert gateway_users(load_config({}, "staging")) == [constants.GATEWAY_SINGLE_USER]


def test_htpasswd_is_sorted_and_refuses_plaintext_or_bad_user_names() -> None:
    assert htpasswd_lines({"b": "$2a$10$x", "a": "$2a$10$y"}) == "a:$2a$10$y\nb:$2a$10$x\n"
    with pytest.raises(ValueError, match="bcrypt hash"):
        htpasswd_lines({"a": "plaintext-password"})
    with pytest.raises(ValueError, match="no ':'"):
        htpasswd_lines({"a:b": "$2a$10$x"})


def test_given_password_hash_is_stable_verifiable_and_changes_on_rotation() -> None:
    first = stable_bcrypt("team-a", "correct horse")
    assert first == stable_bcrypt("team-a", "correct horse")  # no churn on re-runs
    assert first.startswith("$2a$10$")
    assert bcrypt.checkpw(b"correct horse", first.encode())
    assert not bcrypt.checkpw(b"wrong", first.encode())
    assert stable_bcrypt("team-a", "battery staple") != first
    assert stable_bcrypt("team-b", "correct horse") != first


# --- pure resource specs ----------------------------------------------------------------------------


def test_kubernetes_pod_is_locked_down_like_pyroscope() -> None:
    config = load_config({"server": {"backend": "kubernetes"}}, "staging")
    spec = gateway_deployment_spec(
        config, "pyroscope-gateway", config_map="cm", secret="secret", nginx_conf="conf"
    )
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == constants.GATEWAY_KUBERNETES_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[constants.GATEWAY_TMP_DIR] == "tmp"
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert container["readinessProbe"]["httpGet"]["path"] == constants.PYROSCOPE_READY_PATH
    assert "tcpSocket" in container["livenessProbe"]  # a Pyroscope outage must not restart nginx
    assert container["image"] == f"{constants.GATEWAY_IMAGE}:{constants.GATEWAY_DEFAULT_VERSION}"
    assert container["resources"]["limits"]["memory"]


def test_config_change_rolls_the_pods_and_nothing_else_does() -> None:
    config = load_config({"server": {"backend": "kubernetes"}}, "staging")

    def checksum(conf: str) -> str:
        spec = gateway_deployment_spec(config, "g", config_map="cm", secret="s", nginx_conf=conf)
        return str(spec["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION])

    assert checksum("a") == checksum("a")
    assert checksum("a") != checksum("b")


def test_docker_gateway_is_published_where_pyroscope_would_have_been() -> None:
    config = load_config({"server": {"docker": {"publishAddress": "127.0.0.1", "hostPort": 4141}}}, "local")
    args = docker_gateway_container_args(config)
    assert args["ports"] == [{"internal": constants.GATEWAY_PORT, "external": 4141, "ip": "127.0.0.1"}]
    assert args["user"] == f"{constants.GATEWAY_UID}:{constants.GATEWAY_UID}"
    assert args["capabilities"] == {"drops": ["ALL"]}


# --- under mocks ------------------------------------------------------------------------------------


def _deploy(backend: str, raw: dict[str, Any]) -> Deployed:
    def program() -> None:
        config = load_config({"server": {"backend": backend, **raw}}, "staging")
        credentials = GatewayCredentials("pyroscope-gateway-credentials", gateway_users(config))
        if backend == "kubernetes":
            gateway = deploy_kubernetes_gateway(config, "pyroscope", "pyroscope:4040", credentials)
        else:
            gateway = deploy_docker_gateway(config, "pyroscope:4040", "pyroscope", credentials)
        for user, endpoint in gateway.endpoints().items():
            pulumi.export(f"url-{user}", endpoint.url)
            pulumi.export(f"password-{user}", endpoint.basic_auth_password)
            pulumi.export(f"tenant-{user}", endpoint.tenant_id)
        pulumi.export("podLabels", gateway.pod_labels)

    return Deployed(run_program(program, stack="staging", config={}, secret_keys=[]))


def test_one_random_password_per_tenant_reaches_the_endpoints_as_a_secret() -> None:
    deployed = _deploy("kubernetes", {"multitenancy": True, "tenants": ["team-a", "team-b"]})
    passwords = deployed.of_type("random:index/randomPassword:RandomPassword")
    assert sorted(p.name for p in passwords) == [
        "pyroscope-gateway-credentials-team-a",
        "pyroscope-gateway-credentials-team-b",
    ]
    assert all(p.inputs["special"] is False and p.inputs["length"] == 32 for p in passwords)
    outputs, secret = deployed.run.outputs, deployed.run.secret_outputs
    assert outputs["password-team-a"] == placeholder("password", "pyroscope-gateway-credentials-team-a")
    assert {"password-team-a", "password-team-b"} <= secret
    assert outputs["tenant-team-b"] == "team-b"
    assert outputs["url-team-a"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"


def test_kubernetes_htpasswd_lives_only_in_a_secret_and_the_configmap_holds_no_credentials() -> None:
    deployed = _deploy("kubernetes", {"multitenancy": True, "tenants": ["team-a"]})
    secret = deployed.one("kubernetes:core/v1:Secret")
    assert secret.inputs["metadata"]["name"] == "pyroscope-gateway-htpasswd"
    assert secret.is_secret("stringData")
    config_map = deployed.one("kubernetes:core/v1:ConfigMap")
    conf = config_map.inputs["data"]["nginx.conf"]
    assert "$2a$" not in conf and "mock-bcrypt" not in conf and "mock-password" not in conf
    assert "proxy_set_header X-Scope-OrgID $remote_user;" in conf
    deployment = deployed.one("kubernetes:apps/v1:Deployment")
    assert deployment.inputs["metadata"]["name"] == "pyroscope-gateway"
    pod_labels = deployed.run.outputs["podLabels"]
    assert deployment.inputs["spec"]["template"]["metadata"]["labels"].items() >= pod_labels.items()
    service = deployed.one("kubernetes:core/v1:Service")
    assert service.inputs["spec"]["selector"] == pod_labels
    assert {r.inputs["metadata"]["namespace"] for r in (secret, config_map, deployment, service)} == {
        "pyroscope"
    }


def test_docker_htpasswd_upload_is_secret_and_the_config_upload_is_plain() -> None:
    deployed = _deploy("docker", {})
    container = deployed.one("docker:index/container:Container")
    files = [upload["file"] for upload in container.raw_inputs["uploads"]]
    conf = files.index(f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf")
    htpasswd = files.index(f"{constants.GATEWAY_HTPASSWD_DIR}/htpasswd")
    assert container.is_secret("uploads", htpasswd, "content")
    assert not container.is_secret("uploads", conf, "content")
    expected_hash = "$2a$10$" + placeholder("bcrypt", "pyroscope-gateway-credentials-pyroscope")
    secret_content = container.raw_inputs["uploads"][htpasswd]["content"]["value"]
    assert secret_content == f"pyroscope:{expected_hash}\n"
    assert "resolver 127.0.0.11" in container.inputs["uploads"][conf]["content"]
    plain = str(container.inputs)
    assert "mock-bcrypt" not in plain and "mock-password" not in plain
    assert container.inputs["ports"] == [
        {"external": 4040, "internal": constants.GATEWAY_PORT, "ip": "127.0.0.1"}
    ]
    assert container.inputs["networksAdvanced"] == [{"aliases": ["pyroscope-gateway"], "name": "pyroscope"}]
    assert deployed.run.outputs["url-pyroscope"] == f"http://pyroscope-gateway:{constants.GATEWAY_PORT}"
    assert deployed.run.outputs["tenant-pyroscope"] is None
    assert "password-pyroscope" in deployed.run.secret_outputs


def test_credentials_without_users_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one user"):
        GatewayCredentials("c", [])
