"""`pyroscope-bundle diff`: replacements and data volumes marked, secrets never shown, exit codes.

Synthetic render directories pin the provider rules (what replaces, what holds data); real
renders before/after a config change prove the end-to-end path users run in PRs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle.cli import main as cli_main
from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.command import render
from pyroscope_bundle.review import diff_dirs, to_markdown, to_text
from pyroscope_bundle.review.diff import MAX_DIFF_LINES_PER_FILE, ResourceDiff
from pyroscope_bundle.review.format import DATA_MARK, MAX_MARKDOWN_CHARS, REPLACE_MARK, TEXT_DATA_MARK

from tests.harness import PROJECT_DIR

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def resource(rtype: str, name: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "type": rtype,
        "name": name,
        "parent": options.pop("parent", None),
        "custom": True,
        "options": {
            "protect": False,
            "retainOnDelete": False,
            "deleteBeforeReplace": False,
            "ignoreChanges": [],
            "replaceOnChanges": [],
            "dependsOn": [],
            **options,
        },
        "inputs": inputs,
    }


def write_render(
    root: Path,
    resources: list[dict[str, Any]],
    files: dict[str, str | bytes] | None = None,
    stack: str = "dev",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "resources.json").write_text(json.dumps({"stack": stack, "resources": resources}))
    (root / "outputs.json").write_text("{}")
    for relative, content in (files or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def only_change(tmp_path: Path, before: dict[str, Any], after: dict[str, Any]) -> ResourceDiff:
    base = write_render(tmp_path / "base", [before])
    head = write_render(tmp_path / "head", [after])
    (stack,) = diff_dirs(base, head).stacks
    (change,) = stack.resources
    return change


def container(**inputs: Any) -> dict[str, Any]:
    defaults = {"image": "grafana/pyroscope:2.2.1", "envs": ["A=1", "B=2"], "restart": "unless-stopped"}
    return resource(CONTAINER, "pyroscope", {**defaults, **inputs})


def statefulset(**spec: Any) -> dict[str, Any]:
    base_spec = {
        "serviceName": "pyroscope-headless",
        "selector": {"matchLabels": {"app": "pyroscope"}},
        "template": {"spec": {"containers": [{"name": "pyroscope", "image": "grafana/pyroscope:2.2.1"}]}},
        "volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}
        ],
    }
    return resource(
        STATEFULSET,
        "pyroscope",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "pyroscope", "namespace": "pyroscope"},
            "spec": {**base_spec, **spec},
        },
    )


# --- replacement rules ----------------------------------------------------------------------


def test_container_env_change_replaces_and_names_the_variable(tmp_path: Path) -> None:
    change = only_change(tmp_path, container(), container(envs=["A=1", "B=3"]))
    assert change.status == "changed"
    assert change.replaced_by == ["envs[B]"]
    assert not change.data_volume


def test_container_restart_policy_is_updated_in_place(tmp_path: Path) -> None:
    change = only_change(tmp_path, container(), container(restart="always"))
    assert not change.replaces
    assert [c.label for c in change.changes] == ["restart"]


@pytest.mark.parametrize(
    ("inputs", "replacing"),
    [
        ({"image": "grafana/pyroscope:2.3.0"}, "image"),
        ({"ports": [{"internal": 4040, "external": 4041}]}, "ports"),
        ({"uploads": [{"file": "/etc/pyroscope/config.yaml", "content": "a: 2\n"}]}, "uploads"),
    ],
)
def test_container_image_ports_uploads_replace(
    tmp_path: Path, inputs: dict[str, Any], replacing: str
) -> None:
    before = container(
        ports=[{"internal": 4040, "external": 4040}],
        uploads=[{"file": "/etc/pyroscope/config.yaml", "content": "a: 1\n"}],
    )
    after = container(**{**before["inputs"], **inputs})
    change = only_change(tmp_path, before, after)
    assert change.replaces
    assert all(path.startswith(replacing) for path in change.replaced_by)


def test_container_volume_change_touches_data(tmp_path: Path) -> None:
    before = container(volumes=[{"volumeName": "pyroscope-data", "containerPath": "/data"}])
    after = container(volumes=[{"volumeName": "pyroscope-data-2", "containerPath": "/data"}])
    change = only_change(tmp_path, before, after)
    assert change.replaces and change.data_volume
    assert change.data_paths == ["volumes[0].volumeName"]


def test_docker_volume_rename_is_a_loud_data_replacement(tmp_path: Path) -> None:
    before = resource(VOLUME, "pyroscope-data", {"name": "pyroscope-data"}, protect=True)
    after = resource(VOLUME, "pyroscope-data", {"name": "pyroscope-data-v2"}, protect=True)
    base = write_render(tmp_path / "base", [before])
    head = write_render(tmp_path / "head", [after])
    report = diff_dirs(base, head)
    markdown, text = to_markdown(report), to_text(report)
    assert "> [!CAUTION]" in markdown and DATA_MARK in markdown and REPLACE_MARK in markdown
    assert "REPLACED: the new volume starts empty" in markdown
    assert "protected" in markdown
    assert TEXT_DATA_MARK in text


def test_removed_volume_is_marked_as_deleted(tmp_path: Path) -> None:
    base = write_render(tmp_path / "base", [resource(VOLUME, "pyroscope-data", {"name": "pyroscope-data"})])
    head = write_render(tmp_path / "head", [])
    (stack,) = diff_dirs(base, head).stacks
    (change,) = stack.resources
    assert change.status == "removed" and change.data_volume
    assert "is DELETED: its data is lost" in to_markdown(diff_dirs(base, head))


def test_statefulset_claim_template_change_replaces_and_touches_data(tmp_path: Path) -> None:
    claims = [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "50Gi"}}}}]
    change = only_change(tmp_path, statefulset(), statefulset(volumeClaimTemplates=claims))
    assert change.replaced_by == ["spec.volumeClaimTemplates[data].spec.resources.requests.storage"]
    assert change.data_volume


def test_statefulset_image_bump_rolls_in_place(tmp_path: Path) -> None:
    template = {"spec": {"containers": [{"name": "pyroscope", "image": "grafana/pyroscope:2.3.0"}]}}
    change = only_change(tmp_path, statefulset(), statefulset(template=template))
    assert not change.replaces and not change.data_volume
    assert [c.label for c in change.changes] == ["spec.template.spec.containers[pyroscope].image"]


@pytest.mark.parametrize("field", ["serviceName", "selector"])
def test_statefulset_identity_fields_replace(tmp_path: Path, field: str) -> None:
    new_value = "other" if field == "serviceName" else {"matchLabels": {"app": "other"}}
    change = only_change(tmp_path, statefulset(), statefulset(**{field: new_value}))
    assert change.replaces


def test_kubernetes_rename_replaces_any_object(tmp_path: Path) -> None:
    def service(name: str) -> dict[str, Any]:
        return resource(
            "kubernetes:core/v1:Service",
            "svc",
            {"kind": "Service", "metadata": {"name": name}, "spec": {"ports": []}},
        )

    assert only_change(tmp_path, service("a"), service("b")).replaced_by == ["metadata.name"]


def test_deployment_patch_only_replaces_on_identity(tmp_path: Path) -> None:
    def patch(env: str, namespace: str = "shop") -> dict[str, Any]:
        return resource(
            "kubernetes:apps/v1:DeploymentPatch",
            "checkout",
            {
                "metadata": {"name": "checkout", "namespace": namespace},
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "env": [{"name": "X", "value": env}]}]}
                    }
                },
            },
        )

    assert not only_change(tmp_path / "a", patch("1"), patch("2")).replaces
    assert only_change(tmp_path / "b", patch("1"), patch("1", "other")).replaced_by == ["metadata.namespace"]


def test_pvc_growth_is_in_place_but_marked_as_data(tmp_path: Path) -> None:
    def pvc(size: str, storage_class: str = "gp3") -> dict[str, Any]:
        return resource(
            PVC,
            "data",
            {
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data"},
                "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}},
            },
        )

    grow = only_change(tmp_path / "a", pvc("10Gi"), pvc("20Gi"))
    assert not grow.replaces and grow.data_volume
    moved = only_change(tmp_path / "b", pvc("10Gi"), pvc("10Gi", "standard"))
    assert moved.replaced_by == ["spec.storageClassName"] and moved.data_volume


def test_configmap_data_change_replaces_with_default_provider(tmp_path: Path) -> None:
    def configmap(text: str) -> dict[str, Any]:
        return resource(
            "kubernetes:core/v1:ConfigMap",
            "cfg",
            {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"config.yaml": text}},
        )

    change = only_change(tmp_path, configmap("a: 1\nb: 1\n"), configmap("a: 1\nb: 2\n"))
    assert change.replaced_by == ["data.config.yaml"]


def test_task_definition_env_change_is_a_new_revision(tmp_path: Path) -> None:
    def task(value: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
        definitions = [{"name": "app", "environment": [{"name": "PYROSCOPE_SERVER_ADDRESS", "value": value}]}]
        return resource(
            TASK_DEFINITION,
            "api",
            {"family": "api", "containerDefinitions": json.dumps(definitions), "tags": tags or {}},
        )

    change = only_change(tmp_path / "a", task("http://a"), task("http://b"))
    assert change.replaced_by == ["containerDefinitions[app].environment[PYROSCOPE_SERVER_ADDRESS].value"]
    assert "new task definition revision" in to_text(
        diff_dirs(tmp_path / "a" / "base", tmp_path / "a" / "head")
    )
    assert not only_change(tmp_path / "b", task("x"), task("x", {"team": "a"})).replaces


def test_s3_bucket_changes_are_data(tmp_path: Path) -> None:
    def bucket(name: str) -> dict[str, Any]:
        return resource("aws:s3/bucket:Bucket", "blocks", {"bucket": name})

    change = only_change(tmp_path, bucket("a"), bucket("b"))
    assert change.replaces and change.data_volume


def test_ignore_changes_suppresses_and_replace_on_changes_forces(tmp_path: Path) -> None:
    ignored = only_change(
        tmp_path / "a",
        container(),
        {**container(envs=["A=2", "B=2"]), "options": {"ignoreChanges": ["envs"]}},
    )
    assert not ignored.replaces
    forced = only_change(
        tmp_path / "b",
        container(),
        {**container(restart="always"), "options": {"replaceOnChanges": ["restart"]}},
    )
    assert forced.replaced_by == ["restart (replaceOnChanges)"]


def test_parent_change_means_a_new_urn(tmp_path: Path) -> None:
    change = only_change(tmp_path, container(), {**container(), "parent": "pyroscope-server"})
    assert change.replaces and "(parent)" in change.replaced_by[0]


# --- files, secrets, output formats, exit codes ----------------------------------------------


def test_file_trees_are_diffed_and_long_diffs_truncated(tmp_path: Path) -> None:
    long_before = "".join(f"line {i}\n" for i in range(400))
    long_after = "".join(f"LINE {i}\n" for i in range(400))
    base = write_render(
        tmp_path / "base",
        [],
        {"files/a.yaml": "x: 1\n", "ecs/api.json": long_before, "kubernetes/x.bin": b"\xff\x00"},
    )
    head = write_render(
        tmp_path / "head",
        [],
        {"files/a.yaml": "x: 2\n", "ecs/api.json": long_after, "kubernetes/new.yaml": "k: v\n"},
    )
    (stack,) = diff_dirs(base, head).stacks
    by_path = {item.path: item for item in stack.files}
    assert {path: item.status for path, item in by_path.items()} == {
        "files/a.yaml": "changed",
        "ecs/api.json": "changed",
        "kubernetes/x.bin": "removed",
        "kubernetes/new.yaml": "added",
    }
    assert "-x: 1" in by_path["files/a.yaml"].unified and "+x: 2" in by_path["files/a.yaml"].unified
    assert len(by_path["ecs/api.json"].unified) == MAX_DIFF_LINES_PER_FILE + 1
    assert by_path["kubernetes/x.bin"].binary


def test_secret_values_stay_redacted_and_are_called_out(tmp_path: Path) -> None:
    secret = resource(
        "aws:secretsmanager/secretVersion:SecretVersion", "token", {"secretId": "s", "secretString": REDACTED}
    )
    base = write_render(tmp_path / "base", [secret, container()])
    head = write_render(tmp_path / "head", [secret, container(restart="always")])
    markdown = to_markdown(diff_dirs(base, head))
    assert "secretString" in markdown and "never shown" in markdown
    assert "rotating `pyroscope:authToken`" in markdown


def test_markdown_escapes_table_breakers(tmp_path: Path) -> None:
    change = only_change(tmp_path, container(command=["sh"]), container(command=["a|b", "`x`"]))
    base, head = tmp_path / "base", tmp_path / "head"
    markdown = to_markdown(diff_dirs(base, head))
    row = next(line for line in markdown.splitlines() if line.startswith("| <code>command"))
    assert row.count("|") == 4 and "&#124;" in row
    assert change.replaces


def test_huge_diff_fits_a_pr_comment(tmp_path: Path) -> None:
    many = [
        resource(CONTAINER, f"c{i}", {"image": f"img:{i}", "envs": [f"K{j}={j}" for j in range(30)]})
        for i in range(400)
    ]
    base = write_render(tmp_path / "base", [])
    head = write_render(tmp_path / "head", many)
    markdown = to_markdown(diff_dirs(base, head))
    assert len(markdown) <= MAX_MARKDOWN_CHARS
    assert "`pyroscope-bundle diff` locally" in markdown


def test_stacks_laid_out_per_directory_and_added_stack(tmp_path: Path) -> None:
    write_render(tmp_path / "base" / "dev", [container()], stack="dev")
    write_render(tmp_path / "head" / "dev", [container()], stack="dev")
    write_render(tmp_path / "head" / "prod", [container()], stack="prod")
    report = diff_dirs(tmp_path / "base", tmp_path / "head")
    assert [(s.stack, s.status) for s in report.stacks] == [("dev", "unchanged"), ("prod", "added")]
    assert report.has_changes
    assert "`prod` (added): 1 added" in to_markdown(report)


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same_a = write_render(tmp_path / "a", [container()])
    same_b = write_render(tmp_path / "b", [container()])
    other = write_render(tmp_path / "c", [container(restart="always")])
    assert cli_main(["diff", str(same_a), str(same_b)]) == 0
    assert "dev: no changes" in capsys.readouterr().out
    assert cli_main(["diff", "--format", "markdown", str(same_a), str(other)]) == 1
    assert capsys.readouterr().out.startswith("## Render diff")
    assert cli_main(["diff", str(same_a), str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "resources.json").write_text("{not json")
    assert cli_main(["diff", str(same_a), str(tmp_path / "broken")]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


# --- real renders ---------------------------------------------------------------------------


def _render(
    tmp_path: Path, name: str, stack: str, sets: list[str] | None = None, secret_sets: list[str] | None = None
) -> Path:
    out = tmp_path / name
    render(PROJECT_DIR, stack, out, sets=sets or [], secret_sets=secret_sets or [])
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _all_text(root: Path) -> str:
    return "\n".join(content.decode("utf-8", "replace") for content in _tree(root).values())


def test_real_rerender_is_identical_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _render(tmp_path, "first", "staging")
    second = _render(tmp_path, "second", "staging")
    assert _tree(first) == _tree(second), "the same input renders to identical bytes"
    assert cli_main(["diff", "--format", "markdown", str(first), str(second)]) == 0
    assert "`staging`: no changes" in capsys.readouterr().out


def test_real_retention_change_shows_in_config_and_resources(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", sets=["server.retention=45d"])
    report = diff_dirs(base, head)
    (stack,) = report.stacks
    changed_files = {item.path: item for item in stack.files}
    assert report.has_changes
    # Wherever the render carries the retention, the diff shows the new value on a + line.
    carrying = [
        path
        for path, content in _tree(head).items()
        if b"45d" in content and path.startswith(("files/", "kubernetes/", "ecs/"))
    ]
    assert "files/kubernetes/pyroscope/pyroscope-config/config.yaml" in carrying
    for path in carrying:
        assert any(line.startswith("+") and "45d" in line for line in changed_files[path].unified), path
    config_resources = [r for r in stack.resources if any("45d" in json.dumps(c.after) for c in r.changes)]
    assert config_resources, "the resource holding the config is listed as changed"
    assert not any(r.data_volume for r in stack.resources), "retention does not touch a data volume"


def test_real_version_bump_changes_the_server_image(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", sets=["server.version=2.1.0"])
    (stack,) = diff_dirs(base, head).stacks
    image_changes = [
        (r, c)
        for r in stack.resources
        for c in r.changes
        if isinstance(c.after, str) and c.after.endswith("pyroscope:2.1.0")
    ]
    assert image_changes, "the image bump is listed with before/after"
    for changed, change in image_changes:
        assert str(change.before).endswith("pyroscope:2.2.1")
        # A Docker container is recreated for a new image; a StatefulSet rolls in place.
        assert changed.replaces == (changed.type == CONTAINER)
    assert not any(r.data_volume for r in stack.resources), "a version bump keeps the data volume"


def test_real_new_service_is_added(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    service = "{name: inventory, platform: kubernetes, runtime: go, kubernetes: {namespace: shop}}"
    head = _render(tmp_path, "head", "staging", sets=[f"services[5]={service}"])
    (stack,) = diff_dirs(base, head).stacks
    added = stack.of_status("added")
    assert not stack.of_status("removed")
    assert [(r.type, r.name) for r in added] == [("kubernetes:apps/v1:DeploymentPatch", "profiler-inventory")]
    assert "kubernetes/shop/deployment-inventory.patch.yaml" in {f.path for f in stack.files}


def test_real_token_rotation_never_leaks_and_is_called_out(tmp_path: Path) -> None:
    old, new = "old-token-8f1d2c", "rotated-token-5b7e9a"
    base = _render(tmp_path, "base", "production", secret_sets=[f"authToken={old}"])
    head = _render(tmp_path, "head", "production", secret_sets=[f"authToken={new}"])
    report = diff_dirs(base, head)
    output = to_markdown(report) + to_text(report)
    for token in (old, new):
        assert token not in _all_text(base) + _all_text(head) + output
    (stack,) = report.stacks
    # Rotating the token changes the rollout hash (one pod-template annotation per wired
    # Deployment, one env var per wired task definition) and the secrets that hold the token,
    # which show as "secret changed" without a value; nothing else.
    hash_paths = {"pyroscope-bundle/credentials-hash", "value"}
    rolled = {r.name for r in stack.resources if r.changes}
    for changed in stack.resources:
        assert changed.status == "changed"
        assert not changed.data_volume, "rotating the token never touches a data volume"
        if changed.changes:
            paths = [c.path[-1] for c in changed.changes]
            assert set(paths) <= hash_paths and len(paths) == 1, (changed.name, paths)
            assert not changed.secret_changes
        else:
            assert changed.secret_changes, changed.name
        if changed.type == TASK_DEFINITION:
            assert changed.replaces and "new task definition revision" in changed.replace_note
    assert sorted(rolled) == [
        "profiler-billing-worker", "profiler-checkout", "profiler-payments-api", "profiler-search",
    ]  # fmt: skip
    holders = {(r.type, r.name): r.secret_changes for r in stack.resources if r.secret_changes}
    assert holders == {
        ("kubernetes:core/v1:Secret", "profiler-credentials-shop"): ["stringData.password"],
        ("aws:secretsmanager/secretVersion:SecretVersion", "profiler-credentials"): ["secretString"],
    }
    assert "secret changed" in to_text(report) and "🔑 secret changed" in to_markdown(report)
    assert REDACTED in (head / "resources.json").read_text()
    assert stack.secret_inputs
    assert "never shown" in output


COMPONENT = "acme:index:Group"


def _aliased(entry: dict[str, Any], *aliases: dict[str, str]) -> dict[str, Any]:
    return {**entry, "aliases": list(aliases)}


def test_a_component_renamed_with_an_alias_is_the_same_resource(tmp_path: Path) -> None:
    child = resource(STATEFULSET, "db", {"spec": {"replicas": 1}}, parent="group")
    base = write_render(tmp_path / "base", [resource("acme:index:OldGroup", "group", {}), child])
    head = write_render(
        tmp_path / "head",
        [_aliased(resource(COMPONENT, "group", {}), {"type": "acme:index:OldGroup"}), child],
    )
    (stack,) = diff_dirs(base, head).stacks
    assert stack.status == "unchanged", [(d.status, d.key) for d in stack.resources]


def test_a_renamed_parent_passes_its_alias_to_its_children(tmp_path: Path) -> None:
    base = write_render(
        tmp_path / "base",
        [
            resource(COMPONENT, "old", {}),
            resource(STATEFULSET, "db", {"spec": {"replicas": 1}}, parent="old"),
        ],
    )
    head = write_render(
        tmp_path / "head",
        [
            _aliased(resource(COMPONENT, "new", {}), {"name": "old"}),
            resource(STATEFULSET, "db", {"spec": {"replicas": 1}}, parent="new"),
        ],
    )
    (stack,) = diff_dirs(base, head).stacks
    assert stack.status == "unchanged", [(d.status, d.key, d.replaced_by) for d in stack.resources]


def test_a_urn_alias_pairs_too_and_changes_still_show(tmp_path: Path) -> None:
    before = resource(STATEFULSET, "db-old", {"spec": {"replicas": 1}})
    after = _aliased(
        resource(STATEFULSET, "db", {"spec": {"replicas": 2}}),
        {"urn": f"urn:pulumi:dev::proj::{COMPONENT}${STATEFULSET}::db-old"},
    )
    change = only_change(tmp_path, before, after)
    assert change.status == "changed"
    assert [c.label for c in change.changes] == ["spec.replicas"]


def test_an_alias_to_something_else_pairs_nothing(tmp_path: Path) -> None:
    base = write_render(tmp_path / "base", [resource("acme:index:OldGroup", "group", {})])
    head = write_render(
        tmp_path / "head", [_aliased(resource(COMPONENT, "group", {}), {"type": "acme:index:Other"})]
    )
    (stack,) = diff_dirs(base, head).stacks
    assert [(d.status, d.type) for d in stack.resources] == [
        ("added", COMPONENT),
        ("removed", "acme:index:OldGroup"),
    ]
