"""Every key of each generated config.yaml exists in Pyroscope's own reference for that exact version.

The facts are in tests/upstream/pyroscope-<version>-config-keys.txt, extracted from
grafana/pyroscope at the release tag (each file names its tag, commit and source; keys the
reference hides are checked against the Go struct tags, see extract_config_keys.py). A key the
server does not know is ignored or fatal depending on the version; either way it is a bug here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.config import load_config
from pyroscope_bundle.config.model import Server
from pyroscope_bundle.config.types import parse_duration, version_tuple
from pyroscope_bundle.server.helm import helm_values
from pyroscope_bundle.server.pyroscope_config import pyroscope_config

UPSTREAM = Path(__file__).parent / "upstream"
FACTS = {path.name.split("-")[1]: path for path in sorted(UPSTREAM.glob("pyroscope-*-config-keys.txt"))}
V2 = sorted(version for version in FACTS if version_tuple(version)[0] == 2)

# The bucket's region (the loader refuses microservices mode without one, or aws:region).
REGIONAL = {"objectStorage": {"region": "eu-west-1"}}


def known_keys(version: str) -> set[str]:
    lines = FACTS[version].read_text().splitlines()
    assert lines[0].startswith(f"# grafana/pyroscope v{version} (commit ")
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def leaves(node: Any, prefix: str = "") -> Iterator[str]:
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def unknown_keys(document: dict[str, Any], version: str) -> list[str]:
    """Leaf key paths the reference does not have. A map the reference documents without
    children (``distributor_usage_groups:``) takes keys the user names."""
    known = known_keys(version)
    maps = {key for key in known if key.endswith(".")}
    free_form = {m for m in maps if not any(key != m and key.startswith(m) for key in known)}
    return [
        key
        for key in leaves(document)
        if key not in known and not any(key.startswith(prefix) for prefix in free_form)
    ]


def test_the_facts_cover_the_default_and_the_last_1x_and_each_2x_minor() -> None:
    assert constants.PYROSCOPE_DEFAULT_VERSION in FACTS
    assert constants.PYROSCOPE_LAST_V1_VERSION in FACTS
    assert {version_tuple(version)[:2] for version in V2} == {(2, 0), (2, 1), (2, 2)}


@pytest.mark.parametrize("version", sorted(FACTS))
@pytest.mark.parametrize("multitenancy", [False, True])
def test_every_generated_key_is_in_that_versions_reference(version: str, multitenancy: bool) -> None:
    server = Server.model_validate({"version": version, "retention": "14d", "multitenancy": multitenancy})
    assert unknown_keys(pyroscope_config(server), version) == []


@pytest.mark.parametrize("version", V2)
def test_the_charts_structured_config_keys_are_in_that_versions_reference(version: str) -> None:
    config = load_config(
        {
            "server": {
                "backend": "kubernetes",
                "version": version,
                "kubernetes": {"mode": "microservices", "helm": REGIONAL},
            }
        },
        "t",
    )
    structured = helm_values(config.server, "bucket", region="eu-west-1")["pyroscope"]["structuredConfig"]
    assert unknown_keys(structured, version) == []


def test_the_check_can_fail() -> None:
    """A misspelt key and a 0.x key are reported; a key that only later versions know is too."""
    assert unknown_keys({"limits": {"retention": "7d"}, "storage-path": "/data"}, "2.2.1") == [
        "limits.retention",
        "storage-path",
    ]
    assert unknown_keys({"architecture_storage": "v2"}, "1.21.1") == ["architecture_storage"]
    # A free-form map takes any name, but only where the reference has one.
    assert unknown_keys({"limits": {"distributor_usage_groups": {"any/name": "{}"}}}, "2.2.1") == []
    assert unknown_keys({"limits": {"usage_groups": {"any/name": "{}"}}}, "2.2.1") == [
        "limits.usage_groups.any/name"
    ]


@pytest.mark.parametrize("version", V2)
def test_2x_runs_the_v2_storage_only(version: str) -> None:
    document = pyroscope_config(Server.model_validate({"version": version}))
    assert document["architecture_storage"] == "v2"
    # Dual mode's v1 compactor would write to ./data-compactor: not configured, not started.
    assert "compactor" not in document


@pytest.mark.parametrize("version", V2)
def test_retention_is_enforced_on_every_2x_version(version: str) -> None:
    """The metastore's index cleaner deletes expired partitions; before 2.2.0 its interval
    defaults to 0, which disables it (help-all.txt.tmpl at v2.0.0/v2.1.0 show no default)."""
    document = pyroscope_config(Server.model_validate({"version": version, "retention": "7d"}))
    assert document["limits"]["retention_period"] == "7d"
    interval = document["metastore"]["index"]["cleanup_interval"]
    assert parse_duration(interval).seconds > 0
