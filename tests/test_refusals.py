"""Every class of wrong configuration, refused the same way through every entry point.

Each category lists cases ``(id, config, secrets, key path, fragment)``; every case goes through
``load_config`` (one problem, that key path), through ``BundleConfig.model_validate`` (the model
refuses it on its own), through the ``render`` CLI (exit 2, one problem line, no traceback,
nothing written) and through the program under mocks (nothing registered).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pydantic import ValidationError
from pyroscope_bundle.config import BundleConfig, ConfigError, load_config
from pyroscope_bundle.config.loader import problems_of
from pyroscope_bundle.program import main
from pyroscope_bundle.render.command import render_command
from pyroscope_bundle.render.mocks import BundleMocks, RecordingMonitor
from pyroscope_bundle.render.runner import run_program

from tests.harness import PROJECT_DIR

Case = tuple[str, dict[str, Any], dict[str, str], str, str]

K8S = {"backend": "kubernetes"}
EXTERNAL = {"kind": "external", "url": "https://pyroscope.example.com"}
TOKEN = {"authToken": "t0ken"}
ECS_FILE = "configs/ecs/payments-api.json"


def svc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "checkout", "platform": "kubernetes", "runtime": "java"}
    base["kubernetes"] = {"namespace": "shop"}
    base.update(overrides)
    return base


def ecs_svc(name: str = "payments", file: str = ECS_FILE, **ecs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "platform": "ecs",
        "runtime": "python",
        "ecs": {"containerDefinitions": file, **ecs},
    }


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "example/app:1", "essential": True, **extra}


# Container-definition files the ECS cases name (written into the test project).
ECS_FILES: dict[str, list[dict[str, Any]]] = {
    "env-number.json": [container(environment=[{"name": "WORKERS", "value": 4}])],
    "duplicate-containers.json": [container("app"), container("app")],
    "plain-token-name.json": [container(environment=[{"name": "API_TOKEN", "value": "s3cr3t-value"}])],
    "plain-token-value.json": [
        container(environment=[{"name": "UPSTREAM_AUTH", "value": "glc_" + "A1b2C3d4" * 5}])
    ],
    "secret-reference.json": [
        container(
            environment=[
                {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
                {"name": "API_KEY_SECRET_ARN", "value": "arn:aws:secretsmanager:eu-west-1:1:secret:x"},
            ]
        )
    ],
}


def ecs_file(name: str) -> str:
    return f"configs/ecs/test/{name}"


def task(family: str, **extra: Any) -> dict[str, Any]:
    """A whole RegisterTaskDefinition request."""
    return {"family": family, "cpu": "256", "memory": "512", "containerDefinitions": [container(**extra)]}


# Whole task-definition files (ecs.taskDefinition).
TASK_FILES: dict[str, dict[str, Any]] = {
    "task-env-number.json": task("numbers", environment=[{"name": "WORKERS", "value": 4}]),
    "task-shared-a.json": task("shared"),
    "task-shared-b.json": task("shared"),
}


def whole_svc(name: str, file: str) -> dict[str, Any]:
    return {"name": name, "platform": "ecs", "runtime": "python", "ecs": {"taskDefinition": ecs_file(file)}}


NEWLINES: list[Case] = [
    ("retention", {"server": {"retention": "30d\n"}}, {}, "pyroscope:server.retention", "not a duration"),
    ("size", {"server": {"storage": {"size": "10Gi\n"}}}, {}, "pyroscope:server.storage.size", "not a size"),
    (
        "cpu",
        {"server": {"resources": {"limits": {"cpu": "2\n"}}}},
        {},
        "pyroscope:server.resources.limits.cpu",
        "not a CPU quantity",
    ),
    (
        "dns-label",
        {"server": {**K8S, "kubernetes": {"namespace": "pyroscope\n"}}},
        {},
        "pyroscope:server.kubernetes.namespace",
        "DNS-1123 label",
    ),
    ("version", {"server": {"version": "2.2.1\n"}}, {}, "pyroscope:server.version", "not a version"),
    (
        "docker-name",
        {"server": {"docker": {"volumeName": "pyroscope-data\n"}}},
        {},
        "pyroscope:server.docker.volumeName",
        "not a Docker volume name",
    ),
    (
        "ipv4",
        {"server": {"docker": {"publishAddress": "127.0.0.1\n"}}},
        {},
        "pyroscope:server.docker.publishAddress",
        "not an IPv4 address",
    ),
    (
        "url",
        {"target": {**EXTERNAL, "url": "https://pyroscope.example.com\n"}},
        {},
        "pyroscope:target.url",
        "whitespace or control characters",
    ),
    (
        "url-tab-inside",
        {"target": {**EXTERNAL, "url": "https://pyro\tscope.example.com"}},
        {},
        "pyroscope:target.url",
        "whitespace or control characters",
    ),
    ("service-name", {"services": [svc(name="checkout\n")]}, {}, "pyroscope:services[0].name", "DNS-1123"),
    (
        "min-step",
        {"grafana": {"datasource": {"minStep": "15s\n"}}},
        {},
        "pyroscope:grafana.datasource.minStep",
        "not a duration",
    ),
    (
        "unicode-digits",
        {"server": {"retention": "\u0663\u0660d"}},
        {},
        "pyroscope:server.retention",
        "not a duration",
    ),
]

FREE_TEXT: list[Case] = [
    (
        "tenant-crlf",
        {"target": {**EXTERNAL, "tenantId": "team-a\r\nX-Scope-OrgID: other"}},
        {},
        "pyroscope:target.tenantId",
        "not a Pyroscope tenant id",
    ),
    (
        "tenant-pipe",
        {"target": {**EXTERNAL, "tenantId": "team-a|team-b"}},
        {},
        "pyroscope:target.tenantId",
        "not a Pyroscope tenant id",
    ),
    (
        "tenant-dotdot",
        {"target": {**EXTERNAL, "tenantId": ".."}},
        {},
        "pyroscope:target.tenantId",
        "not . or ..",
    ),
    (
        "tenant-too-long",
        {"target": {**EXTERNAL, "tenantId": "t" * 151}},
        {},
        "pyroscope:target.tenantId",
        "at most 150",
    ),
    (
        "user-colon",
        {"target": {**EXTERNAL, "basicAuthUser": "alice:secret"}},
        TOKEN,
        "pyroscope:target.basicAuthUser",
        "no ':'",
    ),
    (
        "user-newline",
        {"target": {**EXTERNAL, "basicAuthUser": "alice\n"}},
        TOKEN,
        "pyroscope:target.basicAuthUser",
        "not a basic-auth user",
    ),
    (
        "host-url",
        {"server": {**K8S, "kubernetes": {"ingress": {"host": "https://profiles.example.com"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.host",
        "give only the host name",
    ),
    (
        "host-upper",
        {"server": {**K8S, "kubernetes": {"ingress": {"host": "Profiles.example.com"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.host",
        "lowercase DNS name",
    ),
    (
        "host-crlf",
        {"server": {**K8S, "kubernetes": {"ingress": {"host": "profiles.example.com\r\n"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.host",
        "not a host name",
    ),
    (
        "ingress-class",
        {"server": {**K8S, "kubernetes": {"ingress": {"className": "Nginx Public"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.className",
        "DNS-1123 subdomain",
    ),
    (
        "tls-secret",
        {"server": {**K8S, "kubernetes": {"ingress": {"tlsSecretName": "profiles_tls"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.tlsSecretName",
        "DNS-1123 subdomain",
    ),
    (
        "storage-class",
        {"server": {"storage": {"storageClass": "GP3 fast"}}},
        {},
        "pyroscope:server.storage.storageClass",
        "DNS-1123 subdomain",
    ),
    (
        "sidecar-label",
        {"grafana": {"sidecar": {"label": "grafana datasource"}}},
        {},
        "pyroscope:grafana.sidecar.label",
        "not a Kubernetes label key",
    ),
    (
        "sidecar-label-value",
        {"grafana": {"sidecar": {"labelValue": "yes please"}}},
        {},
        "pyroscope:grafana.sidecar.labelValue",
        "not a Kubernetes label value",
    ),
    (
        "sidecar-label-value-bool",
        {"grafana": {"sidecar": {"labelValue": True}}},
        {},
        "pyroscope:grafana.sidecar.labelValue",
        'quote numbers and booleans: "1"',
    ),
    (
        "pod-label",
        {
            "server": {
                **K8S,
                "kubernetes": {"allowFrom": [{"namespace": "apps", "podLabels": {"app": "a b"}}]},
            }
        },
        {},
        "pyroscope:server.kubernetes.allowFrom[0].podLabels.app",
        "not a Kubernetes label value",
    ),
    (
        "region-empty",
        {"server": {"kubernetes": {"helm": {"objectStorage": {"region": ""}}}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.region",
        "not an AWS region",
    ),
    (
        "bucket-short",
        {"server": {"kubernetes": {"helm": {"objectStorage": {"bucketName": "pb"}}}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.bucketName",
        "not an S3 bucket name",
    ),
    (
        "bucket-ip",
        {"server": {"kubernetes": {"helm": {"objectStorage": {"bucketName": "192.168.10.1"}}}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.bucketName",
        "not an IP address",
    ),
    (
        "irsa-wildcard",
        {"server": {"kubernetes": {"helm": {"objectStorage": {"irsaRoleArn": "*"}}}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.irsaRoleArn",
        "not an IAM role ARN",
    ),
    (
        "irsa-short-account",
        {"server": {"kubernetes": {"helm": {"objectStorage": {"irsaRoleArn": "arn:aws:iam::123:role/p"}}}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.irsaRoleArn",
        "not an IAM role ARN",
    ),
    (
        "secret-arn-wildcard",
        {"target": {"existingSecrets": {"awsSecretArn": "*"}}},
        {},
        "pyroscope:target.existingSecrets.awsSecretArn",
        "no wildcards",
    ),
    (
        "secret-arn-pattern",
        {"target": {"existingSecrets": {"awsSecretArn": "arn:aws:secretsmanager:*:*:secret:*"}}},
        {},
        "pyroscope:target.existingSecrets.awsSecretArn",
        "not a Secrets Manager secret ARN",
    ),
    (
        "kms-wildcard",
        {"target": {"existingSecrets": {"kmsKeyArn": "*"}}},
        {},
        "pyroscope:target.existingSecrets.kmsKeyArn",
        "not a KMS key ARN",
    ),
    (
        "kms-alias",
        {"target": {"existingSecrets": {"kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:alias/p"}}},
        {},
        "pyroscope:target.existingSecrets.kmsKeyArn",
        "no wildcards or aliases",
    ),
    (
        "secret-json-key-colon",
        {"target": {"existingSecrets": {"awsSecretJsonKey": "pass:word"}}},
        {},
        "pyroscope:target.existingSecrets.awsSecretJsonKey",
        "is not a key name; use letters, digits, '-', '_' and '.' only",
    ),
    (
        "execution-role-wildcard",
        {"target": EXTERNAL, "services": [ecs_svc(executionRoleName="*")]},
        {},
        "pyroscope:services[0].ecs.executionRoleName",
        "not an IAM role name or role ARN",
    ),
    (
        "ecs-container-name",
        {"target": EXTERNAL, "services": [ecs_svc(containers=["payments api"])]},
        {},
        "pyroscope:services[0].ecs.containers[0]",
        "not an ECS container name",
    ),
    (
        "definitions-outside-repo",
        {"target": EXTERNAL, "services": [ecs_svc(file="../secrets/api.json")]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "not a path inside the repository",
    ),
    (
        "agent-image-space",
        {
            "target": EXTERNAL,
            "services": [svc(agent={"delivery": "copy", "image": "registry.example.com/a j:1"})],
        },
        {},
        "pyroscope:services[0].agent.image",
        "not an image reference",
    ),
    (
        "java-options-newline",
        {"target": EXTERNAL, "services": [svc(agent={"javaOptions": "-Xmx1g\n-Dx=1"})]},
        {},
        "pyroscope:services[0].agent.javaOptions",
        "not one line of text",
    ),
    (
        "probe-schedule-control-char",
        {"monitoring": {"probe": {"schedule": "*/5 * * * *\x0b"}}},
        {},
        "pyroscope:monitoring.probe.schedule",
        "is not a cron schedule; use five fields",
    ),
    (
        "runbook-url-newline",
        {"monitoring": {"runbookUrl": "https://example.com/runbook\nX: y"}},
        {},
        "pyroscope:monitoring.runbookUrl",
        "not one line of text",
    ),
    (
        "tempo-name-newline",
        {"grafana": {"tempo": {"name": "Tempo\nprod"}}},
        {},
        "pyroscope:grafana.tempo.name",
        "not one line of text",
    ),
    (
        "node-selector-value",
        {"server": {**K8S, "kubernetes": {"scheduling": {"nodeSelector": {"pool": "a b"}}}}},
        {},
        "pyroscope:server.kubernetes.scheduling.nodeSelector.pool",
        "not a Kubernetes label value",
    ),
    (
        "java-agent-control-char",
        {"target": EXTERNAL, "services": [svc(javaAgentPath="/opt/p\x00.jar")]},
        {},
        "pyroscope:services[0].javaAgentPath",
        "is not an absolute path of a .jar",
    ),
    (
        "tag-control-char",
        {"target": EXTERNAL, "services": [svc(tags={"team": "a\x07b"})]},
        {},
        "pyroscope:services[0].tags.team",
        "control character",
    ),
    (
        "definitions-not-utf8",
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("latin1.json"))]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "is not UTF-8 text",
    ),
    (
        "definitions-absolute",
        {"target": EXTERNAL, "services": [ecs_svc(file="/etc/passwd")]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "not a path inside the repository",
    ),
    (
        "datasource-name",
        {"grafana": {"datasource": {"name": "Pyro\nscope"}}},
        {},
        "pyroscope:grafana.datasource.name",
        "not one line of text",
    ),
    (
        "application-name",
        {"target": EXTERNAL, "services": [svc(applicationName="shop\x00api")]},
        {},
        "pyroscope:services[0].applicationName",
        "not one line of text",
    ),
]

APPLY_TIME: list[Case] = [
    (
        "microservices-without-region",
        {"server": {**K8S, "kubernetes": {"mode": "microservices"}}},
        {},
        "pyroscope:server.kubernetes.helm.objectStorage.region",
        "is not set and neither is aws:region",
    ),
    (
        "cpu-request-above-limit",
        {"server": {**K8S, "resources": {"requests": {"cpu": "4"}, "limits": {"cpu": "2"}}}},
        {},
        "pyroscope:server.resources.requests.cpu",
        "Kubernetes refuses requests above limits",
    ),
    (
        "memory-request-above-limit",
        {"server": {**K8S, "resources": {"requests": {"memory": "8Gi"}, "limits": {"memory": "4Gi"}}}},
        {},
        "pyroscope:server.resources.requests.memory",
        "Kubernetes refuses requests above limits",
    ),
    (
        "storage-absurd",
        {"server": {"storage": {"size": "100Ti"}}},
        {},
        "pyroscope:server.storage.size",
        "above 64Ti",
    ),
    (
        "size-overflow",
        {"server": {"storage": {"size": "9" * 400 + "Gi"}}},
        {},
        "pyroscope:server.storage.size",
        "above 64Ti",
    ),
    (
        "cpu-overflow",
        {"server": {"resources": {"limits": {"cpu": "9" * 400}}}},
        {},
        "pyroscope:server.resources.limits.cpu",
        "outside 1m to 256 CPUs",
    ),
    (
        "memory-absurd",
        {"server": {"resources": {"limits": {"memory": "2Ti"}}}},
        {},
        "pyroscope:server.resources.limits.memory",
        "above 1Ti",
    ),
    (
        "cpu-absurd",
        {"server": {"resources": {"limits": {"cpu": "1000"}}}},
        {},
        "pyroscope:server.resources.limits.cpu",
        "outside 1m to 256 CPUs",
    ),
    (
        "cpu-zero",
        {"server": {"resources": {"requests": {"cpu": "0"}}}},
        {},
        "pyroscope:server.resources.requests.cpu",
        "outside 1m",
    ),
    (
        "helm-volume-floor",
        {"server": {"kubernetes": {"helm": {"volumeSize": "100Mi"}}}},
        {},
        "pyroscope:server.kubernetes.helm.volumeSize",
        "below the 1Gi floor",
    ),
    (
        "port-true",
        {"server": {"docker": {"hostPort": True}}},
        {},
        "pyroscope:server.docker.hostPort",
        "not a whole number",
    ),
    (
        "port-string",
        {"server": {"docker": {"hostPort": "4040"}}},
        {},
        "pyroscope:server.docker.hostPort",
        "not quoted",
    ),
    (
        "sample-rate-true",
        {"target": EXTERNAL, "services": [svc(sampleRate=True)]},
        {},
        "pyroscope:services[0].sampleRate",
        "not a whole number",
    ),
    (
        "bool-string",
        {"server": {"protect": "true"}},
        {},
        "pyroscope:server.protect",
        "use true or false (not quoted)",
    ),
    (
        "ecs-cpu-word",
        {"target": EXTERNAL, "services": [ecs_svc(cpu="fast")]},
        {},
        "pyroscope:services[0].ecs.cpu",
        "not a whole number",
    ),
    (
        "ecs-cpu-size",
        {"target": EXTERNAL, "services": [ecs_svc(cpu=300)]},
        {},
        "pyroscope:services[0].ecs.cpu",
        "not a Fargate task size",
    ),
    (
        "ecs-memory-combination",
        {"target": EXTERNAL, "services": [ecs_svc(cpu="256", memory="1536")]},
        {},
        "pyroscope:services[0].ecs.memory",
        "use 512, 1024, 2048",
    ),
    (
        "ecs-memory-range",
        {"target": EXTERNAL, "services": [ecs_svc(cpu=1024, memory=1024)]},
        {},
        "pyroscope:services[0].ecs.memory",
        "2048 to 8192 in steps of 1024",
    ),
    (
        "tag-value-too-long",
        {"target": EXTERNAL, "services": [svc(tags={"team": "t" * 2049})]},
        {},
        "pyroscope:services[0].tags.team",
        "above 2048",
    ),
    (
        "tag-key-too-long",
        {"target": EXTERNAL, "services": [svc(tags={"k" * 1025: "v"})]},
        {},
        f"pyroscope:services[0].tags.{'k' * 1025}",
        "label name limit",
    ),
    (
        "ecs-env-not-string",
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("env-number.json"))]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "ECS takes strings only, quote it",
    ),
    (
        "task-definition-env-not-string",
        {"target": EXTERNAL, "services": [whole_svc("numbers", "task-env-number.json")]},
        {},
        "pyroscope:services[0].ecs.taskDefinition",
        "ECS takes strings only, quote it",
    ),
    (
        "ecs-duplicate-containers",
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("duplicate-containers.json"))]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "more than one container named app",
    ),
    (
        "k8s-containers-twice",
        {
            "target": EXTERNAL,
            "services": [svc(kubernetes={"namespace": "shop", "containers": ["app", "app"]})],
        },
        {},
        "pyroscope:services[0].kubernetes.containers",
        "lists app more than once",
    ),
    (
        "ecs-containers-twice",
        {"target": EXTERNAL, "services": [ecs_svc(containers=["payments-api", "payments-api"])]},
        {},
        "pyroscope:services[0].ecs.containers",
        "more than once",
    ),
]

LONG = "a" * 46

COLLISIONS: list[Case] = [
    (
        "same-deployment",
        {
            "target": EXTERNAL,
            "services": [
                svc(name="web-java", kubernetes={"namespace": "shop", "deployment": "web"}),
                svc(name="web-agent", kubernetes={"namespace": "shop", "deployment": "web"}),
            ],
        },
        {},
        "pyroscope:services[1].kubernetes.deployment",
        "which pyroscope:services[0] patches too",
    ),
    (
        "patches-gateway",
        {
            "server": K8S,
            "services": [svc(kubernetes={"namespace": "pyroscope", "deployment": "pyroscope-gateway"})],
        },
        {},
        "pyroscope:services[0].kubernetes.deployment",
        "the bundle's own workload",
    ),
    (
        "patches-server",
        {"server": K8S, "services": [svc(name="pyroscope", kubernetes={"namespace": "pyroscope"})]},
        {},
        "pyroscope:services[0].name",
        "the bundle's own workload",
    ),
    (
        "same-family",
        {"target": EXTERNAL, "services": [ecs_svc("payments"), ecs_svc("billing", family="payments")]},
        {},
        "pyroscope:services[1].ecs.family",
        "is also the family of pyroscope:services[0]",
    ),
    (
        "whole-task-same-family",
        {
            "target": EXTERNAL,
            "services": [whole_svc("one", "task-shared-a.json"), whole_svc("two", "task-shared-b.json")],
        },
        {},
        "pyroscope:services[1].ecs.taskDefinition",
        "gives family shared, which pyroscope:services[0] registers too",
    ),
    (
        "whole-task-family-of-another-service",
        {"target": EXTERNAL, "services": [ecs_svc("shared"), whole_svc("two", "task-shared-a.json")]},
        {},
        "pyroscope:services[1].ecs.taskDefinition",
        "gives family shared",
    ),
    (
        "execution-role-cut",
        {
            "target": EXTERNAL,
            "services": [ecs_svc("a" * 58), ecs_svc("b", family="a" * 58 + "-test")],
        },
        {},
        "pyroscope:services[1].ecs.family",
        "cut to 64 characters",
    ),
    (
        "network-policy-cut",
        {
            "target": EXTERNAL,
            "services": [
                svc(name=LONG + "-one", kubernetes={"namespace": "shop", "networkPolicy": True}),
                svc(name=LONG + "-two", kubernetes={"namespace": "shop", "networkPolicy": True}),
            ],
        },
        {},
        "pyroscope:services[1].name",
        "(cut to 63 characters) of pyroscope:services[0]",
    ),
    (
        "network-policy-dash",
        {
            "target": EXTERNAL,
            "services": [svc(name="a" * 45 + "-b", kubernetes={"namespace": "shop", "networkPolicy": True})],
        },
        {},
        "pyroscope:services[0].name",
        "ends in '-'",
    ),
    (
        "same-volume",
        {"server": {"docker": {"volumeName": "shared"}}, "grafana": {"docker": {"volumeName": "shared"}}},
        {},
        "pyroscope:grafana.docker.volumeName",
        "need a volume each",
    ),
    (
        "same-host-port",
        {"grafana": {"docker": {"hostPort": 4040}}},
        {},
        "pyroscope:grafana.docker.hostPort",
        "cannot publish one port twice",
    ),
    (
        "same-host-port-any-address",
        {
            "server": {
                "docker": {"hostPort": 3000, "publishAddress": "0.0.0.0"},
                "gateway": {"allowUnauthenticated": True},
            }
        },
        {},
        "pyroscope:grafana.docker.hostPort",
        "cannot publish one port twice",
    ),
    *[
        (
            f"network-{name}",
            {"server": {"docker": {"networkName": name}}},
            {},
            "pyroscope:server.docker.networkName",
            "Docker's built-in networks",
        )
        for name in ("bridge", "host", "none")
    ],
    (
        "server-kube-system",
        {"server": {**K8S, "kubernetes": {"namespace": "kube-system"}}},
        {},
        "pyroscope:server.kubernetes.namespace",
        "is a system namespace",
    ),
    (
        "probe-tenant",
        {"server": {**K8S, "multitenancy": True, "tenants": ["team-a", "pyroscope-probe"]}},
        {},
        "pyroscope:server.tenants",
        "the probe's own gateway user and tenant",
    ),
    (
        "probe-service-name",
        {"server": K8S, "services": [svc(name="pyroscope-bundle-probe")]},
        {},
        "pyroscope:services[0].name",
        "is the probe's service_name",
    ),
    (
        "probe-application-name",
        {"server": K8S, "services": [svc(applicationName="pyroscope-bundle-probe")]},
        {},
        "pyroscope:services[0].applicationName",
        "its no-profiles alert could never fire",
    ),
    (
        "service-kube-system",
        {"target": EXTERNAL, "services": [svc(kubernetes={"namespace": "kube-system"})]},
        {},
        "pyroscope:services[0].kubernetes.namespace",
        "is a system namespace",
    ),
]

WIRING: list[Case] = [
    (
        "k8s-to-docker-server",
        {"services": [svc()]},
        {},
        "pyroscope:services[0].platform",
        "the pod would send to its own 127.0.0.1",
    ),
    (
        "ecs-section-on-k8s",
        {"target": EXTERNAL, "services": [svc(ecs={"cpu": "512"})]},
        {},
        "pyroscope:services[0].ecs",
        "the service's platform is kubernetes",
    ),
    (
        "k8s-section-on-ecs",
        {"target": EXTERNAL, "services": [ecs_svc(**{}) | {"kubernetes": {"namespace": "shop"}}]},
        {},
        "pyroscope:services[0].kubernetes",
        "the service's platform is ecs",
    ),
    (
        "plain-token-by-name",
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("plain-token-name.json"))]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "move it to the container's secrets",
    ),
    (
        "plain-token-by-value",
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("plain-token-value.json"))]},
        {},
        "pyroscope:services[0].ecs.containerDefinitions",
        "credential-like plain environment value (app: UPSTREAM_AUTH)",
    ),
]

NUMBERS: list[Case] = [
    (
        "tag-number",
        {"target": EXTERNAL, "services": [svc(tags={"shard": 5})]},
        {},
        "pyroscope:services[0].tags.shard",
        'quote it in the stack file (e.g. "5")',
    ),
    (
        "version-float",
        {"target": EXTERNAL, "services": [svc(version=1.10)]},
        {},
        "pyroscope:services[0].version",
        "quote it",
    ),
    (
        "ingress-body-size-not-the-gateways",
        {
            "server": {
                "backend": "kubernetes",
                "kubernetes": {
                    "ingress": {
                        "enabled": True,
                        "host": "p.example.com",
                        "className": "nginx",
                        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
                    },
                    "allowFrom": [{"namespace": "ingress-nginx"}],
                },
            }
        },
        {},
        "pyroscope:server.kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/proxy-body-size",
        "does not match the gateway's body limit",
    ),
    (
        "gateway-failed-auth-rate-zero",
        {"server": {"gateway": {"limits": {"failedAuthPerSecond": 0}}}},
        {},
        "pyroscope:server.gateway.limits.failedAuthPerSecond",
        "greater than or equal to 1",
    ),
    (
        "gateway-connections-beyond-a-pod",
        {"server": {"gateway": {"limits": {"connectionsPerClient": 5000}}}},
        {},
        "pyroscope:server.gateway.limits.connectionsPerClient",
        "less than or equal to 1024",
    ),
    (
        "gateway-burst-string",
        {"server": {"gateway": {"limits": {"failedAuthBurst": "20"}}}},
        {},
        "pyroscope:server.gateway.limits.failedAuthBurst",
        "is not a whole number",
    ),
    (
        # Silently ignored before: the user asked for an Ingress and got nothing exposed.
        "docker-with-an-ingress",
        {"server": {"kubernetes": {"ingress": {"enabled": True, "host": "p.example.com"}}}},
        {},
        "pyroscope:server.kubernetes.ingress.enabled",
        "has no effect with pyroscope:server.backend docker",
    ),
    (
        "sample-rate-with-unit",
        {"target": EXTERNAL, "services": [svc(sampleRate="100hz")]},
        {},
        "pyroscope:services[0].sampleRate",
        "is not a whole number; write the number itself, not quoted",
    ),
    (
        "ratio-as-percent",
        {"monitoring": {"alerts": {"memoryRatio": "90%"}}},
        {},
        "pyroscope:monitoring.alerts.memoryRatio",
        "is not a number; write one without quotes or a unit",
    ),
    (
        "probe-schedule-in-words",
        {"monitoring": {"probe": {"schedule": "every 5 minutes"}}},
        {},
        "pyroscope:monitoring.probe.schedule",
        'use five fields separated by single spaces, e.g. "*/5 * * * *"',
    ),
]

# server.gateway.trustedProxies: nginx set_real_ip_from networks, where X-Forwarded-For is believed.
TRUSTED = "pyroscope:server.gateway.trustedProxies"


def proxies(*values: Any) -> dict[str, Any]:
    return {"server": {"gateway": {"trustedProxies": list(values)}}}


NETWORKS: list[Case] = [
    # Any client could then choose the address its limits are counted by.
    ("everything-ipv4", proxies("10.0.0.0/8", "0.0.0.0/0"), {}, f"{TRUSTED}[1]", "trusts every address"),
    ("everything-ipv6", proxies("::/0"), {}, f"{TRUSTED}[0]", "trusts every address"),
    ("host-bits", proxies("10.1.2.3/8"), {}, f"{TRUSTED}[0]", "with no host bits set"),
    ("not-a-network", proxies("ingress-nginx"), {}, f"{TRUSTED}[0]", "use an IPv4 or IPv6 network"),
    ("prefix-too-long", proxies("10.0.0.0/33"), {}, f"{TRUSTED}[0]", "is not a proxy network"),
    ("newline", proxies("10.0.0.0/8\n"), {}, f"{TRUSTED}[0]", "is not a proxy network"),
    ("ipv6-zone", proxies("fe80::1%eth0"), {}, f"{TRUSTED}[0]", "is not a proxy network"),
    ("number", proxies(10), {}, f"{TRUSTED}[0]", "is not a proxy network"),
    ("not-a-list", {"server": {"gateway": {"trustedProxies": "10.0.0.0/8"}}}, {}, TRUSTED, "list"),
]

CATEGORIES: dict[str, list[Case]] = {
    "newline": NEWLINES,
    "free-text": FREE_TEXT,
    "apply-time": APPLY_TIME,
    "collision": COLLISIONS,
    "wiring": WIRING,
    "numbers": NUMBERS,
    "networks": NETWORKS,
}
CASES = [(f"{category}/{case[0]}", *case[1:]) for category, cases in CATEGORIES.items() for case in cases]
PARAMS = pytest.mark.parametrize(
    ("config", "secrets", "path", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)


def make_project(root: Path) -> Path:
    shutil.copytree(PROJECT_DIR / "configs", root / "configs")
    (root / "configs" / "ecs" / "test").mkdir()
    for name, definitions in ECS_FILES.items():
        (root / "configs" / "ecs" / "test" / name).write_text(json.dumps(definitions))
    for name, request in TASK_FILES.items():
        (root / "configs" / "ecs" / "test" / name).write_text(json.dumps(request))
    (root / "configs" / "ecs" / "test" / "latin1.json").write_bytes(
        '[{"name": "caf\u00e9"}]'.encode("latin-1")
    )
    (root / "stacks").mkdir()
    return root


@pytest.fixture(autouse=True)
def no_ambient_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS provider also reads its region from the environment: the cases must not."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("project"))


def raw(config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    return {**config, **dict.fromkeys(secrets, True)}


@PARAMS
def test_load_config_refuses_with_one_problem_at_the_key(project, config, secrets, path, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(raw(config, secrets), "test", project)
    assert [problem.path for problem in caught.value.problems] == [path], str(caught.value)
    assert fragment in str(caught.value.problems[0])


@PARAMS
def test_the_model_refuses_a_config_built_in_python(project, config, secrets, path, fragment):
    data = {"stack": "test", "authTokenSet": bool(secrets), **config}
    with pytest.raises(ValidationError) as caught:
        BundleConfig.model_validate(data, context={"project_root": project})
    problems = problems_of(caught.value)
    assert [problem.path for problem in problems] == [path]
    assert fragment in str(problems[0])


def write_stack(project: Path, name: str, config: dict[str, Any], secrets: dict[str, str]) -> None:
    document = {f"pyroscope:{key}": value for key, value in config.items()}
    document.update({f"pyroscope:{key}": {"secure": "v1:AAAA"} for key in secrets})
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": document}))


def assert_refused(status: int, err: str, out: Path, path: str, fragment: str) -> None:
    assert status == 2
    problem_lines = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(problem_lines) == 1, err
    assert problem_lines[0].startswith(f"  - {path}:"), err
    assert fragment in problem_lines[0]
    assert "Traceback" not in err
    assert not out.exists()


@PARAMS
def test_render_exits_2_with_one_line_and_writes_nothing(
    project, tmp_path, capsys, config, secrets, path, fragment
):
    write_stack(project, "test", config, secrets)
    out = tmp_path / "out"
    status = render_command(project, "test", out, [], [])
    captured = capsys.readouterr()
    assert_refused(status, captured.err + captured.out, out, path, fragment)


@PARAMS
def test_program_registers_nothing(project, config, secrets, path, fragment):
    monitor = RecordingMonitor(BundleMocks())
    values = {f"pyroscope:{key}": value for key, value in {**config, **secrets}.items()}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(
            lambda: main(project),
            stack="test",
            config=values,
            secret_keys=[f"pyroscope:{key}" for key in secrets],
            monitor=monitor,
        )
    assert path in str(caught.value) and fragment in str(caught.value)
    assert monitor.recording.resources == []


# --- what only the stack file can get wrong: plain secrets, namespace typos, duplicate keys ------

STACK_FILES: list[tuple[str, str, str, str]] = [
    (
        # The key's line lost its indentation: Pulumi reads it as pyroscope:backend.
        "section-key-not-indented",
        "config:\n  pyroscope:server:\n  backend: kubernetes\n",
        "pyroscope:backend",
        "is not a known key (is it pyroscope:server.backend, indented under pyroscope:server?)",
    ),
    (
        # The bundle's resources are registered in the AWS provider's region: a typo would render
        # fine and fail only at `pulumi up`.
        "aws-region-typo",
        "config:\n  aws:region: eu-west\n",
        "aws:region",
        '"eu-west" is not an AWS region; use e.g. us-east-1, eu-west-1',
    ),
    (
        "plain-auth-token",
        "config:\n  pyroscope:authToken: glc_plain\n",
        "pyroscope:authToken",
        "pulumi config set --secret authToken",
    ),
    (
        "plain-grafana-password",
        "config:\n  pyroscope:grafanaAdminPassword: hunter2\n",
        "pyroscope:grafanaAdminPassword",
        "sits unencrypted in the stack file",
    ),
    (
        "namespace-typo",
        "config:\n  pyroscpe:server:\n    retention: 1d\n",
        "pyroscpe:server",
        "rename it to pyroscope:server",
    ),
    (
        "namespace-capitalised",
        "config:\n  Pyroscope:server:\n    retention: 1d\n",
        "Pyroscope:server",
        "not 'pyroscope'",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "fragment"), [c[1:] for c in STACK_FILES], ids=[c[0] for c in STACK_FILES]
)
def test_stack_file_mistakes_are_refused(project, tmp_path, capsys, text, path, fragment):
    (project / "stacks" / "Pulumi.file.yaml").write_text(text)
    out = tmp_path / "out"
    status = render_command(project, "file", out, [], [])
    captured = capsys.readouterr()
    assert_refused(status, captured.err + captured.out, out, path, fragment)


def test_a_stack_file_that_is_not_utf8_is_refused(project, tmp_path, capsys):
    (project / "stacks" / "Pulumi.latin.yaml").write_bytes(
        "config:\n  pyroscope:server: {retention: d\u00e9}\n".encode("latin-1")
    )
    status = render_command(project, "latin", tmp_path / "out", [], [])
    err = capsys.readouterr().err
    assert status == 2 and "is not UTF-8 text" in err and "Traceback" not in err


@pytest.mark.parametrize("ciphertext", ['""', "null", "[]"])
def test_a_secure_value_without_ciphertext_is_refused(project, tmp_path, capsys, ciphertext):
    """`secure:` with nothing in it rendered as a set secret; Pulumi cannot decrypt it."""
    (project / "stacks" / "Pulumi.empty.yaml").write_text(
        f"config:\n  pyroscope:authToken:\n    secure: {ciphertext}\n"
    )
    out = tmp_path / "out"
    status = render_command(project, "empty", out, [], [])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "pyroscope:authToken: `secure:` holds no ciphertext" in err
    assert "pulumi config set --secret authToken" in err
    assert "Traceback" not in err and not out.exists()


def test_other_providers_namespaces_are_fine(project, tmp_path, capsys):
    text = "config:\n" + "".join(
        f"  {namespace}:setting: x\n" for namespace in ("aws", "kubernetes", "docker", "grafana", "random")
    )
    (project / "stacks" / "Pulumi.providers.yaml").write_text(text)
    assert render_command(project, "providers", tmp_path / "out", [], []) == 0, capsys.readouterr().err


def test_duplicate_keys_in_a_stack_file_are_refused_like_pulumi_does(project, tmp_path, capsys):
    """Pulumi reads stack files with gopkg.in/yaml.v3 (pulumi/pulumi sdk/go/common/encoding/
    marshal.go), which refuses a repeated key (go-yaml v3.0.1 decode.go: "mapping key ... already
    defined at line N"); PyYAML would silently keep the last value."""
    text = "config:\n  pyroscope:server:\n    retention: 90d\n    retention: 1d\n"
    (project / "stacks" / "Pulumi.dup.yaml").write_text(text)
    out = tmp_path / "out"
    status = render_command(project, "dup", out, [], [])
    err = capsys.readouterr().err
    assert status == 2
    assert "line 4: mapping key 'retention' already defined at line 3" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_plain_secret_through_the_program_registers_nothing():
    monitor = RecordingMonitor(BundleMocks())
    with pytest.raises(pulumi.RunError) as caught:
        run_program(
            lambda: main(PROJECT_DIR),
            stack="test",
            config={"pyroscope:authToken": "glc_plain"},
            secret_keys=[],
            monitor=monitor,
        )
    assert "pyroscope:authToken: is a plain value" in str(caught.value)
    assert "glc_plain" not in str(caught.value)
    assert monitor.recording.resources == []


# --- numbers where a string id is meant are accepted -------------------------------------------


def test_numeric_ids_are_accepted_as_text(project):
    config = load_config(
        {
            "target": {
                "kind": "grafana-cloud",
                "url": "https://profiles-prod-001.grafana.net",
                "basicAuthUser": 987654,
            },
            "authToken": True,
        },
        "test",
        project,
    )
    assert config.target.basic_auth_user == "987654"
    external = load_config({"target": {**EXTERNAL, "tenantId": 42}}, "test", project)
    assert external.target.tenant_id == "42"
    ecs = load_config({"target": EXTERNAL, "services": [ecs_svc(cpu=512, memory=2048)]}, "test", project)
    assert (ecs.services[0].ecs.cpu, ecs.services[0].ecs.memory) == ("512", "2048")


def test_microservices_takes_its_region_from_the_key_the_provider_or_the_environment(project, monkeypatch):
    microservices = {"server": {**K8S, "kubernetes": {"mode": "microservices"}}}
    with_key = {
        "server": {
            **K8S,
            "kubernetes": {"mode": "microservices", "helm": {"objectStorage": {"region": "eu-central-1"}}},
        }
    }
    assert (
        load_config(with_key, "test", project).server.kubernetes.helm.object_storage.region == "eu-central-1"
    )
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert load_config(microservices, "test", project).server.kubernetes.mode == "microservices"
    monkeypatch.delenv("AWS_REGION")
    # aws:region of the stack: the program registers the bucket in that region.
    monitor = RecordingMonitor(BundleMocks())
    values = {f"pyroscope:{key}": value for key, value in microservices.items()}
    run_program(
        lambda: main(project),
        stack="test",
        config={**values, "aws:region": "eu-west-1"},
        secret_keys=[],
        monitor=monitor,
    )
    [bucket] = [r for r in monitor.recording.resources if r.type == "aws:s3/bucket:Bucket"]
    assert bucket.inputs["region"] == "eu-west-1"


def test_secret_references_in_plain_environment_are_not_flagged(project):
    config = load_config(
        {"target": EXTERNAL, "services": [ecs_svc(file=ecs_file("secret-reference.json"))]}, "test", project
    )
    assert config.services[0].ecs.container_definitions == ecs_file("secret-reference.json")


def test_valid_values_of_the_new_validators_are_accepted(project):
    config = load_config(
        {
            "server": {
                **K8S,
                "storage": {"storageClass": "gp3"},
                "kubernetes": {
                    "ingress": {
                        "host": "*.profiles.example.com",
                        "className": "nginx",
                        "tlsSecretName": "p-tls",
                    },
                    "allowFrom": [
                        {"namespace": "ingress-nginx", "podLabels": {"app.kubernetes.io/name": "x"}}
                    ],
                    "helm": {
                        "objectStorage": {
                            "bucketName": "acme.profiles-eu",
                            "region": "us-gov-west-1",
                            "irsaRoleArn": "arn:aws-us-gov:iam::123456789012:role/path/pyroscope",
                        }
                    },
                },
            },
            "grafana": {"sidecar": {"label": "grafana_datasource", "labelValue": ""}},
            "target": {
                "existingSecrets": {
                    "awsSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/x-AbCdEf",
                    "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/mrk-" + "0123456789abcdef" * 2,
                }
            },
        },
        "test",
        project,
    )
    assert config.server.kubernetes.ingress.host == "*.profiles.example.com"


def test_trusted_proxies_accept_ipv4_and_ipv6_networks_and_single_addresses(project):
    config = load_config(proxies("10.0.0.0/8", "192.168.4.17", "fd00::/8", "2001:db8::1"), "test", project)
    expected = ["10.0.0.0/8", "192.168.4.17/32", "fd00::/8", "2001:db8::1/128"]
    assert config.server.gateway.trusted_proxies == expected


def test_every_category_has_cases_and_ids_are_unique():
    assert all(len(cases) >= 2 for cases in CATEGORIES.values())
    assert len({case[0] for case in CASES}) == len(CASES)


def test_no_pattern_in_the_package_accepts_a_trailing_newline():
    """``re.match(r"...$")`` accepts "value\\n": every module-level pattern is used with
    fullmatch and carries no ``$`` anchor that would suggest otherwise."""
    import importlib
    import pkgutil

    import pyroscope_bundle
    import pyroscope_bundle_runtime

    anchored: list[str] = []
    modules = [
        *pkgutil.walk_packages(pyroscope_bundle.__path__, "pyroscope_bundle."),
        *pkgutil.walk_packages(pyroscope_bundle_runtime.__path__, "pyroscope_bundle_runtime."),
    ]
    for module_info in modules:
        if "profiler" in module_info.name or "autostart" in module_info.name:
            continue  # the Python bootstrap starts the agent on import
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            pattern = value.pattern if isinstance(value, re.Pattern) else None
            if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith("\\$"):
                anchored.append(f"{module_info.name}.{name}")
    assert anchored == []


# --- the refusals agree with the real validators -------------------------------------------------


def test_aws_refuses_the_container_definitions_the_loader_refuses():
    """botocore's ECS model (RegisterTaskDefinition) rejects a non-string environment value and
    accepts the same file once quoted: the loader's refusal is AWS's, not a guess."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition")
    request = {"family": "payments", "containerDefinitions": ECS_FILES["env-number.json"]}
    assert ParamValidator().validate(request, shape.input_shape).has_errors()
    quoted = [container(environment=[{"name": "WORKERS", "value": "4"}])]
    assert (
        not ParamValidator()
        .validate({**request, "containerDefinitions": quoted}, shape.input_shape)
        .has_errors()
    )


def test_every_workload_in_the_server_namespace_has_the_reserved_prefix(rendered):
    """The rule "a service must not patch the bundle's own workloads" relies on their names: every
    Deployment/StatefulSet the real renders put into the server's namespace carries the prefix."""
    from pyroscope_bundle import constants

    prefix = constants.KUBERNETES_WORKLOAD_PREFIX
    workloads = []
    for stack in ("staging", "production"):
        config = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        namespace = (config.get("pyroscope:server", {}).get("kubernetes") or {}).get("namespace", "pyroscope")
        for path in sorted((rendered[stack] / "kubernetes" / namespace).glob("*.yaml")):
            document = yaml.safe_load(path.read_text())
            if document.get("kind") in ("Deployment", "StatefulSet", "DaemonSet") and not path.name.endswith(
                ".patch.yaml"
            ):
                workloads.append(document["metadata"]["name"])
    assert workloads, "no workload rendered in the server namespace"
    assert all(name == prefix or name.startswith(f"{prefix}-") for name in workloads), workloads


def test_every_text_pattern_of_the_model_says_what_is_allowed_in_words():
    """A refused pattern names the allowed form (PATTERN_HINTS), never the regular expression."""
    from pydantic import BaseModel
    from pyroscope_bundle.config import model as config_model

    models = [m for m in vars(config_model).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    patterns = {
        getattr(item, "pattern", None)
        for m in models
        for field in m.model_fields.values()
        for item in field.metadata
    } - {None}
    assert patterns, "the scan found no pattern"
    assert patterns <= set(config_model.PATTERN_HINTS), patterns - set(config_model.PATTERN_HINTS)
