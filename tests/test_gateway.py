"""The gateway's pure parts (nginx config, htpasswd, users) and its resources under mocks."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import bcrypt
import pulumi
import pytest
from pyroscope_bundle import constants, stack_key
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
from pyroscope_bundle.gateway.common import gateway_settings
from pyroscope_bundle.gateway.credentials import htpasswd_hash, stable_bcrypt
from pyroscope_bundle.gateway.docker import docker_gateway_container_args
from pyroscope_bundle.gateway.kubernetes import CONFIG_CHECKSUM_ANNOTATION, gateway_deployment_spec
from pyroscope_bundle.gateway.nginx import FAILED_AUTH_LOCATION
from pyroscope_bundle.gateway.routes import COMPONENTS, ROUTES
from pyroscope_bundle.render.mocks import placeholder
from pyroscope_bundle.render.runner import run_program

from tests.harness import Deployed


def locations(conf: str) -> dict[str, str]:
    """``location`` match -> its body, followed by the body of the named location its
    ``try_files`` hands authenticated requests to (what applies to a valid request)."""
    blocks = {
        m.group(1).strip(): m.group(2)
        for m in re.finditer(r"location ([^{]+)\{(.*?)\n        \}", conf, re.S)
    }
    for match, body in blocks.items():
        named = re.search(r"try_files \S+ (@\w+);", body)
        if named:
            blocks[match] = body + blocks[named.group(1)]
    return blocks


# --- nginx.conf -------------------------------------------------------------------------------------


def test_multitenant_config_sets_tenant_from_authenticated_user_on_every_authenticated_path() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", multitenancy=True))
    blocks = locations(conf)
    authenticated = {match: body for match, body in blocks.items() if "auth_basic_user_file" in body}
    expected = {f"^~ {r.path}" if r.prefix else f"= {r.path}" for r in ROUTES}
    assert set(authenticated) == expected
    for match, body in authenticated.items():
        assert f"{constants.TENANT_HEADER} $remote_user;" in body, match
        assert '_set_header Authorization "";' in body
        assert "auth_basic off" not in body
    # Not allow-listed: refused for everyone, no credential checked.
    assert blocks["/"].split() == ["limit_conn", "gateway_unauthenticated", "256;", "deny", "all;"]


def test_each_role_checks_its_own_htpasswd_file() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", admin=True))
    # The HTTP server block (the gRPC one has its own catch-all).
    blocks = locations(conf)
    for route in ROUTES:
        match = f"^~ {route.path}" if route.prefix else f"= {route.path}"
        assert f"auth_basic_user_file {constants.GATEWAY_HTPASSWD_DIR}/{route.role};" in blocks[match]
        assert f"limit_except {' '.join(route.methods)} {{ deny all; }}" in blocks[match]
    # The HTTP server block's catch-all (the gRPC one has its own "return 403").
    catch_all = locations(conf.split("    server {")[1])["/"]
    assert f"auth_basic_user_file {constants.GATEWAY_HTPASSWD_DIR}/admin;" in catch_all
    # The operator chooses the tenant; nobody else does.
    assert f"proxy_set_header {constants.TENANT_HEADER} $http_x_scope_orgid;" in catch_all


def test_single_tenant_config_strips_any_client_tenant_header() -> None:
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", multitenancy=False))
    assert "$remote_user;" not in conf.replace("$remote_user [", "")
    forwarding = {match: body for match, body in locations(conf).items() if "_pass " in body}
    assert len(forwarding) > len(ROUTES)  # every route and /ready
    for body in forwarding.values():
        assert f'_set_header {constants.TENANT_HEADER} "";' in body
    # The failed-auth location answers 401 itself: it proxies nothing anywhere.
    assert "_pass" not in locations(conf)[FAILED_AUTH_LOCATION]


def test_http2_syntax_follows_the_nginx_version() -> None:
    old = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", nginx_version="1.22.1"))
    new = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", nginx_version="1.30.5"))
    assert f"listen {constants.GATEWAY_GRPC_PORT} http2;" in old and "http2 on;" not in old
    assert f"listen {constants.GATEWAY_GRPC_PORT};" in new and "http2 on;" in new
    assert "grpc_pass grpc://pyroscope;" in new


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
    assert "set $pyroscope pyroscope:4040;" in conf
    assert set(re.findall(r"proxy_pass (\S+);", conf)) == {"http://$pyroscope"}
    assert set(re.findall(r"grpc_pass (\S+);", conf)) == {"grpc://$pyroscope"}


@pytest.mark.parametrize("resolver", [None, "127.0.0.11"])
def test_microservices_route_each_api_to_its_component(resolver: str | None) -> None:
    """As the chart's own Ingress: pushes (OTLP too) to the distributor, settings to
    tenant-settings, ad-hoc profiles to ad-hoc-profiles, queries and /ready to the query-frontend."""
    settings = NginxSettings(
        upstream="pyroscope-query-frontend:4040",
        component_upstreams={c: f"pyroscope-{c}:4040" for c in COMPONENTS},
        resolver=resolver,
    )
    conf = render_nginx_conf(settings)
    blocks = locations(conf)
    for route in ROUTES:
        match = f"^~ {route.path}" if route.prefix else f"= {route.path}"
        name = "pyroscope_" + route.component.replace("-", "_")
        target = f"${name}" if resolver else name
        assert re.search(rf"(proxy|grpc)_pass (http|grpc)://{re.escape(target)};", blocks[match]), match
    for component in COMPONENTS:
        assert f"pyroscope-{component}:4040" in conf


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("upstream", "pyroscope:4040; }"),
        ("upstream", "pyroscope"),
        ("htpasswd_dir", "/etc/x htpasswd"),
        ("nginx_version", "1.22"),
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
    assert gateway_users(multi.server.multitenancy, multi.server.tenants) == ["team-a", "team-b"]
    single = load_config({}, "staging")
    assert gateway_users(single.server.multitenancy, single.server.tenants) == [constants.GATEWAY_SINGLE_USER]


def test_htpasswd_is_sorted_and_refuses_plaintext_or_bad_user_names() -> None:
    assert htpasswd_lines({"b": "$2a$10$x", "a": "$2a$10$y"}) == "a:$2a$10$y\nb:$2a$10$x\n"
    assert htpasswd_lines({"a": "{SSHA}abc="}) == "a:{SSHA}abc=\n"
    with pytest.raises(ValueError, match="bcrypt hash"):
        htpasswd_lines({"a": "plaintext-password"})
    with pytest.raises(ValueError, match="no ':'"):
        htpasswd_lines({"a:b": "$2a$10$x"})


def test_generated_passwords_get_a_fast_salted_hash_stable_per_stack_key() -> None:
    password = "p" * 32
    first = htpasswd_hash("push", "team-a", password, "key-1", generated=True)
    assert first == htpasswd_hash("push", "team-a", password, "key-1", generated=True)  # no churn
    raw = base64.b64decode(first.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    assert len(salt) == 16
    assert hashlib.sha1(password.encode() + salt).digest() == digest  # noqa: S324 - what nginx verifies
    # Another stack, role or user: another salt.
    assert htpasswd_hash("push", "team-a", password, "key-2", generated=True) != first
    assert htpasswd_hash("query", "team-a", password, "key-1", generated=True) != first
    assert htpasswd_hash("push", "team-b", password, "key-1", generated=True) != first
    # A short given password keeps the slow hash.
    assert htpasswd_hash("push", "team-a", "short", "key-1", generated=False).startswith("$2a$10$")


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
        gateway_settings(config.server, config.stack),
        "pyroscope-gateway",
        config_map="cm",
        secret="secret",
        nginx_conf="conf",
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
    settings = gateway_settings(
        load_config({"server": {"backend": "kubernetes"}}, "staging").server, "staging"
    )

    def checksum(conf: str) -> str:
        spec = gateway_deployment_spec(settings, "g", config_map="cm", secret="s", nginx_conf=conf)
        return str(spec["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION])

    assert checksum("a") == checksum("a")
    assert checksum("a") != checksum("b")


def test_docker_gateway_is_published_where_pyroscope_would_have_been() -> None:
    config = load_config({"server": {"docker": {"publishAddress": "127.0.0.1", "hostPort": 4141}}}, "local")
    args = docker_gateway_container_args(gateway_settings(config.server, config.stack))
    assert args["ports"] == [{"internal": constants.GATEWAY_PORT, "external": 4141, "ip": "127.0.0.1"}]
    assert args["user"] == f"{constants.GATEWAY_UID}:{constants.GATEWAY_UID}"
    assert args["capabilities"] == {"drops": ["ALL"]}


# --- under mocks ------------------------------------------------------------------------------------


def _deploy(backend: str, raw: dict[str, Any]) -> Deployed:
    def program() -> None:
        settings = gateway_settings(
            load_config({"server": {"backend": backend, **raw}}, "staging").server, "staging"
        )
        credentials = GatewayCredentials(
            "pyroscope-gateway-credentials", settings.users, admin=settings.admin
        )
        if backend == "kubernetes":
            gateway = deploy_kubernetes_gateway(settings, "pyroscope", "pyroscope:4040", credentials)
        else:
            gateway = deploy_docker_gateway(settings, "pyroscope:4040", "pyroscope", credentials)
        for user, endpoint in gateway.endpoints().items():
            pulumi.export(f"url-{user}", endpoint.url)
            pulumi.export(f"password-{user}", endpoint.basic_auth_password)
            pulumi.export(f"tenant-{user}", endpoint.tenant_id)
            pulumi.export(f"query-password-{user}", gateway.query_endpoint(user).basic_auth_password)
        pulumi.export("podLabels", gateway.pod_labels)

    return Deployed(run_program(program, stack="staging", config={}, secret_keys=[]))


def test_one_random_password_per_tenant_reaches_the_endpoints_as_a_secret() -> None:
    deployed = _deploy("kubernetes", {"multitenancy": True, "tenants": ["team-a", "team-b"]})
    passwords = deployed.of_type("random:index/randomPassword:RandomPassword")
    assert sorted(p.name for p in passwords) == [
        "pyroscope-gateway-credentials-team-a",
        "pyroscope-gateway-credentials-team-a.query",
        "pyroscope-gateway-credentials-team-b",
        "pyroscope-gateway-credentials-team-b.query",
        stack_key.RESOURCE_NAME,
    ]
    users = [p for p in passwords if p.name != stack_key.RESOURCE_NAME]
    assert all(p.inputs["special"] is False and p.inputs["length"] == 32 for p in users)
    outputs, secret = deployed.run.outputs, deployed.run.secret_outputs
    assert outputs["password-team-a"] == placeholder("password", "pyroscope-gateway-credentials-team-a")
    assert {"password-team-a", "password-team-b", "query-password-team-a"} <= secret
    # Grafana's read-only password is not the push password.
    assert outputs["query-password-team-a"] == placeholder(
        "password", "pyroscope-gateway-credentials-team-a.query"
    )
    assert outputs["tenant-team-b"] == "team-b"
    assert outputs["url-team-a"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"


def test_kubernetes_htpasswd_lives_only_in_a_secret_and_the_configmap_holds_no_credentials() -> None:
    deployed = _deploy("kubernetes", {"multitenancy": True, "tenants": ["team-a"]})
    secret = deployed.one("kubernetes:core/v1:Secret")
    assert secret.inputs["metadata"]["name"] == "pyroscope-gateway-htpasswd"
    assert secret.is_secret("stringData")
    config_map = deployed.one("kubernetes:core/v1:ConfigMap")
    conf = config_map.inputs["data"]["nginx.conf"]
    assert set(secret.raw_inputs["stringData"]["value"]) == {"push", "query"}
    assert "{SSHA}" not in conf and "mock-bcrypt" not in conf and "mock-password" not in conf
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
    htpasswd = files.index(f"{constants.GATEWAY_HTPASSWD_DIR}/push")
    assert f"{constants.GATEWAY_HTPASSWD_DIR}/query" in files
    assert container.is_secret("uploads", htpasswd, "content")
    assert not container.is_secret("uploads", conf, "content")
    expected_hash = htpasswd_hash(
        "push",
        "pyroscope",
        placeholder("password", "pyroscope-gateway-credentials-pyroscope"),
        placeholder("password", stack_key.RESOURCE_NAME),
        generated=True,
    )
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


def test_the_limits_section_reaches_nginx_on_both_backends() -> None:
    limits = {"connectionsPerClient": 99, "failedAuthPerSecond": 3, "failedAuthBurst": 7}
    kubernetes = _deploy("kubernetes", {"gateway": {"limits": limits}})
    conf = kubernetes.one("kubernetes:core/v1:ConfigMap").inputs["data"]["nginx.conf"]
    docker = _deploy("docker", {"gateway": {"limits": limits}})
    (container,) = docker.of_type("docker:index/container:Container")
    uploads = {u["file"]: u.get("content") for u in container.inputs["uploads"]}
    for rendered in (conf, uploads[f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf"]):
        assert "limit_conn gateway_client 99;" in rendered
        assert "zone=gateway_failed_auth:1m rate=3r/s;" in rendered
        assert rendered.count("limit_req zone=gateway_failed_auth burst=7;") == 2
    default = _deploy("kubernetes", {}).one("kubernetes:core/v1:ConfigMap").inputs["data"]["nginx.conf"]
    assert f"limit_conn gateway_client {constants.GATEWAY_CONNECTIONS_PER_CLIENT};" in default
    assert f"rate={constants.GATEWAY_FAILED_AUTH_PER_SECOND}r/s;" in default
    assert f"burst={constants.GATEWAY_FAILED_AUTH_BURST};" in default


def test_nginx_settings_refuse_limits_nginx_would_not_take() -> None:
    for field, value in (
        ("failed_auth_per_second", 0),
        ("failed_auth_burst", -1),
        ("connections_per_client", 0),
    ):
        with pytest.raises(ValueError, match=f"gateway {field} {value} must be at least"):
            render_nginx_conf(NginxSettings(upstream="pyroscope:4040", **{field: value}))  # type: ignore[arg-type]
    # Burst 0: failures beyond the rate are refused at once, none wait.
    conf = render_nginx_conf(NginxSettings(upstream="pyroscope:4040", failed_auth_burst=0))
    assert "limit_req zone=gateway_failed_auth;" in conf


def test_trusted_proxies_reach_nginx_on_both_backends_and_nothing_changes_without_them() -> None:
    proxies = {"trustedProxies": ["10.0.0.0/8", "fd00::/8"]}
    kubernetes = _deploy("kubernetes", {"gateway": proxies})
    conf = kubernetes.one("kubernetes:core/v1:ConfigMap").inputs["data"]["nginx.conf"]
    docker = _deploy("docker", {"gateway": proxies})
    (container,) = docker.of_type("docker:index/container:Container")
    uploads = {u["file"]: u.get("content") for u in container.inputs["uploads"]}
    realip = [
        "set_real_ip_from 10.0.0.0/8;",
        "set_real_ip_from fd00::/8;",
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]
    for rendered in (conf, uploads[f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf"]):
        lines = [line.strip() for line in rendered.splitlines()]
        # In the http block, before the zones keyed on the (then real) client address.
        start = lines.index(realip[0])
        assert lines[start : start + 4] == realip
        assert start < lines.index("limit_conn_zone $binary_remote_addr zone=gateway_client:1m;")
    default = _deploy("kubernetes", {}).one("kubernetes:core/v1:ConfigMap").inputs["data"]["nginx.conf"]
    assert "real_ip" not in default


@pytest.mark.parametrize(
    "proxy", ["0.0.0.0/0", "::/0", "10.0.0.1/8", "10.0.0.0/8; allow all", "fe80::1%eth0"]
)
def test_nginx_settings_refuse_a_trusted_proxy_that_is_no_narrow_network(proxy: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"gateway trusted_proxies[1] {proxy!r}")):
        render_nginx_conf(NginxSettings(upstream="pyroscope:4040", trusted_proxies=("10.0.0.0/8", proxy)))
