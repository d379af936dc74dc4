"""The continuous end-to-end probe: a CronJob that pushes a synthetic profile through the gateway
and reads back, every few minutes, with the image the deployment already runs.

The pinned Pyroscope image ships ``/usr/bin/profilecli`` (grafana/pyroscope v2.2.1
cmd/profilecli): ``upload [--override-timestamp] [--extra-labels k=v] PATH`` pushes a pprof file
to ``/push.v1.PusherService/Push`` (upload.go) and ``query series --query SEL --from now-15m``
calls ``/querier.v1.QuerierService/Series`` (query.go); both read ``PROFILECLI_URL``,
``PROFILECLI_USERNAME`` and ``PROFILECLI_PASSWORD`` (client.go) and exit non-zero on any
failed request (unreachable, 401/403, 413, 5xx). The image is distroless (no shell), so the push
is an init container and the query the main container: either failing fails the Job, and
``kube_cronjob_status_last_successful_time`` stops advancing (alert PyroscopeProbeFailing).

``query series`` exits 0 on an empty answer, so the read-back of the data itself is checked by
Prometheus: the probe's service_name is one of the expected services, and
PyroscopeServiceNoProfiles{service_name="pyroscope-bundle-probe"} fires when its profiles stop
arriving (docs/runbook.md#pyroscopeprobefailing).
"""

from __future__ import annotations

import base64
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config.model import Probe, Server
from pyroscope_bundle.monitoring.names import PROBE_NAME, PROBE_PROFILE_CONFIG_MAP
from pyroscope_bundle.placement import image_ref, pod_placement
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.smoke import build_pprof

COMPONENT_PROBE = kube.COMPONENT_PROBE
CREDENTIALS_SECRET = "pyroscope-probe-credentials"
PUSH_PASSWORD_KEY = "push-password"
READ_PASSWORD_KEY = "read-password"
PROFILE_KEY = "probe.pprof"
PROFILE_DIR = "/probe"
# A run pushes one tiny profile and lists series: small, bounded, never retried in-Job
# (the next schedule is the retry).
RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
ACTIVE_DEADLINE_SECONDS = 120
QUERY_WINDOW = "now-15m"
CHECKOV_SKIP_ANNOTATION = "checkov.io/skip1"
CHECKOV_SKIP_REASON = "profilecli reads its password only from a flag or PROFILECLI_PASSWORD"
# A fixed timestamp keeps the ConfigMap stable; profilecli --override-timestamp sets "now".
PROFILE_EPOCH_NS = 1_700_000_000_000_000_000


def probe_profile() -> bytes:
    """The synthetic pprof profile the probe uploads (the same builder ``smoke`` uses)."""
    return build_pprof(PROFILE_EPOCH_NS)


def probe_labels() -> dict[str, str]:
    return kube.labels(COMPONENT_PROBE)


def probe_pod_labels() -> dict[str, str]:
    """What the gateway's NetworkPolicy admits the probe by."""
    return kube.selector_labels(COMPONENT_PROBE)


def profile_config_map(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": PROBE_PROFILE_CONFIG_MAP,
            "namespace": namespace,
            "labels": probe_labels(),
        },
        "binaryData": {PROFILE_KEY: base64.b64encode(probe_profile()).decode()},
    }


def _env(url: str, user: str, password_key: str) -> list[dict[str, Any]]:
    return [
        {"name": "PROFILECLI_URL", "value": url},
        {"name": "PROFILECLI_USERNAME", "value": user},
        {
            "name": "PROFILECLI_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": password_key}},
        },
    ]


def _container(server: Server, name: str, args: list[str], env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": image_ref(server, constants.PYROSCOPE_IMAGE, server.version),
        "imagePullPolicy": "IfNotPresent",
        "command": [constants.PYROSCOPE_PROFILECLI],
        "args": args,
        "env": env,
        "resources": RESOURCES,
        "securityContext": kube.container_security_context(),
        "volumeMounts": [{"name": "profile", "mountPath": PROFILE_DIR, "readOnly": True}],
    }


def probe_cronjob_manifest(
    server: Server, probe: Probe, url: str, push_user: str, read_user: str
) -> dict[str, Any]:
    """The CronJob: init container ``push`` (push credential), container ``read`` (read one);
    image, namespace and placement are the server's (``pyroscope:server``)."""
    selector = f'{{service_name="{probe.service_name}"}}'
    push = _container(
        server,
        "push",
        [
            "upload",
            "--override-timestamp",
            f"--extra-labels=service_name={probe.service_name}",
            f"{PROFILE_DIR}/{PROFILE_KEY}",
        ],
        _env(url, push_user, PUSH_PASSWORD_KEY),
    )
    read = _container(
        server,
        "read",
        ["query", "series", f"--query={selector}", f"--from={QUERY_WINDOW}"],
        _env(url, read_user, READ_PASSWORD_KEY),
    )
    security = manifests.pod_security_context()
    security.pop("fsGroup")
    security.pop("fsGroupChangePolicy")
    pod_spec: dict[str, Any] = {
        "serviceAccountName": PROBE_NAME,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": security,
        "initContainers": [push],
        "containers": [read],
        "volumes": [{"name": "profile", "configMap": {"name": PROBE_PROFILE_CONFIG_MAP}}],
        **pod_placement(server.kubernetes),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": PROBE_NAME,
            "namespace": server.kubernetes.namespace,
            "labels": probe_labels(),
            # The one per-object checkov skip (docs/security.md): profilecli takes the password
            # only from --password or PROFILECLI_PASSWORD (cmd/profilecli/client.go, v2.2.1),
            # so it comes from the Secret through secretKeyRef, never as a plain value.
            "annotations": {CHECKOV_SKIP_ANNOTATION: f"CKV_K8S_35={CHECKOV_SKIP_REASON}"},
        },
        "spec": {
            "schedule": probe.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 60,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": probe_labels()},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
                    "template": {"metadata": {"labels": probe_labels()}, "spec": pod_spec},
                },
            },
        },
    }


def credentials_secret_metadata(namespace: str) -> dict[str, Any]:
    return {
        "name": CREDENTIALS_SECRET,
        "namespace": namespace,
        "labels": probe_labels(),
    }
