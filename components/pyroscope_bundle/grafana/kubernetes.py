"""The Pyroscope datasource for a Grafana installed with the Grafana Helm chart: an object its
datasource sidecar picks up (``sidecar.datasources``, label ``grafana_datasource: "1"``).

The provisioning file is the same document the Docker Grafana gets. Without credentials (no
gateway) it is a ConfigMap. Behind the gateway the datasources carry the gateway's password, so
the file goes into a Secret with the same label instead, and the whole ``stringData`` is a secret
Output: a password never lands in a ConfigMap, the render or the logs.

The sidecar reads Secrets as well as ConfigMaps by default: grafana/helm-charts
``charts/grafana/values.yaml`` (chart 10.5.15, the last before the chart moved to
grafana-community/helm-charts) sets ``sidecar.datasources.resource: both`` ("search in
configmap, secret or both"). ``sidecar.datasources.enabled`` is false by default: turn it on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1

from pyroscope_bundle import constants
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config.model import Grafana, Sidecar
from pyroscope_bundle.deprecation import bundle_config
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.grafana.datasource import (
    DatasourceTarget,
    datasource_targets,
    provisioning_literal,
    provisioning_yaml,
    pyroscope_datasource,
)
from pyroscope_bundle.naming import claim

__all__ = [
    "DATA_KEY",
    "DEFAULT_NAME",
    "SECRET_DATA_KEY",
    "SidecarDatasource",
    "deploy_sidecar_datasource",
    "sidecar_config_map",
]

# The component's name in the bundle's program: its object and files keep the names below.
DEFAULT_NAME = "pyroscope-grafana"
OBJECT_NAME = f"{DEFAULT_NAME}-datasource"
DATA_KEY = "pyroscope-datasource.yaml"
# The Secret's file has its own name: the sidecar writes each key to a file of that name and
# deletes the file when its object goes. Switching the gateway on or off creates the new object
# before Pulumi deletes the old one; a shared name would let that deletion remove the new file.
SECRET_DATA_KEY = "pyroscope-datasource-auth.yaml"


def object_name(name: str) -> str:
    """The ConfigMap/Secret name of the component ``name`` (``pyroscope-grafana-datasource``)."""
    return f"{name}-datasource"


def data_keys(name: str) -> tuple[str, str]:
    """The file names (ConfigMap key, Secret key) of the component ``name``.

    The sidecar writes every labelled object's keys into ONE folder, so a second component in
    the same Grafana needs its own file names; the default component keeps its historical ones.
    """
    if name == DEFAULT_NAME:
        return DATA_KEY, SECRET_DATA_KEY
    return f"{name}-datasource.yaml", f"{name}-datasource-auth.yaml"


def sidecar_metadata(sidecar: Sidecar, name: str = OBJECT_NAME) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": sidecar.namespace,
        "labels": {
            sidecar.label: sidecar.label_value,
            constants.LABEL_NAME: "pyroscope",
            constants.LABEL_COMPONENT: "grafana-datasource",
            constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        },
    }


def _known(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the in-cluster query {what} must be known at plan time, got {value!r}")
    return value


def has_credentials(targets: Sequence[DatasourceTarget]) -> bool:
    """Whether the datasources carry passwords (all of them do, or none)."""
    with_password = [target.endpoint.basic_auth_password is not None for target in targets]
    if any(with_password) and not all(with_password):
        raise ValueError("either every Pyroscope datasource authenticates or none does")
    return any(with_password)


def sidecar_provisioning(
    grafana: Grafana, targets: Sequence[DatasourceTarget], passwords: Sequence[str] = ()
) -> str:
    """The provisioning file for ``targets``.

    ``passwords`` are the resolved secret values, in target order: pass them only inside the
    ``apply`` of a secret Output, whose result (this file) then stays secret.
    """
    if passwords and len(passwords) != len(targets):
        raise ValueError("one password per datasource")
    entries = []
    for index, target in enumerate(targets):
        endpoint = target.endpoint
        password = provisioning_literal(passwords[index]) if passwords else None
        entries.append(
            pyroscope_datasource(
                grafana,
                url=_known(endpoint.url, "URL"),
                tenant_id=endpoint.tenant_id,
                basic_auth_user=_known(endpoint.basic_auth_user, "user") if password is not None else None,
                password_reference=password,
                identity=target.identity,
            )
        )
    return provisioning_yaml(grafana, entries)


def sidecar_config_map(
    grafana: Grafana,
    query: Endpoint | None,
    per_tenant: Mapping[str, Endpoint] | None = None,
    *,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    """The labelled ConfigMap for datasources without credentials (one per tenant on a
    multi-tenant server without the gateway: the tenant header is no secret)."""
    targets = datasource_targets(grafana, query, per_tenant)
    if has_credentials(targets):
        raise ValueError("a datasource with a password belongs in a Secret, not a ConfigMap")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": sidecar_metadata(grafana.sidecar, object_name(name)),
        "data": {data_keys(name)[0]: sidecar_provisioning(grafana, targets)},
    }


def sidecar_secret_string_data(
    grafana: Grafana, targets: Sequence[DatasourceTarget], key: str = SECRET_DATA_KEY
) -> pulumi.Output[dict[str, str]]:
    """The Secret's whole ``stringData``, built inside the passwords' apply and kept secret."""
    passwords = [target.endpoint.basic_auth_password for target in targets]
    content = pulumi.Output.all(*passwords).apply(
        lambda values: {key: sidecar_provisioning(grafana, targets, [str(v) for v in values])}
    )
    return pulumi.Output.secret(content)


class SidecarDatasource(BundleComponent):
    """A ConfigMap (no credentials) or a Secret (gateway credentials) for the datasource sidecar.

    Its object is ``<name>-datasource`` in ``grafana.sidecar.namespace``: two components (two
    servers shown in one Grafana) need two names and two ``grafana.datasource.uid``.
    """

    def __init__(
        self,
        name: str,
        grafana: Grafana,
        query: Endpoint | None,
        per_tenant: Mapping[str, Endpoint] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        config = bundle_config(grafana, "SidecarDatasource", "its Grafana section")
        if config is not None:
            grafana = config.grafana
        # One Grafana (the sidecar's namespace): one datasource per uid.
        uid = f"{grafana.sidecar.namespace}/{grafana.datasource.uid}"
        claim(f"SidecarDatasource {name}", "pyroscope:grafana.datasource.uid", "Grafana datasource uid", uid)
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)
        targets = datasource_targets(grafana, query, per_tenant)
        if not has_credentials(targets):
            manifest = sidecar_config_map(grafana, query, per_tenant, name=name)
            core_v1.ConfigMap(
                f"{object_name(name)}-configmap",
                metadata=manifest["metadata"],
                data=manifest["data"],
                opts=child,
            )
        else:
            core_v1.Secret(
                f"{object_name(name)}-secret",
                metadata=sidecar_metadata(grafana.sidecar, object_name(name)),
                type="Opaque",
                string_data=sidecar_secret_string_data(grafana, targets, data_keys(name)[1]),
                opts=child,
            )
        self.datasource_uid = grafana.datasource.uid
        self.register_outputs({"datasourceUid": self.datasource_uid})


def deploy_sidecar_datasource(
    grafana: Grafana, server: ServerDeployment | None, *, name: str = DEFAULT_NAME
) -> dict[str, Any]:
    """Register the datasource object for the Grafana Helm chart's sidecar; return stack outputs."""
    if server is None:
        pulumi.log.warn(
            "pyroscope:grafana.mode is kubernetes-sidecar but this stack deploys no server: "
            "no datasource was created"
        )
        return {}
    component = SidecarDatasource(name, grafana, server.query, server.query_per_tenant)
    return {"datasourceUid": component.datasource_uid}
