"""The offline render: layout, determinism, transforms applied, secrets never written, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.command import render, render_command
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.render.writer import write_render

from tests.harness import PROJECT_DIR, STACKS

CANARY = "canary-7f3a9c2e-do-not-leak"


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_the_documented_layout(rendered, stack):
    out = rendered[stack]
    document = json.loads((out / "resources.json").read_text())
    assert document["stack"] == stack
    assert document["resources"], "the stack registers resources"
    for entry in document["resources"]:
        # "aliases" only where the resource registers some (its former types or names).
        assert set(entry) - {"aliases"} == {"type", "name", "parent", "custom", "options", "inputs"}
        assert entry.get("aliases", [{}]), "no empty aliases list"
        assert {"protect", "retainOnDelete", "dependsOn", "deleteBeforeReplace"} <= set(entry["options"])
    assert (out / "outputs.json").is_file()
    assert list((out / "files").rglob("*")), "generated config files are written"
    if stack != "local":
        manifests = list((out / "kubernetes").rglob("*.yaml"))
        assert manifests
        for path in manifests:
            manifest = yaml.safe_load(path.read_text())
            assert {"apiVersion", "kind", "metadata"} <= set(manifest)
        for path in (out / "ecs").glob("*.json"):
            request = json.loads(path.read_text())
            assert isinstance(request["containerDefinitions"], list)
            assert path.stem == request["family"]


@pytest.mark.parametrize("stack", STACKS)
def test_rendering_twice_gives_identical_bytes(rendered, tmp_path, stack):
    again = tmp_path / stack
    render(PROJECT_DIR, stack, again)
    assert tree_bytes(again) == tree_bytes(rendered[stack])


@pytest.mark.parametrize("stack", STACKS)
def test_set_secret_value_appears_nowhere_in_the_render(tmp_path, stack):
    out = tmp_path / stack
    result = render(PROJECT_DIR, stack, out, secret_sets=[f"authToken={CANARY}"])
    assert result.counts["resources"] > 0
    for name, content in tree_bytes(out).items():
        assert CANARY.encode() not in content, f"{name} leaks the secret"


def test_set_overrides_a_config_path_for_one_render(tmp_path):
    out = tmp_path / "local"
    render(PROJECT_DIR, "local", out, sets=["server.retention=45d"])
    configs = [p for p in (out / "files").rglob("config.yaml")]
    assert configs, "the Pyroscope config file is rendered"
    assert "45d" in configs[0].read_text()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyroscope_bundle.cli", *args],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_bad_config_exits_non_zero_with_one_clear_message_and_no_traceback(tmp_path):
    out = tmp_path / "bad"
    result = run_cli("render", "--stack", "local", "--out", str(out), "--set", "server.retention=15 days",
                     "--set-secret", f"authToken={CANARY}")  # fmt: skip
    assert result.returncode == 2
    assert 'pyroscope:server.retention: "15 days" is not a duration; use e.g. 15d, 360h' in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert CANARY not in result.stderr + result.stdout
    assert not out.exists(), "nothing is written for a bad config"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "server.retention"], "--set 'server.retention': use KEY=VALUE"),
        (["--set", "server..retention=1d"], "not a config path"),
        (["--set", "services[3].name=x"], "index 3 is past the end"),
    ],
)
def test_cli_bad_flags_are_clear_errors(tmp_path, capsys, args, message):
    sets = [args[1]]
    status = render_command(PROJECT_DIR, "local", tmp_path / "x", sets, [])
    assert status == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_stack_lists_the_available_ones(tmp_path, capsys):
    assert render_command(PROJECT_DIR, "prod", tmp_path / "x", [], []) == 2
    assert "available: local, production, staging" in capsys.readouterr().err


def _add_label_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    if args.type_ != "kubernetes:core/v1:ConfigMap":
        return None
    props: dict[str, Any] = dict(args.props)
    props["metadata"] = {**props["metadata"], "labels": {"added-by": "stack-transform"}}
    return pulumi.ResourceTransformResult(props, args.opts)


def _program_with_transform_and_secret() -> None:
    pulumi.runtime.register_resource_transform(_add_label_transform)
    token = pulumi.Config("pyroscope").require_secret("authToken")
    namespace = k8s.core.v1.Namespace("ns", metadata={"name": "demo"})
    k8s.core.v1.ConfigMap(
        "cm", metadata={"name": "cm", "namespace": "demo"}, data={"k": "v"},
        opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True, depends_on=[namespace]),
    )  # fmt: skip
    k8s.core.v1.Secret(
        "creds", metadata={"name": "creds", "namespace": "demo"}, string_data={"password": token}
    )
    pulumi.export("token", token)


def test_render_applies_stack_transforms_records_options_and_redacts_secrets(tmp_path):
    run = run_program(
        _program_with_transform_and_secret, stack="t",
        config={"pyroscope:authToken": CANARY}, secret_keys=["pyroscope:authToken"],
    )  # fmt: skip
    write_render(run, tmp_path, "t")
    configmap = yaml.safe_load((tmp_path / "kubernetes/demo/configmap-cm.yaml").read_text())
    assert configmap["metadata"]["labels"] == {"added-by": "stack-transform"}
    entries = {e["name"]: e for e in json.loads((tmp_path / "resources.json").read_text())["resources"]}
    assert entries["cm"]["options"]["protect"] is True
    assert entries["cm"]["options"]["retainOnDelete"] is True
    assert entries["cm"]["options"]["dependsOn"] == ["ns"]
    secret = yaml.safe_load((tmp_path / "kubernetes/demo/secret-creds.yaml").read_text())
    assert secret["stringData"] == {"password": REDACTED}
    assert json.loads((tmp_path / "outputs.json").read_text())["token"] == REDACTED
    assert all(CANARY.encode() not in content for content in tree_bytes(tmp_path).values())


def test_a_secret_in_a_plain_config_key_is_refused_not_deployed_in_plain_text(tmp_path, capsys):
    """`pulumi config set --secret --path server.x` makes pyroscope:server secret; its values
    would end up in plain resources, so the program refuses it with the key named."""
    status = render_command(
        PROJECT_DIR, "local", tmp_path / "x", [], ["target.url=https://secret.example.com"]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "pyroscope:target: holds a secret (set with --secret)" in err
    assert "secret.example.com" not in err
    assert not (tmp_path / "x").exists()
