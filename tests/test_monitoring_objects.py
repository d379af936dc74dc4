"""The monitoring objects as rendered: CRD shapes, the probe, the dashboard, Tempo, placement.

The PodMonitor and PrometheusRule are checked against the Prometheus Operator's own CRD schema
(tests/data/prometheus-operator/*.schema.json: the openAPIV3Schema of
example/prometheus-operator-crd/monitoring.coreos.com_{podmonitors,prometheusrules}.yaml at tag
v0.93.0), made strict: the API server would silently prune an unknown field, so a typo would
deploy as "not set"; here it fails. Core objects (CronJob, ConfigMaps, NetworkPolicy) go through
kubernetes-validate with every other rendered object (test_kubernetes_server.py).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # installed with check-jsonschema (test extra)
import pytest
import yaml
from google.protobuf import (  # type: ignore[import-untyped]  # installed with pulumi
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.grafana.datasource import linked_tempo_json_data
from pyroscope_bundle.monitoring import metrics
from pyroscope_bundle.placement import image_ref, pod_placement

from tests.harness import PROJECT_DIR, deploy_with
from tests.test_kubernetes_server import stack_config, validate_strict

SCHEMAS = Path(__file__).parent / "data" / "prometheus-operator"
NAMESPACE = "pyroscope"


def strict(schema: Any) -> Any:
    """``additionalProperties: false`` wherever the CRD lists properties and allows no others."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_errors(document: dict[str, Any]) -> list[str]:
    kind = {"PodMonitor": "podmonitors", "PrometheusRule": "prometheusrules"}[document["kind"]]
    schema = strict(json.loads((SCHEMAS / f"{kind}.v1.schema.json").read_text()))
    schema.pop("$comment")
    # metadata is the API server's ObjectMeta (not part of the CRD schema's detail).
    schema["properties"]["metadata"] = {"type": "object"}
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def rendered_object(rendered: dict[str, Path], stack: str, namespace: str, name: str) -> dict[str, Any]:
    return yaml.safe_load((rendered[stack] / "kubernetes" / namespace / name).read_text())


@pytest.mark.parametrize("stack", ["staging", "production"])
@pytest.mark.parametrize("name", ["podmonitor-pyroscope.yaml", "prometheusrule-pyroscope-bundle.yaml"])
def test_crd_objects_match_the_operator_schema(rendered: dict[str, Path], stack: str, name: str) -> None:
    document = rendered_object(rendered, stack, NAMESPACE, name)
    assert crd_errors(document) == []


def test_the_crd_check_catches_typos_and_bad_values(rendered: dict[str, Path]) -> None:
    monitor = rendered_object(rendered, "staging", NAMESPACE, "podmonitor-pyroscope.yaml")
    typo = copy.deepcopy(monitor)
    typo["spec"]["podMetricEndpoints"] = typo["spec"].pop("podMetricsEndpoints")
    assert crd_errors(typo)
    bad_interval = copy.deepcopy(monitor)
    bad_interval["spec"]["podMetricsEndpoints"][0]["interval"] = "30 seconds"
    assert crd_errors(bad_interval)
    rule = rendered_object(rendered, "staging", NAMESPACE, "prometheusrule-pyroscope-bundle.yaml")
    no_expr = copy.deepcopy(rule)
    del no_expr["spec"]["groups"][0]["rules"][0]["expr"]
    assert crd_errors(no_expr)


def test_podmonitor_scrapes_only_the_pyroscope_pods(rendered: dict[str, Path]) -> None:
    monitor = rendered_object(rendered, "staging", NAMESPACE, "podmonitor-pyroscope.yaml")
    statefulset = rendered_object(rendered, "staging", NAMESPACE, "statefulset-pyroscope.yaml")
    gateway = rendered_object(rendered, "staging", NAMESPACE, "deployment-pyroscope-gateway.yaml")
    selector = monitor["spec"]["selector"]["matchLabels"]
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert not selector.items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    ports = [p["name"] for p in statefulset["spec"]["template"]["spec"]["containers"][0]["ports"]]
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"


def test_only_prometheus_pods_reach_pyroscope_for_metrics(rendered: dict[str, Path]) -> None:
    policy = rendered_object(rendered, "staging", NAMESPACE, "networkpolicy-pyroscope-metrics.yaml")
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 4040, "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]


# --- the probe ----------------------------------------------------------------------------------


def pprof_message_class() -> Any:
    """google.v1 Profile, built from the field numbers of google/pprof proto/profile.proto (the
    format profilecli's pprof.RawFromBytes parses): an independent decoder of the probe file."""
    file = descriptor_pb2.FileDescriptorProto(
        name="profile.proto", package="perftools.profiles", syntax="proto3"
    )
    kinds = descriptor_pb2.FieldDescriptorProto
    rep, opt = kinds.LABEL_REPEATED, kinds.LABEL_OPTIONAL

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            f = m.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                f.type_name = f".perftools.profiles.{type_name}"

    message("ValueType", ("type", 1, kinds.TYPE_INT64, opt, ""), ("unit", 2, kinds.TYPE_INT64, opt, ""))
    message("Sample", ("location_id", 1, kinds.TYPE_UINT64, rep, ""), ("value", 2, kinds.TYPE_INT64, rep, ""))
    message("Line", ("function_id", 1, kinds.TYPE_UINT64, opt, ""), ("line", 2, kinds.TYPE_INT64, opt, ""))
    message("Location", ("id", 1, kinds.TYPE_UINT64, opt, ""), ("line", 4, kinds.TYPE_MESSAGE, rep, "Line"))
    message(
        "Function",
        ("id", 1, kinds.TYPE_UINT64, opt, ""),
        ("name", 2, kinds.TYPE_INT64, opt, ""),
        ("system_name", 3, kinds.TYPE_INT64, opt, ""),
        ("filename", 4, kinds.TYPE_INT64, opt, ""),
    )
    message(
        "Profile",
        ("sample_type", 1, kinds.TYPE_MESSAGE, rep, "ValueType"),
        ("sample", 2, kinds.TYPE_MESSAGE, rep, "Sample"),
        ("location", 4, kinds.TYPE_MESSAGE, rep, "Location"),
        ("function", 5, kinds.TYPE_MESSAGE, rep, "Function"),
        ("string_table", 6, kinds.TYPE_STRING, rep, ""),
        ("time_nanos", 9, kinds.TYPE_INT64, opt, ""),
        ("duration_nanos", 10, kinds.TYPE_INT64, opt, ""),
        ("period_type", 11, kinds.TYPE_MESSAGE, opt, "ValueType"),
        ("period", 12, kinds.TYPE_INT64, opt, ""),
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("perftools.profiles.Profile"))


def test_probe_profile_is_a_cpu_pprof_profile(rendered: dict[str, Path]) -> None:
    config_map = rendered_object(rendered, "staging", NAMESPACE, "configmap-pyroscope-probe-profile.yaml")
    profile = pprof_message_class().FromString(base64.b64decode(config_map["binaryData"]["probe.pprof"]))
    strings = list(profile.string_table)
    assert strings[0] == ""
    # profilecli names it process_cpu when a sample type is "cpu" (cmd/profilecli/upload.go).
    assert [strings[t.type] for t in profile.sample_type] == ["cpu"]
    assert profile.sample and all(sum(s.value) > 0 for s in profile.sample)
    assert {loc.id for loc in profile.location} >= {i for s in profile.sample for i in s.location_id}


def probe_pod(rendered: dict[str, Path], stack: str = "staging") -> dict[str, Any]:
    cronjob = rendered_object(rendered, stack, NAMESPACE, "cronjob-pyroscope-probe.yaml")
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_probe_pushes_and_reads_with_profilecli_and_secret_passwords(rendered: dict[str, Path]) -> None:
    pod = probe_pod(rendered)
    [push] = pod["initContainers"]
    [read] = pod["containers"]
    assert push["args"][0] == "upload" and "--override-timestamp" in push["args"]
    assert read["args"][:2] == ["query", "series"]
    for container, key in ((push, "push-password"), (read, "read-password")):
        assert container["command"] == ["/usr/bin/profilecli"]
        assert container["image"] == "grafana/pyroscope:2.2.1"  # the image the server runs
        env = {item["name"]: item for item in container["env"]}
        assert env["PROFILECLI_URL"]["value"] == "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
        assert "value" not in env["PROFILECLI_PASSWORD"]
        assert env["PROFILECLI_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pyroscope-probe-credentials",
            "key": key,
        }
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    secret = rendered_object(rendered, "staging", NAMESPACE, "secret-pyroscope-probe-credentials.yaml")
    assert set(secret["stringData"].values()) == {"[secret]"}


def test_probe_passwords_stay_pulumi_secrets() -> None:
    deployed = deploy_with(stack_config("staging"), stack="staging", extra={"aws:region": "eu-west-1"})
    [secret] = [
        s
        for s in deployed.of_type("kubernetes:core/v1:Secret")
        if s.name == "pyroscope-probe-credentials-secret"
    ]
    assert secret.is_secret("stringData")


def test_probe_is_admitted_to_the_gateway(rendered: dict[str, Path]) -> None:
    policy = rendered_object(rendered, "staging", NAMESPACE, "networkpolicy-pyroscope-gateway.yaml")
    labels = rendered_object(rendered, "staging", NAMESPACE, "cronjob-pyroscope-probe.yaml")["spec"][
        "jobTemplate"
    ]["spec"]["template"]["metadata"]["labels"]
    peers = [p for rule in policy["spec"]["ingress"] for p in rule["from"]]
    assert any(
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == NAMESPACE
        and p["podSelector"]["matchLabels"].items() <= labels.items()
        for p in peers
    )


def test_no_probe_without_the_gateway() -> None:
    config = stack_config("staging")
    config["server"] = {**config["server"], "gateway": {"enabled": False, "allowUnauthenticated": True}}
    config["services"] = [s for s in config["services"] if s["platform"] != "ecs"]
    deployed = deploy_with(config, stack="staging", extra={"aws:region": "eu-west-1"})
    assert deployed.of_type("kubernetes:batch/v1:CronJob") == []
    assert deployed.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")


def test_docker_backend_deploys_no_monitoring_objects() -> None:
    deployed = deploy_with({"server": {"backend": "docker"}})
    assert not [r for r in deployed.resources if r.type.startswith("kubernetes:")]


# --- the dashboard ------------------------------------------------------------------------------


def dashboard(rendered: dict[str, Path]) -> dict[str, Any]:
    config_map = rendered_object(
        rendered, "staging", "monitoring", "configmap-pyroscope-bundle-dashboard.yaml"
    )
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    [text] = config_map["data"].values()
    return json.loads(text)


def test_dashboard_panels_use_the_provisioned_datasources(rendered: dict[str, Path]) -> None:
    board = dashboard(rendered)
    provisioned = rendered_object(
        rendered, "staging", "monitoring", "secret-pyroscope-grafana-datasource.yaml"
    )
    assert provisioned  # the Pyroscope datasource (uid pyroscope) comes from this Secret
    uids = {panel["datasource"]["uid"] for panel in board["panels"]}
    assert uids == {"prometheus", "pyroscope"}
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "pyroscope-bundle-health"


def test_dashboard_panels_do_not_overlap(rendered: dict[str, Path]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard(rendered)["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & area, panel["title"]
        cells |= area


def test_dashboard_queries_only_cited_metrics(rendered: dict[str, Path]) -> None:
    known = {value for name, value in vars(metrics).items() if name.isupper() and isinstance(value, str)}
    exprs = [t["expr"] for p in dashboard(rendered)["panels"] for t in p["targets"] if "expr" in t]
    assert exprs
    for expr in exprs:
        names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))
        assert names and names <= known, expr


PROBE_GROUP = "service/pyroscope-bundle-probe"


def test_dashboard_service_views_leave_the_probe_out(rendered: dict[str, Path]) -> None:
    board = dashboard(rendered)
    [variable] = board["templating"]["list"]
    assert f'usage_group!="{PROBE_GROUP}"' in variable["query"]
    [flame] = [p for p in board["panels"] if p["type"] == "flamegraph"]
    assert 'service_name!="pyroscope-bundle-probe"' in flame["targets"][0]["labelSelector"]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)"
)
def test_the_per_service_panel_shows_every_service_but_the_probe(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    """The panel's own query, with "All" selected, evaluated by Prometheus's engine (promtool)
    on series of a service and of the probe: only the service comes back."""
    [panel] = [p for p in dashboard(rendered)["panels"] if p["title"] == "Received bytes / s per service"]
    all_services = panel["targets"][0]["expr"].replace("$service", ".+")
    group = metrics.USAGE_GROUP_RECEIVED
    (tmp_path / "empty.yaml").write_text("groups: []\n")
    suite = {
        "rule_files": ["empty.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{group}{{namespace="{NAMESPACE}", usage_group="{g}"}}', "values": "0+600x20"}
                    for g in ("service/checkout", PROBE_GROUP)
                ],
                "promql_expr_test": [
                    {
                        "expr": all_services,
                        "eval_time": "10m",
                        "exp_samples": [{"labels": '{usage_group="service/checkout"}', "value": 10}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite))
    result = subprocess.run(
        [str(shutil.which("promtool")), "test", "rules", str(tmp_path / "tests.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_mode_creates_the_dashboard_through_grafanas_api() -> None:
    deployed = deploy_with(
        {
            "server": {"backend": "kubernetes"},
            "grafana": {"mode": "api", "api": {"url": "https://grafana.example.com"}},
        }
    )
    [board] = deployed.of_type("grafana:oss/dashboard:Dashboard")
    model = json.loads(board.inputs["configJson"])
    assert model["uid"] == "pyroscope-bundle-health"
    assert {p["datasource"]["uid"] for p in model["panels"]} == {"prometheus", "pyroscope"}
    assert not [c for c in deployed.of_type("kubernetes:core/v1:ConfigMap") if "dashboard" in c.name]


# --- Tempo --------------------------------------------------------------------------------------


def api_grafana(tempo: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "api", "api": {"url": "https://grafana.example.com"}, "tempo": tempo}


def test_existing_tempo_gets_the_link_through_the_api_not_a_second_datasource() -> None:
    deployed = deploy_with(
        {
            "server": {"backend": "kubernetes"},
            "grafana": api_grafana({"existing": True, "datasourceUid": "traces"}),
        }
    )
    [link] = deployed.of_type("grafana:oss/dataSourceConfig:DataSourceConfig")
    assert link.inputs["uid"] == "traces"
    assert json.loads(link.inputs["jsonDataEncoded"])["tracesToProfiles"]["datasourceUid"] == "pyroscope"
    types = [r.inputs.get("type") for r in deployed.of_type("grafana:oss/dataSource:DataSource")]
    assert "tempo" not in types


def test_linking_keeps_the_existing_tempo_settings() -> None:
    grafana = load_config({"grafana": api_grafana({"existing": True})}, "t").grafana
    merged = json.loads(
        linked_tempo_json_data('{"nodeGraph": {"enabled": true}, "tracesToProfiles": {}}', grafana)
    )
    assert merged["nodeGraph"] == {"enabled": True}
    assert merged["tracesToProfiles"]["profileTypeId"] == "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def test_a_new_tempo_datasource_takes_the_configured_name() -> None:
    deployed = deploy_with(
        {"grafana": api_grafana({"url": "http://tempo:3200", "name": "Traces", "datasourceUid": "traces"})}
    )
    [tempo] = [
        r for r in deployed.of_type("grafana:oss/dataSource:DataSource") if r.inputs["type"] == "tempo"
    ]
    assert (tempo.inputs["name"], tempo.inputs["uid"]) == ("Traces", "traces")


@pytest.mark.parametrize(
    ("grafana", "key"),
    [
        (api_grafana({"existing": True, "url": "http://tempo:3200"}), "pyroscope:grafana.tempo.url"),
        ({"mode": "kubernetes-sidecar", "tempo": {"existing": True}}, "pyroscope:grafana.tempo.existing"),
    ],
)
def test_existing_tempo_is_refused_where_it_cannot_work(grafana: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"server": {"backend": "kubernetes"}, "grafana": grafana}, "t")
    assert key in str(error.value)


# --- placement and images -----------------------------------------------------------------------

PLACEMENT: dict[str, Any] = {
    "scheduling": {
        "nodeSelector": {"pool": "observability"},
        "tolerations": [{"key": "dedicated", "value": "observability", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}
                    ]
                }
            }
        },
        "priorityClassName": "observability",
    },
    "imagePullSecrets": ["mirror-pull"],
}
REGISTRY = "registry.example.com:5000/dockerhub"


def placed(mode: str = "single-binary") -> Any:
    config = stack_config("staging")
    config["server"] = {
        **config["server"],
        "imageRegistry": REGISTRY,
        "kubernetes": {**config["server"]["kubernetes"], **PLACEMENT, "mode": mode},
    }
    return deploy_with(config, stack="staging", extra={"aws:region": "eu-west-1"})


def pod_specs(deployed: Any) -> dict[str, dict[str, Any]]:
    specs = {}
    for token in (
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:batch/v1:CronJob",
    ):
        for resource in deployed.of_type(token):
            spec = resource.inputs["spec"]
            template = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
            specs[resource.inputs["metadata"]["name"]] = template["spec"]
    return specs


def test_every_workload_runs_where_the_platform_team_says() -> None:
    deployed = placed()
    specs = pod_specs(deployed)
    assert set(specs) == {"pyroscope", "pyroscope-gateway", "pyroscope-probe"}
    for name, spec in specs.items():
        assert spec["nodeSelector"] == {"pool": "observability"}, name
        assert spec["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "observability", "effect": "NoSchedule"}
        ]
        assert spec["affinity"] == PLACEMENT["scheduling"]["affinity"]
        assert spec["priorityClassName"] == "observability"
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}]
        for container in spec["containers"] + spec.get("initContainers", []):
            assert container["image"].startswith(REGISTRY + "/"), (name, container["image"])


def test_placed_workloads_stay_schema_valid() -> None:
    for resource in placed().of_type("kubernetes:apps/v1:StatefulSet") + placed().of_type(
        "kubernetes:batch/v1:CronJob"
    ):
        manifest = {"apiVersion": resource.inputs.get("apiVersion", ""), **resource.inputs}
        manifest["apiVersion"] = "apps/v1" if "jobTemplate" not in resource.inputs["spec"] else "batch/v1"
        manifest["kind"] = "StatefulSet" if manifest["apiVersion"] == "apps/v1" else "CronJob"
        assert validate_strict(manifest, patch=False) == []


def test_chart_components_get_the_same_placement_and_registry() -> None:
    from pyroscope_bundle.server.helm import helm_values

    config = load_config(
        {
            "server": {
                "backend": "kubernetes",
                "imageRegistry": REGISTRY,
                "kubernetes": {
                    "mode": "microservices",
                    "helm": {"objectStorage": {"region": "eu-west-1"}},
                    **PLACEMENT,
                },
            }
        },
        "t",
    )
    values = helm_values(config.server, "bucket", region="eu-west-1")["pyroscope"]
    assert values["nodeSelector"] == {"pool": "observability"}
    assert values["priorityClassName"] == "observability"
    assert values["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert values["image"]["registry"] == REGISTRY
    assert values["tolerations"][0]["key"] == "dedicated"


def test_no_placement_by_default_and_docker_hub_images() -> None:
    config = load_config({"server": {"backend": "kubernetes"}}, "t")
    assert pod_placement(config.server.kubernetes) == {}
    assert image_ref(config.server, "grafana/pyroscope", "2.2.1") == "grafana/pyroscope:2.2.1"


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ({"imageRegistry": "https://registry.example.com"}, "pyroscope:server.imageRegistry"),
        ({"imageRegistry": "registry.example.com/"}, "pyroscope:server.imageRegistry"),
        (
            {"kubernetes": {"scheduling": {"affinity": {"nodeAfinity": {}}}}},
            "pyroscope:server.kubernetes.scheduling.affinity",
        ),
        (
            {"kubernetes": {"scheduling": {"tolerations": [{"effect": "Sometimes"}]}}},
            "pyroscope:server.kubernetes.scheduling.tolerations",
        ),
    ],
)
def test_bad_placement_is_refused_with_its_key(server: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"server": {"backend": "kubernetes", **server}}, "t", PROJECT_DIR)
    assert key in str(error.value)
