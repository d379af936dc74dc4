"""The Pyroscope datasource for a Grafana installed with the Grafana Helm chart: an object its
datasource sidecar picks up (``sidecar.datasources``, label ``grafana_datasource: "1"``).

The provisioning file is the same document the Docker Grafana gets. Without credentials it is a
ConfigMap; once the query endpoint carries a password the file goes into a Secret with the same
label (the sidecar reads both), so a password never lands in a ConfigMap.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.grafana.datasource import provisioning_yaml, pyroscope_datasource

TYPE_TOKEN = "pyroscope-bundle:grafana:SidecarDatasource"
OBJECT_NAME = "pyroscope-grafana-datasource"
DATA_KEY = "pyroscope-datasource.yaml"


def sidecar_metadata(config: BundleConfig) -> dict[str, Any]:
    sidecar = config.grafana.sidecar
    return {
        "name": OBJECT_NAME,
        "namespace": sidecar.namespace,
        "labels": {
            sidecar.label: sidecar.label_value,
            constants.LABEL_NAME: "pyroscope",
            constants.LABEL_COMPONENT: "grafana-datasource",
            constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        },
    }


def sidecar_provisioning(config: BundleConfig, query: Endpoint, password: str | None = None) -> str:
    """The provisioning file for ``query`` (with ``password`` only when the caller holds a secret)."""
    assert isinstance(query.url, str), "the in-cluster query URL is known at plan time"
    datasource = pyroscope_datasource(
        config.grafana,
        url=query.url,
        tenant_id=query.tenant_id,
        basic_auth_user=query.basic_auth_user if isinstance(query.basic_auth_user, str) else None,
        password_reference=password,
    )
    return provisioning_yaml(config.grafana, datasource)


def sidecar_config_map(config: BundleConfig, query: Endpoint) -> dict[str, Any]:
    """The labelled ConfigMap (no credentials in it)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": sidecar_metadata(config),
        "data": {DATA_KEY: sidecar_provisioning(config, query)},
    }


class SidecarDatasource(pulumi.ComponentResource):
    def __init__(
        self, name: str, config: BundleConfig, query: Endpoint, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if query.basic_auth_password is None:
            manifest = sidecar_config_map(config, query)
            core_v1.ConfigMap(
                f"{OBJECT_NAME}-configmap", metadata=manifest["metadata"], data=manifest["data"], opts=child
            )
        else:
            # The password is a secret Output: so is everything derived from it.
            password: pulumi.Output[str] = query.basic_auth_password
            content = password.apply(lambda value: sidecar_provisioning(config, query, value))
            core_v1.Secret(
                f"{OBJECT_NAME}-secret",
                metadata=sidecar_metadata(config),
                type="Opaque",
                string_data={DATA_KEY: content},
                opts=child,
            )
        self.datasource_uid = config.grafana.datasource.uid
        self.register_outputs({"datasourceUid": self.datasource_uid})


def deploy_sidecar_datasource(config: BundleConfig, server: ServerDeployment | None) -> dict[str, Any]:
    """Register the datasource object for the Grafana Helm chart's sidecar; return stack outputs."""
    if server is None:
        pulumi.log.warn(
            "pyroscope:grafana.mode is kubernetes-sidecar but this stack deploys no server: "
            "no datasource was created"
        )
        return {}
    component = SidecarDatasource("pyroscope-grafana", config, server.query)
    return {"datasourceUid": component.datasource_uid}
