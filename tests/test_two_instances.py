"""Each component can be instantiated twice in one program: its children are named after it.

The mock engine accepts duplicate URNs (a real ``pulumi up`` refuses them), so these tests
check the URNs themselves: none registered twice, every child parented to its own component,
and every child of a component with a non-default name named after that component. The
default-named instance keeps the names existing stacks hold (the renders of every stack are
unchanged; see the module docstring of ``pyroscope_bundle.naming``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pyroscope_bundle.config import load_config
from pyroscope_bundle.config.model import Grafana
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.render.mocks import RecordedResource
from pyroscope_bundle.stack_key import RESOURCE_NAME as STACK_KEY
from pyroscope_bundle.testing import run


def registered(program: Callable[[], None]) -> tuple[RecordedResource, ...]:
    return run(program, stack="test").resources


def assert_distinct(
    resources: tuple[RecordedResource, ...],
    components: dict[str, str],
    prefixes: dict[str, str | None] | None = None,
) -> None:
    """No URN twice; every resource under one of ``components`` (name -> type token); the
    children of each non-default component named after it. ``prefixes``: what each component's
    children start with instead of its name (None: the default instance, historical names);
    default: the first component is the default instance."""
    # The stack's one key is shared by design, at the stack's root.
    resources = tuple(r for r in resources if r.name != STACK_KEY)
    counts = Counter(resource.urn for resource in resources)
    assert [urn for urn, count in counts.items() if count > 1] == []
    by_urn = {resource.urn: resource for resource in resources}
    roots = {
        resource.urn: resource.name
        for resource in resources
        if resource.name in components and resource.type == components[resource.name]
    }
    assert sorted(roots.values()) == sorted(components)

    def root_of(resource: RecordedResource) -> str:
        while resource.urn not in roots:
            assert resource.parent_urn in by_urn, f"{resource.type} {resource.name} has no component parent"
            resource = by_urn[resource.parent_urn]
        return roots[resource.urn]

    if prefixes is None:
        prefixes = {name: None if index == 0 else name for index, name in enumerate(components)}
    for resource in resources:
        owner = root_of(resource)
        prefix = prefixes.get(owner, owner)
        if resource.urn not in roots and prefix is not None:
            assert resource.name == prefix or resource.name.startswith((f"{prefix}-", f"{prefix}.")), (
                f"{resource.type} {resource.name} is not named after its component {owner}"
            )


def query_endpoint(host: str, password: bool = True) -> Endpoint:
    return Endpoint(
        url=f"http://{host}:4040",
        basic_auth_user="pyroscope",
        basic_auth_password=pulumi.Output.secret("s3cret") if password else None,
    )


def docker_server(network: str) -> ServerDeployment:
    endpoint = query_endpoint(f"{network}-gateway")
    return ServerDeployment(
        backend="docker", version="1.16.0", push=endpoint, query=endpoint, docker_network=network
    )


def grafana(**raw: object) -> Grafana:
    return load_config({"grafana": raw}, "test").grafana


# --- Grafana ------------------------------------------------------------------------------------


def test_two_sidecar_datasources_in_one_grafana_do_not_collide() -> None:
    from pyroscope_bundle.grafana.kubernetes import SidecarDatasource

    first, second = grafana(), grafana(datasource={"uid": "pyroscope-eu"})

    def program() -> None:
        SidecarDatasource("pyroscope-grafana", first, query_endpoint("gw.a"))
        SidecarDatasource("pyroscope-eu", second, query_endpoint("gw.b"))
        third = second.model_copy(
            update={"datasource": second.datasource.model_copy(update={"uid": "plain"})}
        )
        SidecarDatasource("pyroscope-plain", third, query_endpoint("b", password=False))

    resources = registered(program)
    assert_distinct(
        resources,
        {name: SidecarDatasource.TYPE for name in ("pyroscope-grafana", "pyroscope-eu", "pyroscope-plain")},
    )
    objects = [r for r in resources if r.type.startswith("kubernetes:")]
    # Same namespace (monitoring): distinct object names, and distinct file names in the
    # sidecar's one folder.
    assert sorted(r.inputs["metadata"]["name"] for r in objects) == [
        "pyroscope-eu-datasource",
        "pyroscope-grafana-datasource",
        "pyroscope-plain-datasource",
    ]
    keys = [key for r in objects if "data" in r.inputs for key in r.inputs["data"]]
    assert keys == ["pyroscope-plain-datasource.yaml"]


def test_two_docker_grafanas_on_one_host_do_not_collide() -> None:
    from pyroscope_bundle.grafana.docker import DockerGrafana

    first = grafana()
    second = grafana(docker={"hostPort": 3001, "volumeName": "grafana-eu-data"})

    def program() -> None:
        DockerGrafana("grafana", first, docker_server("pyroscope"), stack="test", network_name="pyroscope")
        DockerGrafana(
            "grafana-eu", second, docker_server("pyroscope"), stack="test", network_name="pyroscope"
        )

    resources = registered(program)
    assert_distinct(resources, {"grafana": DockerGrafana.TYPE, "grafana-eu": DockerGrafana.TYPE})
    containers = [r for r in resources if r.type == "docker:index/container:Container"]
    assert sorted(r.inputs["name"] for r in containers) == ["pyroscope-grafana", "pyroscope-grafana-eu"]
    aliases = sorted(r.inputs["networksAdvanced"][0]["aliases"][0] for r in containers)
    assert aliases == ["grafana", "grafana-eu"]


def test_two_api_datasources_do_not_collide() -> None:
    from pyroscope_bundle.grafana.api import ApiDatasource
    from pyroscope_bundle.grafana.datasource import datasource_targets

    first = grafana(
        mode="api", api={"url": "https://grafana.example.com"}, tempo={"url": "http://tempo:3200"}
    )
    second = first.model_copy(update={"datasource": first.datasource.model_copy(update={"uid": "eu"})})

    def program() -> None:
        for name, section in (("grafana-api", first), ("grafana-api-eu", second)):
            ApiDatasource(
                name, section, datasource_targets(section, query_endpoint(f"{name}.example.com"), None)
            )

    assert_distinct(
        registered(program), {"grafana-api": ApiDatasource.TYPE, "grafana-api-eu": ApiDatasource.TYPE}
    )


# --- gateway ------------------------------------------------------------------------------------


def test_two_kubernetes_gateways_with_their_credentials_do_not_collide() -> None:
    from pyroscope_bundle.gateway import GatewayCredentials, deploy_kubernetes_gateway, gateway_settings

    config = load_config({"server": {"backend": "kubernetes", "gateway": {"adminCredential": True}}}, "test")
    settings = gateway_settings(config.server, config.stack)
    urls = []

    def program() -> None:
        # Same namespace: the second gateway's objects must not take the first one's names.
        for name in ("pyroscope-gateway", "pyroscope-gateway-eu"):
            credentials = GatewayCredentials(f"{name}-credentials", settings.users, admin=True)
            gateway = deploy_kubernetes_gateway(
                settings, "pyroscope", "pyroscope:4040", credentials, name=name
            )
            urls.append(gateway.url)

    resources = registered(program)
    assert_distinct(
        resources,
        {
            "pyroscope-gateway": "pyroscope-bundle:gateway:KubernetesGateway",
            "pyroscope-gateway-credentials": "pyroscope-bundle:gateway:GatewayCredentials",
            "pyroscope-gateway-eu": "pyroscope-bundle:gateway:KubernetesGateway",
            "pyroscope-gateway-eu-credentials": "pyroscope-bundle:gateway:GatewayCredentials",
        },
    )
    objects = Counter(
        (r.type, r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for r in resources
        if r.type.startswith("kubernetes:")
    )
    assert [key for key, count in objects.items() if count > 1] == []
    assert len(set(urls)) == 2


def test_the_whole_config_still_works_with_a_deprecation_warning() -> None:
    import pytest
    from pyroscope_bundle.grafana.kubernetes import SidecarDatasource

    config = load_config({"server": {"backend": "kubernetes"}}, "test")

    def old() -> None:
        with pytest.warns(DeprecationWarning, match="SidecarDatasource.*pass its Grafana section"):
            SidecarDatasource("pyroscope-grafana", config, query_endpoint("gw"))  # type: ignore[arg-type]

    def new() -> None:
        SidecarDatasource("pyroscope-grafana", config.grafana, query_endpoint("gw"))

    assert [(r.urn, r.inputs) for r in registered(old)] == [(r.urn, r.inputs) for r in registered(new)]


# --- monitoring ---------------------------------------------------------------------------------


def kubernetes_server(namespace: str) -> ServerDeployment:
    endpoint = query_endpoint(f"pyroscope-gateway.{namespace}.svc.cluster.local")
    return ServerDeployment(
        backend="kubernetes",
        version="1.16.0",
        push=endpoint,
        query=endpoint,
        namespace=namespace,
        probe=(endpoint, endpoint),
    )


def test_two_monitoring_components_for_two_servers_do_not_collide() -> None:
    from pyroscope_bundle.monitoring import Monitoring, monitoring_args

    configs = {
        name: load_config({"server": {"backend": "kubernetes", "kubernetes": {"namespace": ns}}}, "test")
        for name, ns in (("pyroscope-monitoring", "pyroscope"), ("eu", "pyroscope-eu"))
    }

    def program() -> None:
        for name, config in configs.items():
            args = monitoring_args(config, kubernetes_server(config.server.kubernetes.namespace), name)
            assert args.probe is not None and args.dashboard_config_map is not None
            Monitoring(name, args)

    resources = registered(program)
    assert_distinct(resources, {name: Monitoring.TYPE for name in configs})
    # Both dashboards go to the one Grafana namespace: distinct names, files and uids.
    dashboards = [r for r in resources if r.type == "kubernetes:core/v1:ConfigMap" and "dashboard" in r.name]
    assert sorted(r.inputs["metadata"]["name"] for r in dashboards) == [
        "eu-pyroscope-bundle-dashboard",
        "pyroscope-bundle-dashboard",
    ]
    files = sorted(key for r in dashboards for key in r.inputs["data"])
    assert files == ["eu-pyroscope-bundle-health.json", "pyroscope-bundle-health.json"]
    objects = Counter(
        (r.type, r.inputs["metadata"].get("namespace"), r.inputs["metadata"].get("name"))
        for r in resources
        if r.type.startswith("kubernetes:") and isinstance(r.inputs.get("metadata"), dict)
    )
    assert [key for key, count in objects.items() if count > 1] == []


# --- wiring -------------------------------------------------------------------------------------


def test_two_wiring_sets_for_two_servers_do_not_collide() -> None:
    """Two sets (two servers) wiring services of one namespace and one ECS account."""
    from pyroscope_bundle.wiring import deploy_wiring

    from tests.harness import PROJECT_DIR

    services: list[dict[str, Any]] = [
        {
            "name": "checkout",
            "platform": "kubernetes",
            "runtime": "java",
            "kubernetes": {"namespace": "shop"},
        },
        {
            "name": "payments-api",
            "platform": "ecs",
            "runtime": "python",
            "ecs": {"containerDefinitions": "configs/ecs/payments-api.json"},
        },
    ]
    other = [
        {**services[0], "name": "search", "runtime": "go"},
        {**services[1], "name": "ledger", "ecs": {**services[1]["ecs"], "family": "ledger"}},
    ]
    target = {"kind": "external", "url": "https://profiles.example.com", "basicAuthUser": "p"}
    configs = {
        name: load_config({"server": {"enabled": False}, "grafana": {"mode": "none"}, "target": target,
                           "services": wired, "authToken": "t"}, "production", PROJECT_DIR)
        for name, wired in (("profiler", services), ("profiler-eu", other))
    }  # fmt: skip

    def program() -> None:
        for name, config in configs.items():
            endpoint = Endpoint(
                url="https://profiles.example.com",
                basic_auth_user="p",
                basic_auth_password=pulumi.Output.secret("t"),
            )
            deploy_wiring(config, endpoint, PROJECT_DIR, name=name)

    resources = registered(program)
    groups = {
        f"{name}-{platform}-services": "pyroscope-bundle:wiring:WiredServices"
        for name in configs
        for platform in ("kubernetes", "ecs")
    }
    credentials = {
        "profiler-credentials-shop": "pyroscope-bundle:wiring:KubernetesCredentials",
        "profiler-eu-credentials-shop": "pyroscope-bundle:wiring:KubernetesCredentials",
        "profiler-credentials": "pyroscope-bundle:wiring:EcsCredentials",
        "profiler-eu-credentials": "pyroscope-bundle:wiring:EcsCredentials",
    }
    everything = {**groups, **credentials}
    # The groups' children are named after their set (profiler-<service>); the default set's
    # keep their historical names.
    assert_distinct(
        resources, everything, {name: "profiler-eu" if "profiler-eu" in name else None for name in everything}
    )
    # One namespace, one account: the second set's Secret, Secrets Manager secret and IAM policy
    # have names of their own; the first keeps the historical ones.
    secrets = sorted(r.inputs["metadata"]["name"] for r in resources if r.type == "kubernetes:core/v1:Secret")
    assert secrets == ["pyroscope-profiler-credentials", "pyroscope-profiler-eu-credentials"]
    aws = sorted(
        r.inputs["name"]
        for r in resources
        if r.type in ("aws:secretsmanager/secret:Secret", "aws:iam/policy:Policy")
    )
    assert aws == [
        "pyroscope-production-profiler-eu-credentials-secret-read",
        "pyroscope-production-profiler-secret-read",
        "pyroscope/production/profiler-credentials",
        "pyroscope/production/profiler-eu-credentials",
    ]
    patches = [r for r in resources if r.type == "kubernetes:apps/v1:DeploymentPatch"]
    refs = {
        r.name: {
            e["valueFrom"]["secretKeyRef"]["name"]
            for c in r.inputs["spec"]["template"]["spec"]["containers"]
            for e in c.get("env", [])
            if "valueFrom" in e
        }
        for r in patches
    }
    assert refs == {
        "profiler-checkout": {"pyroscope-profiler-credentials"},
        "profiler-eu-search": {"pyroscope-profiler-eu-credentials"},
    }


# --- servers ------------------------------------------------------------------------------------


def kubernetes_config(namespace: str, **server: Any) -> Any:
    raw = {"backend": "kubernetes", "kubernetes": {"namespace": namespace, **server.pop("kubernetes", {})}}
    return load_config({"server": {**raw, **server}}, "test")


def assert_objects_distinct(resources: tuple[RecordedResource, ...]) -> None:
    """No two Kubernetes objects of one kind with one name in one namespace (cluster-scoped:
    namespace None), no two Docker containers, networks or volumes with one name (an image is
    shared on purpose)."""
    kube_objects = Counter(
        (r.type, r.inputs["metadata"].get("namespace"), r.inputs["metadata"].get("name"))
        for r in resources
        if r.type.startswith("kubernetes:") and isinstance(r.inputs.get("metadata"), dict)
    )
    named = ("docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume")
    docker_objects = Counter((r.type, r.inputs.get("name")) for r in resources if r.type in named)
    assert [key for key, count in (kube_objects + docker_objects).items() if count > 1] == []


def test_two_kubernetes_servers_in_two_namespaces_do_not_collide() -> None:
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.k8s_common import kubernetes_server_args
    from pyroscope_bundle.server.kubernetes import KubernetesPyroscope

    def exposed(host: str) -> dict[str, Any]:
        ingress = {"enabled": True, "host": host, "className": "nginx"}
        return {"ingress": ingress, "allowFrom": [{"namespace": "ingress-nginx"}]}

    configs = {
        "pyroscope": kubernetes_config("pyroscope", kubernetes=exposed("profiles.example.com")),
        "pyroscope-eu": kubernetes_config("pyroscope-eu", kubernetes=exposed("eu.example.com")),
    }
    urls = []

    def program() -> None:
        for name, config in configs.items():
            server = KubernetesPyroscope(name, kubernetes_server_args(config, config_routes(config)))
            urls.append(server.gateway_url)

    resources = registered(program)
    assert_distinct(resources, {name: KubernetesPyroscope.TYPE for name in configs})
    assert_objects_distinct(resources)
    # Each server's clients reach its own gateway, in its own namespace.
    assert urls == [
        "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040",
        "http://pyroscope-gateway.pyroscope-eu.svc.cluster.local:4040",
    ]
    namespaces = sorted(
        r.inputs["metadata"]["name"] for r in resources if r.type == "kubernetes:core/v1:Namespace"
    )
    assert namespaces == ["pyroscope", "pyroscope-eu"]


def test_two_chart_servers_do_not_collide_in_the_aws_account() -> None:
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.helm import HelmPyroscope
    from pyroscope_bundle.server.k8s_common import kubernetes_server_args

    configs = {
        name: kubernetes_config(
            namespace,
            kubernetes={"mode": "microservices", "helm": {"objectStorage": {"region": "eu-west-1"}}},
        )
        for name, namespace in (("pyroscope", "pyroscope"), ("pyroscope-eu", "pyroscope-eu"))
    }

    def program() -> None:
        for name, config in configs.items():
            HelmPyroscope(name, kubernetes_server_args(config, config_routes(config)))

    resources = registered(program)
    assert_distinct(resources, {name: HelmPyroscope.TYPE for name in configs})
    assert_objects_distinct(resources)
    users = sorted(r.inputs["name"] for r in resources if r.type == "aws:iam/user:User")
    assert users == ["pyroscope-eu-test-bucket", "pyroscope-test-bucket"]


def test_two_docker_servers_on_one_host_do_not_collide() -> None:
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.docker import DockerPyroscope

    def docker_config(network: str, port: int) -> Any:
        docker = {"networkName": network, "volumeName": f"{network}-data", "hostPort": port}
        return load_config({"server": {"docker": docker, "gateway": {"enabled": True}}}, "test")

    configs = {
        "pyroscope": docker_config("pyroscope", 4040),
        "pyroscope-eu": docker_config("pyroscope-eu", 4041),
    }
    urls = []

    def program() -> None:
        for name, config in configs.items():
            server = DockerPyroscope(name, config.server, config_routes(config), stack="test")
            urls.append(server.deployment.push.url)

    resources = registered(program)
    assert_distinct(resources, {name: DockerPyroscope.TYPE for name in configs})
    assert_objects_distinct(resources)
    assert urls == ["http://127.0.0.1:4040", "http://127.0.0.1:4041"]


def test_the_old_server_signature_still_works_with_a_deprecation_warning() -> None:
    import pytest
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.k8s_common import kubernetes_server_args
    from pyroscope_bundle.server.kubernetes import KubernetesPyroscope

    config = kubernetes_config("pyroscope")

    def old() -> None:
        with pytest.warns(DeprecationWarning, match="KubernetesPyroscope") as caught:
            KubernetesPyroscope("pyroscope", config, config_routes(config))  # type: ignore[arg-type]
        # The warning points at the caller of the component, not at the bundle's own code.
        assert [w.filename for w in caught if "KubernetesPyroscope" in str(w.message)] == [__file__]

    def new() -> None:
        KubernetesPyroscope("pyroscope", kubernetes_server_args(config, config_routes(config)))

    def urns(program: Callable[[], None]) -> list[tuple[str, Any]]:
        return [(r.urn, r.inputs) for r in registered(program) if r.name != STACK_KEY]

    assert urns(old) == urns(new)


def test_a_second_profiling_stack_next_to_the_bundles_program() -> None:
    """The whole program for one server, and a second server with its own Grafana datasource,
    monitoring and wiring set next to it: no URN twice, no object twice, each part under its
    own component."""
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.config.source import StackSecrets
    from pyroscope_bundle.grafana.kubernetes import deploy_sidecar_datasource
    from pyroscope_bundle.monitoring import deploy_monitoring
    from pyroscope_bundle.program import deploy
    from pyroscope_bundle.server import deploy_server
    from pyroscope_bundle.wiring import deploy_wiring, resolve_target

    from tests.harness import PROJECT_DIR

    def stack_config(namespace: str, uid: str, service: str) -> Any:
        wired = {
            "name": service,
            "platform": "kubernetes",
            "runtime": "go",
            "kubernetes": {"namespace": "shop"},
        }
        raw = {
            "server": {"backend": "kubernetes", "kubernetes": {"namespace": namespace}},
            "grafana": {"datasource": {"uid": uid}},
            "services": [wired],
        }
        return load_config(raw, "test", PROJECT_DIR)

    first = stack_config("pyroscope", "pyroscope", "checkout")
    second = stack_config("pyroscope-eu", "pyroscope-eu", "search")

    def program() -> None:
        deploy(first, StackSecrets(), PROJECT_DIR)
        routes = config_routes(second)
        server = deploy_server(second, routes, name="eu")
        assert server is not None
        deploy_sidecar_datasource(second.grafana, server, name="eu-grafana")
        deploy_monitoring(second, server, name="eu-monitoring")
        deploy_wiring(second, resolve_target(routes, server, None), PROJECT_DIR, name="eu-profiler")

    resources = tuple(r for r in registered(program) if r.name != STACK_KEY)
    assert [urn for urn, count in Counter(r.urn for r in resources).items() if count > 1] == []
    assert_objects_distinct(resources)
    # Every resource belongs to a component (only the stack's one key sits at the root).
    assert [
        r.name for r in resources if r.custom and r.parent_urn.endswith("pulumi:pulumi:Stack::test-test")
    ] == []
    secrets = [r.inputs["metadata"] for r in resources if r.type == "kubernetes:core/v1:Secret"]
    datasources = sorted(m["name"] for m in secrets if m["namespace"] == "monitoring")
    assert datasources == ["eu-grafana-datasource", "pyroscope-grafana-datasource"]


# --- what only one component may hold -------------------------------------------------------------


def test_a_second_server_in_the_same_namespace_is_refused_before_it_registers_anything() -> None:
    import pytest
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.helm import HelmPyroscope
    from pyroscope_bundle.server.k8s_common import kubernetes_server_args
    from pyroscope_bundle.server.kubernetes import KubernetesPyroscope

    config = kubernetes_config("pyroscope")
    chart = kubernetes_config(
        "pyroscope", kubernetes={"mode": "microservices", "helm": {"objectStorage": {"region": "eu-west-1"}}}
    )
    registered_before: list[int] = []

    def program() -> None:
        KubernetesPyroscope("pyroscope", kubernetes_server_args(config, config_routes(config)))
        registered_before.append(1)
        HelmPyroscope("pyroscope-eu", kubernetes_server_args(chart, config_routes(chart)))

    expected = (
        "HelmPyroscope pyroscope-eu: pyroscope:server.kubernetes.namespace 'pyroscope' is already used "
        "by KubernetesPyroscope pyroscope in this program; give each its own "
        "pyroscope:server.kubernetes.namespace"
    )
    with pytest.raises(pulumi.RunError, match=re.escape(expected)):
        registered(program)
    assert registered_before == [1]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"networkName": "pyroscope-eu", "volumeName": "eu-data"}, "pyroscope:server.docker.hostPort"),
        ({"networkName": "pyroscope-eu", "hostPort": 4041}, "pyroscope:server.docker.volumeName"),
        ({"volumeName": "eu-data", "hostPort": 4041}, "pyroscope:server.docker.networkName"),
    ],
)
def test_a_second_docker_server_sharing_a_host_wide_name_is_refused(
    change: dict[str, Any], setting: str
) -> None:
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.server.docker import DockerPyroscope

    first = load_config({}, "test")
    second = load_config({"server": {"docker": change}}, "test")

    def program() -> None:
        for name, config in (("pyroscope", first), ("pyroscope-eu", second)):
            DockerPyroscope(name, config.server, config_routes(config), stack="test")

    with pytest.raises(
        pulumi.RunError,
        match=f"DockerPyroscope pyroscope-eu: {setting} .* is already used by DockerPyroscope pyroscope",
    ):
        registered(program)


def test_two_datasources_with_one_uid_in_one_grafana_are_refused() -> None:
    from pyroscope_bundle.grafana.kubernetes import SidecarDatasource

    def program() -> None:
        SidecarDatasource("pyroscope-grafana", grafana(), query_endpoint("gw.a"))
        SidecarDatasource("pyroscope-eu", grafana(), query_endpoint("gw.b"))

    with pytest.raises(
        pulumi.RunError,
        match=re.escape("pyroscope:grafana.datasource.uid 'monitoring/pyroscope' is already used"),
    ):
        registered(program)


def test_the_docs_snippet_runs_two_servers_with_their_datasources() -> None:
    """docs/wiring.md "The components in another program", verbatim."""
    from tests.harness import PROJECT_DIR

    text = (PROJECT_DIR / "docs" / "wiring.md").read_text()
    section = text.split("### The components in another program", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)

    def program() -> None:
        exec(snippet, {})  # noqa: S102 - the docs, verbatim

    resources = tuple(r for r in registered(program) if r.name != STACK_KEY)
    assert [urn for urn, count in Counter(r.urn for r in resources).items() if count > 1] == []
    assert_objects_distinct(resources)
    statefulsets = sorted(
        r.inputs["metadata"]["namespace"] for r in resources if r.type == "kubernetes:apps/v1:StatefulSet"
    )
    assert statefulsets == ["pyroscope-eu", "pyroscope-us"]
    datasources = [r for r in resources if r.type == "kubernetes:core/v1:Secret" and "grafana" in r.name]
    assert sorted(r.inputs["metadata"]["name"] for r in datasources) == [
        "pyroscope-eu-grafana-datasource",
        "pyroscope-us-grafana-datasource",
    ]
