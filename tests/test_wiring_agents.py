"""Agent delivery without an image rebuild, on Kubernetes: the init container, its volume and the
runtime pointed at the copy - exact paths, file names and command lines (cited upstream in
wiring/agents.py), run for real where they can be (the download script against a loopback server,
JDK_JAVA_OPTIONS next to a workload's own JAVA_TOOL_OPTIONS in a real JVM), and judged by
kubernetes-validate (strict) and checkov."""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pulumi
import pytest
import yaml
from pyroscope_bundle import constants
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring import agents
from pyroscope_bundle.wiring.kubernetes import (
    EnvConflictError,
    deployment_patch_spec,
    kubernetes_transform,
    wire_workload_spec,
)
from pyroscope_bundle.wiring.settings import build_settings
from pyroscope_bundle_runtime.contract import Runtime

from tests.checkov_scan import Scan
from tests.gateway_stack import SHUTDOWN_POLL
from tests.harness import deploy_with
from tests.test_kubernetes_manifests import KUBERNETES_VERSION

ENDPOINT = Endpoint(url="https://profiles.example.com", basic_auth_user="123456")
SHA = "0" * 64
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DOTNET_IMAGE_FILES = ["/Pyroscope.Profiler.Native.so", "/Pyroscope.Linux.ApiWrapper.x64.so"]


def deployment(name: str = "orders", env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A workload hardened the way checkov wants it, so what the wiring adds is all it judges."""
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "name": name,
        "image": f"registry.example.com/{name}:1.0.0",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "securityContext": security,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **({"env": env} if env else {}),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def settings(runtime: str, injection: agents.AgentInjection | None, **extra: Any):
    return build_settings(
        service="orders",
        runtime=cast(Runtime, runtime),
        environment="prod",
        endpoint=ENDPOINT,
        agent=injection,
        **extra,
    )


def wired(runtime: str, injection: agents.AgentInjection | None, **extra: Any) -> dict[str, Any]:
    manifest = deployment()
    manifest["spec"] = wire_workload_spec(manifest["spec"], settings(runtime, injection, **extra))
    return manifest


def pod(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --- the exact objects ---------------------------------------------------------------------------


def test_dotnet_is_copied_from_the_upstream_image_and_loaded_from_the_copy():
    manifest = wired("dotnet", agents.copy_injection("dotnet"))
    spec = pod(manifest)
    (init,) = spec["initContainers"]
    assert init["image"] == "grafana/pyroscope-dotnet:0.15.0-glibc"
    # Pyroscope.Dockerfile (v0.15.0-pyroscope): both libraries at the image root, busybox `cp`.
    assert init["command"] == ["cp", *DOTNET_IMAGE_FILES, "/pyroscope-agent/"]
    assert init["volumeMounts"] == [{"name": "pyroscope-agent", "mountPath": "/pyroscope-agent"}]
    assert {"name": "pyroscope-agent", "emptyDir": {"sizeLimit": "128Mi"}} in spec["volumes"]
    (app,) = spec["containers"]
    assert {"name": "pyroscope-agent", "mountPath": "/pyroscope-agent", "readOnly": True} in app[
        "volumeMounts"
    ]
    assert {"name": "tmp", "mountPath": "/tmp"} in app["volumeMounts"], "the workload's own mounts stay"
    env = env_of(app)
    assert env["CORECLR_PROFILER_PATH"] == "/pyroscope-agent/Pyroscope.Profiler.Native.so"
    assert env["LD_PRELOAD"] == "/pyroscope-agent/Pyroscope.Linux.ApiWrapper.x64.so"
    assert env["LD_LIBRARY_PATH"] == "/pyroscope-agent"
    annotations = manifest["spec"]["template"]["metadata"]["annotations"]
    assert annotations["pyroscope-bundle/agent-source"] == "copied from grafana/pyroscope-dotnet:0.15.0-glibc"


def test_image_delivery_adds_nothing_but_the_environment():
    spec = pod(wired("dotnet", None))
    assert "initContainers" not in spec
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    env = env_of(spec["containers"][0])
    assert env["CORECLR_PROFILER_PATH"] == "/dotnet/Pyroscope.Profiler.Native.so"
    assert env["LD_LIBRARY_PATH"] == "/dotnet"


def test_java_copy_renames_the_jar_to_what_the_jvm_loads():
    injection = agents.copy_injection(
        "java", "registry.example.com/agents/java:2.9.1", "/agents/pyroscope-2.9.1.jar"
    )
    spec = pod(wired("java", injection))
    assert spec["initContainers"][0]["command"] == [
        "cp",
        "/agents/pyroscope-2.9.1.jar",
        "/pyroscope-agent/pyroscope.jar",
    ]
    assert env_of(spec["containers"][0])["JAVA_TOOL_OPTIONS"] == "-javaagent:/pyroscope-agent/pyroscope.jar"


def test_java_download_passes_url_and_checksum_as_environment():
    spec = pod(wired("java", agents.download_injection("java", SHA)))
    (init,) = spec["initContainers"]
    assert init["image"] == "curlimages/curl:8.21.0"
    assert init["command"][:2] == ["sh", "-c"] and init["command"][3] == "/pyroscope-agent"
    assert env_of(init) == {
        "PYROSCOPE_AGENT_URL": "https://github.com/grafana/pyroscope-java/releases/download/v2.9.1/pyroscope.jar",
        "PYROSCOPE_AGENT_SHA256": SHA,
    }
    annotations = wired("java", agents.download_injection("java", SHA))["spec"]["template"]["metadata"]
    assert "sha256 " + SHA in annotations["annotations"]["pyroscope-bundle/agent-source"]


def test_init_container_is_hardened_and_bounded():
    (init,) = pod(wired("java", agents.download_injection("java", SHA)))["initContainers"]
    security = init["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == constants.AGENT_UID
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert init["resources"]["limits"] == {"cpu": "200m", "memory": "64Mi"}


def test_only_the_named_containers_get_the_mount():
    manifest = deployment()
    sidecar = {"name": "envoy", "image": "envoyproxy/envoy:v1.31.0"}
    pod(manifest)["containers"].append(sidecar)
    spec = wire_workload_spec(
        manifest["spec"], settings("dotnet", agents.copy_injection("dotnet")), containers=["orders"]
    )
    app, proxy = spec["template"]["spec"]["containers"]
    assert any(m["name"] == "pyroscope-agent" for m in app["volumeMounts"])
    assert proxy == sidecar


def test_a_workload_already_using_the_agent_names_is_refused_not_overwritten():
    manifest = deployment()
    pod(manifest)["volumes"].append({"name": "pyroscope-agent", "hostPath": {"path": "/opt"}})
    with pytest.raises(EnvConflictError, match="pyroscope-agent"):
        wire_workload_spec(manifest["spec"], settings("dotnet", agents.copy_injection("dotnet")))
    # Wiring an already wired spec again is a no-op (identical entries).
    once = wired("dotnet", agents.copy_injection("dotnet"))
    twice = wire_workload_spec(once["spec"], settings("dotnet", agents.copy_injection("dotnet")))
    assert twice == once["spec"]


def test_the_patch_owns_exactly_the_agent_entries():
    spec = deployment_patch_spec(settings("dotnet", agents.copy_injection("dotnet")), None, None, ["orders"])
    pod_spec = spec["template"]["spec"]
    assert [c["name"] for c in pod_spec["initContainers"]] == ["pyroscope-agent"]
    assert pod_spec["volumes"] == [agents.kubernetes_volume()]
    assert pod_spec["containers"][0]["volumeMounts"] == [agents.kubernetes_mount()]


# --- the commands, run ---------------------------------------------------------------------------


@pytest.fixture
def jar_server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    content = b"PK\x03\x04 not really a jar, but bytes with a known checksum"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/pyroscope.jar":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", content
    finally:
        server.shutdown()
        server.server_close()


def run_download(injection: agents.AgentInjection, directory: Path) -> subprocess.CompletedProcess[str]:
    """The init container's exact command and environment, with the volume at ``directory``."""
    command = [*injection.command[:3], str(directory)]
    return subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", **injection.environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("sha256sum")), reason="needs curl and sha256sum"
)
def test_download_keeps_only_a_jar_with_the_pinned_checksum(jar_server, tmp_path):
    url, content = jar_server
    good = agents.download_injection("java", hashlib.sha256(content).hexdigest(), f"{url}/pyroscope.jar")
    result = run_download(good, tmp_path / "ok")
    (tmp_path / "ok").mkdir(exist_ok=True)
    assert result.returncode != 0, "the volume directory must exist (Kubernetes creates it)"
    result = run_download(good, tmp_path / "ok")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok" / "pyroscope.jar").read_bytes() == content
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["pyroscope.jar"]

    bad = agents.download_injection("java", SHA, f"{url}/pyroscope.jar")
    (tmp_path / "bad").mkdir()
    result = run_download(bad, tmp_path / "bad")
    assert result.returncode != 0
    assert not (tmp_path / "bad" / "pyroscope.jar").exists(), "a foreign jar never gets the loaded name"

    missing = agents.download_injection("java", hashlib.sha256(content).hexdigest(), f"{url}/missing.jar")
    (tmp_path / "missing").mkdir()
    assert run_download(missing, tmp_path / "missing").returncode != 0
    assert not (tmp_path / "missing" / "pyroscope.jar").exists()


AGENT_SOURCE = """
import java.lang.instrument.Instrumentation;
public class ProbeAgent {
    public static void premain(String args, Instrumentation inst) { System.out.println("agent attached"); }
}
"""
MAIN_SOURCE = """
public class Main {
    public static void main(String[] args) {
        System.out.println("workload flag=" + System.getProperty("workload.flag"));
    }
}
"""


@pytest.fixture(scope="module")
def probe_agent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real -javaagent jar (premain prints a line) and a main class, built with the JDK."""
    if not (shutil.which("javac") and shutil.which("jar") and shutil.which("java")):
        pytest.skip("needs a JDK (Debian openjdk-17-jdk-headless, scripts/system-packages.sh)")
    root = tmp_path_factory.mktemp("jvm")
    (root / "ProbeAgent.java").write_text(AGENT_SOURCE)
    (root / "Main.java").write_text(MAIN_SOURCE)
    (root / "MANIFEST.MF").write_text("Premain-Class: ProbeAgent\n")
    subprocess.run(
        ["javac", "-d", str(root), str(root / "ProbeAgent.java"), str(root / "Main.java")], check=True
    )
    subprocess.run(
        [
            "jar",
            "cfm",
            str(root / "pyroscope.jar"),
            str(root / "MANIFEST.MF"),
            "-C",
            str(root),
            "ProbeAgent.class",
        ],
        check=True,
    )
    return root


def run_jvm(root: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["java", "-cp", str(root), "Main"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout + result.stderr


def wired_java_env(workload_env: list[dict[str, str]], **extra: Any) -> dict[str, str]:
    manifest = deployment(env=workload_env)
    spec = wire_workload_spec(
        manifest["spec"], settings("java", agents.copy_injection("java", "agents:1"), **extra)
    )
    return {k: v for k, v in env_of(spec["template"]["spec"]["containers"][0]).items() if isinstance(v, str)}


def test_jdk_java_options_adds_the_agent_next_to_the_workloads_own_flags(probe_agent):
    own = [{"name": "JAVA_TOOL_OPTIONS", "value": "-Dworkload.flag=kept -Xmx64m"}]
    env = wired_java_env(own, java_options_variable="JDK_JAVA_OPTIONS")
    assert env["JAVA_TOOL_OPTIONS"] == "-Dworkload.flag=kept -Xmx64m", "the workload's variable is untouched"
    assert env["JDK_JAVA_OPTIONS"] == "-javaagent:/pyroscope-agent/pyroscope.jar"
    # In the real JVM (the jar at the injected path's stand-in): the agent attaches and the
    # workload's own flags still apply.
    jvm_env = {**env, "JDK_JAVA_OPTIONS": f"-javaagent:{probe_agent / 'pyroscope.jar'}"}
    output = run_jvm(probe_agent, jvm_env)
    assert "agent attached" in output
    assert "workload flag=kept" in output
    # The control: without the wired variable no agent is attached.
    assert "agent attached" not in run_jvm(probe_agent, {"JAVA_TOOL_OPTIONS": env["JAVA_TOOL_OPTIONS"]})


def test_java_tool_options_set_by_the_workload_is_a_conflict_unless_handled():
    own = [{"name": "JAVA_TOOL_OPTIONS", "value": "-Xmx512m"}]
    with pytest.raises(EnvConflictError, match="JAVA_TOOL_OPTIONS"):
        wired_java_env(own)
    # Or the wiring owns the variable with the workload's flags in front (removed from the workload).
    env = wired_java_env([], java_options="-Xmx512m")
    assert env["JAVA_TOOL_OPTIONS"] == "-Xmx512m -javaagent:/pyroscope-agent/pyroscope.jar"


def test_java_options_reach_the_jvm_in_order(probe_agent):
    env = wired_java_env([], java_options="-Dworkload.flag=from-bundle")
    jvm_env = {"JAVA_TOOL_OPTIONS": env["JAVA_TOOL_OPTIONS"].replace("/pyroscope-agent", str(probe_agent))}
    output = run_jvm(probe_agent, jvm_env)
    assert "agent attached" in output and "workload flag=from-bundle" in output


# --- independent validators ----------------------------------------------------------------------

VARIANTS = {
    "dotnet-copy": ("dotnet", agents.copy_injection("dotnet")),
    "java-copy": ("java", agents.copy_injection("java", "registry.example.com/agents/java:2.9.1")),
    "java-download": ("java", agents.download_injection("java", SHA)),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_wired_deployment_passes_kubernetes_validate_strict(variant):
    manifest = wired(*VARIANTS[variant])
    assert kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION
    broken = copy.deepcopy(manifest)
    pod(broken)["initContainers"][0]["volumeMount"] = pod(broken)["initContainers"][0].pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


# The password reaches the SDKs only as PYROSCOPE_BASIC_AUTH_PASSWORD (from a secretKeyRef): every
# SDK reads it from the environment, so "secrets as files" (CKV_K8S_35) cannot apply to the wiring.
WIRING_ACCEPTS = {"CKV_K8S_35"}


def write_manifests(target: Path, manifests: dict[str, dict[str, Any]]) -> None:
    """Each manifest in its own file, its Deployment named after it."""
    for name, manifest in manifests.items():
        named = copy.deepcopy(manifest)
        named["metadata"]["name"] = name
        (target / f"{name}.yaml").write_text(yaml.safe_dump(named))


def checkov_manifests() -> dict[str, dict[str, Any]]:
    """What checkov judges (in the session's one run, tests/checkov_scan.py): the unwired
    baseline, a loose injection (the check can fail) and every wiring variant."""
    # The check can fail: an init container without the hardening is reported.
    loose = wired("dotnet", agents.copy_injection("dotnet"))
    for field in ("securityContext", "resources"):
        del pod(loose)["initContainers"][0][field]
    manifests = {"baseline": deployment(), "loose": loose}
    manifests.update({variant: wired(*VARIANTS[variant]) for variant in sorted(VARIANTS)})
    return manifests


@pytest.mark.slow
def test_checkov_finds_nothing_new_in_the_injected_agent(checkov_scan: Scan) -> None:
    part = checkov_scan.part("wiring")
    manifests = checkov_manifests()
    assert part.files == sorted(f"{name}.yaml" for name in manifests)
    failed: dict[str, set[str]] = {name: set() for name in manifests}
    for check in part.failed:
        failed[Path(check["file_path"]).stem].add(check["check_id"])
    baseline = failed.pop("baseline")
    assert failed.pop("loose") - baseline - WIRING_ACCEPTS
    for variant, checks in sorted(failed.items()):
        assert checks - baseline <= WIRING_ACCEPTS, f"{variant}: {checks - baseline}"


# --- through the config, the stacks and the transform ---------------------------------------------


def shop_service(name: str, runtime: str, agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "platform": "kubernetes",
        "runtime": runtime,
        "agent": agent,
        "kubernetes": {"namespace": "shop"},
        **extra,
    }


def test_config_agent_reaches_the_patch():
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": "https://profiles.example.com"},
            "services": [
                shop_service("invoices", "dotnet", {"delivery": "copy"}),
                shop_service(
                    "checkout",
                    "java",
                    {
                        "delivery": "download",
                        "sha256": SHA,
                        "url": "https://mirror.example.com/pyroscope.jar",
                    },
                ),
            ],
        }
    )
    patches = {r.name: r.inputs for r in deployed.of_type("kubernetes:apps/v1:DeploymentPatch")}
    dotnet = patches["profiler-invoices"]["spec"]["template"]["spec"]
    assert dotnet["initContainers"][0]["image"] == constants.DOTNET_AGENT_IMAGE
    java = patches["profiler-checkout"]["spec"]["template"]["spec"]
    assert (
        env_of(java["initContainers"][0])["PYROSCOPE_AGENT_URL"] == "https://mirror.example.com/pyroscope.jar"
    )


JAVA_COPY = {"delivery": "copy", "image": "i:1"}
REFUSED = {
    "python-inject": (
        shop_service("a", "python", {"delivery": "copy"}),
        "agent.delivery",
        "pyroscope-bundle-runtime",
    ),
    "go-inject": (
        shop_service("a", "go", {"delivery": "download", "sha256": SHA}),
        "agent.delivery",
        "compiled",
    ),
    "java-copy-no-image": (shop_service("a", "java", {"delivery": "copy"}), "agent.image", "no official"),
    "java-download-no-sha": (
        shop_service("a", "java", {"delivery": "download"}),
        "agent.sha256",
        "no checksum",
    ),
    "dotnet-download": (
        shop_service("a", "dotnet", {"delivery": "download", "sha256": SHA}),
        "agent.delivery",
        "per-architecture",
    ),
    "url-without-download": (
        shop_service("a", "java", {**JAVA_COPY, "url": "https://x.example.com/a.jar"}),
        "agent.url",
        "no effect",
    ),
    "java-options-for-dotnet": (
        shop_service("a", "dotnet", {"javaOptions": "-Xmx1g"}),
        "agent.javaOptions",
        "no effect",
    ),
    "javaagent-in-options": (
        shop_service("a", "java", {"javaOptions": "-javaagent:/x.jar"}),
        "agent.javaOptions",
        "-javaagent",
    ),
    "agent-path-with-injection": (
        shop_service("a", "java", JAVA_COPY, javaAgentPath="/app/p.jar"),
        "javaAgentPath",
        "injected",
    ),
    "go-sample-rate": (shop_service("a", "go", {}, sampleRate=250), "sampleRate", "fixed 100 Hz"),
    "bad-sha": (shop_service("a", "java", {"delivery": "download", "sha256": "abc"}), "agent.sha256", ""),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_impossible_agent_settings_are_refused_naming_the_key(case):
    service, key, reason = REFUSED[case]
    with pytest.raises(ConfigError) as caught:
        load_config(
            {"target": {"kind": "external", "url": "https://p.example.com"}, "services": [service]}, "t"
        )
    message = str(caught.value)
    assert f"pyroscope:services[0].{key}" in message and reason in message, message


def test_the_transform_injects_on_the_agent_annotation():
    transform = kubernetes_transform(ENDPOINT, "prod", secret=None)
    manifest = deployment()
    manifest["metadata"]["labels"] = {"pyroscope-bundle/profile": "true"}
    manifest["metadata"]["annotations"] = {
        "pyroscope-bundle/runtime": "dotnet",
        "pyroscope-bundle/agent": "copy",
    }
    args = pulumi.ResourceTransformArgs(
        custom=True,
        type_="kubernetes:apps/v1:Deployment",
        name="orders",
        props={"metadata": manifest["metadata"], "spec": manifest["spec"]},
        opts=pulumi.ResourceOptions(),
    )
    result = transform(args)
    assert result is not None
    wired_spec: Any = result.props["spec"]
    spec = wired_spec["template"]["spec"]
    assert spec["initContainers"][0]["command"] == ["cp", *DOTNET_IMAGE_FILES, "/pyroscope-agent/"]
    manifest["metadata"]["annotations"]["pyroscope-bundle/agent"] = "copy"
    manifest["metadata"]["annotations"]["pyroscope-bundle/runtime"] = "python"
    with pytest.raises(ValueError, match="pyroscope-bundle/agent"):
        transform(args)


def test_shipped_stacks_inject_their_java_and_dotnet_services(rendered):
    """Staging and production: Java and .NET on Kubernetes and ECS, no image changed."""
    seen = set()
    for stack in ("staging", "production"):
        for path in sorted((rendered[stack] / "kubernetes" / "shop").glob("deployment-*.patch.yaml")):
            patch = yaml.safe_load(path.read_text())
            template = patch["spec"]["template"]
            runtime = template["metadata"]["labels"]["pyroscope-bundle/runtime"]
            if runtime in ("java", "dotnet"):
                assert template["spec"]["initContainers"][0]["name"] == "pyroscope-agent", path
                assert template["metadata"]["annotations"]["pyroscope-bundle/agent-source"].startswith(
                    "copied"
                )
                seen.add(("kubernetes", runtime))
        for path in sorted((rendered[stack] / "ecs").glob("*.json")):
            request = json.loads(path.read_text())
            names = [c["name"] for c in request["containerDefinitions"]]
            if "pyroscope-agent" in names:
                app = request["containerDefinitions"][0]
                runtime = "java" if "JDK_JAVA_OPTIONS" in env_of({"env": app["environment"]}) else "dotnet"
                seen.add(("ecs", runtime))
    assert seen == {("kubernetes", "java"), ("kubernetes", "dotnet"), ("ecs", "java"), ("ecs", "dotnet")}


def test_egress_policy_lets_a_download_reach_its_url():
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": "https://profiles.example.com"},
            "services": [
                shop_service(
                    "checkout",
                    "java",
                    {
                        "delivery": "download",
                        "sha256": SHA,
                        "url": "http://mirror.internal:8081/pyroscope.jar",
                    },
                    kubernetes={"namespace": "shop", "networkPolicy": True},
                ),
                shop_service(
                    "invoices",
                    "dotnet",
                    {"delivery": "copy"},
                    kubernetes={"namespace": "shop", "networkPolicy": True},
                ),
            ],
        }
    )
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in deployed.of_type(NETWORK_POLICY)}
    download_ports = [rule.get("ports") for rule in policies["pyroscope-egress-checkout"]["egress"]]
    assert [{"protocol": "TCP", "port": 8081}] in download_ports
    copy_ports = [rule.get("ports") for rule in policies["pyroscope-egress-invoices"]["egress"]]
    assert [{"protocol": "TCP", "port": 8081}] not in copy_ports and len(copy_ports) == 2, (
        "copy needs no network"
    )
