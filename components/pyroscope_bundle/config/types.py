"""Validated scalar types for configuration: durations, sizes, names, URLs and versions.

Each validator raises ``ValueError`` with the tail of a user-facing message ("is not a
duration; use e.g. 15d, 360h"); the loader prefixes the key path and the offending value.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer

_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.ASCII)
_QUANTITY_RE = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?", re.ASCII)
_QUANTITY_FACTORS = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_CPU_RE = re.compile(r"\d+(?:\.\d+)?|\d+m", re.ASCII)
_DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)", re.ASCII)
_DOCKER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}", re.ASCII)
_IPV4_RE = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", re.ASCII)


@dataclass(frozen=True, order=True)
class Duration:
    """A Prometheus-style duration (``15d``, ``360h``, ``1h30m``) as Pyroscope reads it."""

    seconds: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str) or not value or not (match := _DURATION_RE.fullmatch(value)):
        raise ValueError("is not a duration; use e.g. 15d, 360h, 1h30m (units y, w, d, h, m, s)")
    seconds = sum(
        int(amount) * factor
        for amount, factor in zip(match.groups(), _DURATION_UNITS.values(), strict=True)
        if amount
    )
    return Duration(seconds=seconds, text=value)


@dataclass(frozen=True, order=True)
class Size:
    """A Kubernetes resource quantity for bytes (``50Gi``, ``512Mi``)."""

    bytes: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_size(value: Any) -> Size:
    if isinstance(value, Size):
        return value
    if not isinstance(value, str) or not (match := _QUANTITY_RE.fullmatch(value)):
        raise ValueError("is not a size; use a Kubernetes quantity such as 512Mi, 10Gi, 1Ti")
    number, unit = match.groups()
    # Decimal, not float: "9" * 400 would be infinity (an OverflowError, not a refusal).
    return Size(bytes=int(Decimal(number) * _QUANTITY_FACTORS[unit]), text=value)


def check_cpu(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _CPU_RE.fullmatch(value):
        raise ValueError("is not a CPU quantity; use e.g. 250m, 1, 1.5")
    return value


def check_dns_label(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL_RE.fullmatch(value):
        raise ValueError(
            "is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("is not a URL; use e.g. https://profiles-prod-001.grafana.net")
    # urlsplit silently drops tabs and newlines: refuse them (and every other control character).
    if _has_space_or_control(value):
        raise ValueError("is not a URL: it contains whitespace or control characters (a newline?)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("is not an http(s) URL; use e.g. https://profiles-prod-001.grafana.net")
    if parts.query or parts.fragment:
        raise ValueError("is not a base URL: remove the query string or fragment")
    if parts.username is not None or parts.password is not None:
        # The URL is a plain value (env, ConfigMaps, stack outputs): credentials in it would leak.
        raise ValueError(
            "contains credentials (user:password@), which would be stored in plain text; remove them "
            "(for pyroscope:target: basicAuthUser and the secret pyroscope:authToken)"
        )
    return value.rstrip("/")


def check_version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        raise ValueError("is not a version; use MAJOR.MINOR.PATCH without a leading v, e.g. 2.2.1")
    return value


def version_tuple(version: str) -> tuple[int, int, int]:
    match = _VERSION_RE.fullmatch(version)
    if not match:
        raise ValueError(f"{version!r} is not a MAJOR.MINOR.PATCH version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def check_docker_name(value: Any) -> str:
    """A Docker volume name (what `docker volume create` accepts), e.g. an existing compose
    volume such as ``observability_pyroscope-data``."""
    if not isinstance(value, str) or not _DOCKER_NAME_RE.fullmatch(value):
        raise ValueError(
            "is not a Docker volume name; use letters, digits, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    return value


def check_ipv4(value: Any) -> str:
    match = _IPV4_RE.fullmatch(value) if isinstance(value, str) else None
    if not match or any(int(octet) > 255 for octet in match.groups()):
        raise ValueError("is not an IPv4 address; use 127.0.0.1 (this host only) or 0.0.0.0 (all)")
    return value


def check_trusted_proxy(value: Any) -> str:
    """A proxy network whose X-Forwarded-For the gateway believes (nginx ``set_real_ip_from``):
    one IPv4 or IPv6 address or network with no host bits set. Everything (0.0.0.0/0, ::/0) is
    refused: any client could then choose the address its limits are counted by."""
    allowed = (
        "use an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8 (or one address) with no host bits set"
    )
    try:
        network = ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
    except ValueError:
        network = None
    # A zone (fe80::1%eth0) is no network nginx's set_real_ip_from accepts.
    if network is None or "%" in str(network):
        raise ValueError(f"is not a proxy network; {allowed}")
    if network.prefixlen == 0:
        raise ValueError(f"trusts every address, so any client could choose its own; {allowed}")
    return str(network)


def _has_space_or_control(value: str) -> bool:
    return any(char.isspace() or not char.isprintable() for char in value)


# Kubernetes' own formats (kubernetes/apimachinery pkg/util/validation/validation.go: DNS-1123
# subdomain <= 253, qualifiedNameFmt <= 63 for label names and values, a label prefix a subdomain).
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII)
_LABEL_NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)
_AWS_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", re.ASCII)
_IAM_ROLE_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_IAM_ROLE_ARN_RE = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
_SECRET_ARN_RE = re.compile(
    r"arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:secret:[\w/+=.@-]+", re.ASCII
)
_KMS_KEY_ARN_RE = re.compile(
    r"arn:aws(-[a-z]+)*:kms:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:key/(mrk-)?[0-9a-f-]{32,36}", re.ASCII
)
_ECS_CONTAINER_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}", re.ASCII)
# Pyroscope tenant ids (grafana/pyroscope v2.2.1 docs/sources/configure-server/about-tenant-ids.md):
# at most 150 characters of letters, digits and ! - _ . * ' ( ); not "." or "..".
_TENANT_ID_RE = re.compile(r"[A-Za-z0-9!\-_.*'()]{1,150}", re.ASCII)
# A basic-auth user: no ':' (it ends the user in the Authorization header), no spaces or controls.
_BASIC_AUTH_USER_RE = re.compile(r"[A-Za-z0-9._@+-]{1,256}", re.ASCII)
_S3_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_dns_subdomain(value: Any) -> str:
    """A Kubernetes object name (RFC 1123 subdomain): Ingress hosts, class, Secret and StorageClass names."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(value):
        raise ValueError(
            "is not a DNS-1123 subdomain; use at most 253 lowercase letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit"
        )
    return value


_REGISTRY_RE = re.compile(
    r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*", re.ASCII
)


def check_image_registry(value: Any) -> str:
    """A registry host (optionally :port) with an optional path: no scheme, no trailing slash."""
    if not isinstance(value, str) or not _REGISTRY_RE.fullmatch(value):
        raise ValueError(
            "is not a registry prefix; use a host with an optional port and path, without "
            "scheme or trailing slash, e.g. registry.example.com/dockerhub"
        )
    return value


def check_host_name(value: Any) -> str:
    """An Ingress host: a lowercase DNS name (``*.`` wildcard allowed), not a URL, no port."""
    if isinstance(value, str) and ("://" in value or "/" in value or ":" in value):
        raise ValueError("is a URL or has a port; give only the host name, e.g. profiles.example.com")
    name = value[2:] if isinstance(value, str) and value.startswith("*.") else value
    try:
        check_dns_subdomain(name)
    except ValueError:
        raise ValueError(
            "is not a host name; use a lowercase DNS name such as profiles.example.com"
        ) from None
    return str(value)


def check_label_key(value: Any) -> str:
    """A Kubernetes label key: ``[prefix/]name``, name at most 63 characters, prefix a DNS subdomain."""
    if isinstance(value, str) and value.count("/") <= 1:
        prefix, _, name = value.rpartition("/")
        prefix_ok = not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN_RE.fullmatch(prefix))
        if prefix_ok and len(name) <= 63 and _LABEL_NAME_RE.fullmatch(name):
            return value
    raise ValueError(
        "is not a Kubernetes label key; use [prefix/]name with a name of at most 63 letters, digits, "
        "'-', '_' and '.' (starting and ending with a letter or digit), e.g. grafana_datasource"
    )


def check_annotation_key(value: Any) -> str:
    """A Kubernetes annotation key: the same ``[prefix/]name`` rule as a label key (the API
    server refuses anything else when the object is applied, long after the preview)."""
    try:
        return check_label_key(value)
    except ValueError:
        raise ValueError(
            "is not a Kubernetes annotation key; use [prefix/]name with a name of at most 63 letters, "
            "digits, '-', '_' and '.' (starting and ending with a letter or digit), e.g. "
            "cert-manager.io/cluster-issuer"
        ) from None


_NGINX_SIZE_RE = re.compile(r"([0-9]{1,12})([kKmMgG]?)", re.ASCII)
_NGINX_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def nginx_size_bytes(value: str) -> int | None:
    """An nginx size (``16m``, ``16384k``, ``0``) in bytes, None when nginx would not take it
    (``ngx_parse_offset`` in nginx ``src/core/ngx_parse.c``: a number, one optional unit)."""
    match = _NGINX_SIZE_RE.fullmatch(value.strip())
    if match is None:
        return None
    number, unit = match.groups()
    return int(number) * _NGINX_SIZE_FACTORS[unit.lower()]


def check_label_value(value: Any) -> str:
    """A Kubernetes label value: empty, or at most 63 letters, digits, '-', '_', '.'."""
    if isinstance(value, str) and (not value or (len(value) <= 63 and _LABEL_NAME_RE.fullmatch(value))):
        return value
    raise ValueError(
        "is not a Kubernetes label value; use at most 63 letters, digits, '-', '_' and '.', starting "
        'and ending with a letter or digit (quote numbers and booleans: "1", "true")'
    )


def check_aws_region(value: Any) -> str:
    if not isinstance(value, str) or not _AWS_REGION_RE.fullmatch(value):
        raise ValueError("is not an AWS region; use e.g. us-east-1, eu-west-1")
    return value


def check_s3_bucket(value: Any) -> str:
    """An S3 general purpose bucket name (AWS's bucket naming rules)."""
    ok = (
        isinstance(value, str)
        and _S3_BUCKET_RE.fullmatch(value) is not None
        and ".." not in value
        and ".-" not in value
        and "-." not in value
        and not _IPV4_RE.fullmatch(value)
        and not value.startswith(_S3_RESERVED_PREFIXES)
        and not value.endswith(_S3_RESERVED_SUFFIXES)
    )
    if not ok:
        raise ValueError(
            "is not an S3 bucket name; use 3 to 63 lowercase letters, digits, '-' and '.', starting and "
            "ending with a letter or digit, not an IP address (AWS bucket naming rules)"
        )
    return str(value)


def check_iam_role(value: Any) -> str:
    """An IAM role name or role ARN (never a wildcard: the grant would reach every role)."""
    if isinstance(value, str) and (
        _IAM_ROLE_ARN_RE.fullmatch(value)
        or (not value.startswith("arn:") and _IAM_ROLE_NAME_RE.fullmatch(value))
    ):
        return value
    raise ValueError(
        "is not an IAM role name or role ARN; use e.g. payments-execution or "
        "arn:aws:iam::123456789012:role/payments-execution (no wildcards)"
    )


def check_iam_role_arn(value: Any) -> str:
    if not isinstance(value, str) or not _IAM_ROLE_ARN_RE.fullmatch(value):
        raise ValueError(
            "is not an IAM role ARN; use e.g. arn:aws:iam::123456789012:role/pyroscope (no wildcards)"
        )
    return value


def check_secret_arn(value: Any) -> str:
    """One Secrets Manager secret: ``*`` would grant GetSecretValue on every secret of the account."""
    if not isinstance(value, str) or not _SECRET_ARN_RE.fullmatch(value) or "*" in value:
        raise ValueError(
            "is not a Secrets Manager secret ARN; use the full ARN of one secret, e.g. "
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope-AbCdEf (no wildcards)"
        )
    return value


def check_kms_key_arn(value: Any) -> str:
    """One KMS key: ``*`` would grant kms:Decrypt on every key of the account."""
    if not isinstance(value, str) or not _KMS_KEY_ARN_RE.fullmatch(value):
        raise ValueError(
            "is not a KMS key ARN; use the ARN of one key, e.g. "
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab "
            "(no wildcards or aliases)"
        )
    return value


def check_ecs_container_name(value: Any) -> str:
    if not isinstance(value, str) or not _ECS_CONTAINER_NAME_RE.fullmatch(value):
        raise ValueError("is not an ECS container name; use up to 255 letters, digits, '-' and '_'")
    return value


# Docker's predefined networks: a user-defined network cannot take their names.
DOCKER_BUILTIN_NETWORKS = ("bridge", "host", "none")


def check_docker_network(value: Any) -> str:
    value = check_dns_label(value)
    if value in DOCKER_BUILTIN_NETWORKS:
        raise ValueError(
            f"is one of Docker's built-in networks ({', '.join(DOCKER_BUILTIN_NETWORKS)}); "
            "use a name of its own, e.g. pyroscope"
        )
    return value


def check_ecs_units(value: Any) -> str:
    """ECS task cpu units / memory MiB: a whole number, as int or string (the API takes a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError("is not a whole number; use e.g. 256 (cpu units) or 512 (MiB)")
    return str(int(value))


# Pulumi stack names: letters, digits, '-', '_' and '.', at most 100 characters.
_STACK_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)


def check_stack_name(value: Any) -> str:
    if not isinstance(value, str) or not _STACK_NAME_RE.fullmatch(value):
        raise ValueError("is not a Pulumi stack name; use up to 100 letters, digits, '-', '_' and '.'")
    return value


def check_relative_path(value: Any) -> str:
    """A file in the repository: relative, inside it, one line (it is read at deploy time)."""
    if (
        not isinstance(value, str)
        or not value
        or _has_space_or_control(value)
        or value.startswith(("/", "\\"))
        or ":" in value
        or ".." in value.replace("\\", "/").split("/")
    ):
        raise ValueError(
            "is not a path inside the repository; use a relative path without '..' or spaces, "
            "e.g. configs/ecs/api.json"
        )
    return value


# An image reference as Docker parses it (distribution/reference): [registry[:port]/]path[:tag][@digest].
_IMAGE_RE = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?",
    re.ASCII,
)


def check_image_reference(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 512 or not _IMAGE_RE.fullmatch(value):
        raise ValueError(
            "is not an image reference; use [registry/]repository[:tag][@sha256:digest], "
            "e.g. registry.example.com/agents/pyroscope-java:2.1.2"
        )
    return value


def _number_as_text(value: Any) -> Any:
    """Ids that are numbers (Grafana Cloud user ids): YAML and ``pulumi config set --path`` make them ints."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def check_tenant_id(value: Any) -> str:
    value = _number_as_text(value)
    if not isinstance(value, str) or value in (".", "..") or not _TENANT_ID_RE.fullmatch(value):
        raise ValueError(
            "is not a Pyroscope tenant id; use at most 150 letters, digits and ! - _ . * ' ( ) (not . or ..)"
        )
    return value


def check_basic_auth_user(value: Any) -> str:
    value = _number_as_text(value)
    if not isinstance(value, str) or not _BASIC_AUTH_USER_RE.fullmatch(value):
        raise ValueError(
            "is not a basic-auth user; use letters, digits and . _ @ + - (no ':', spaces or newlines), "
            "e.g. the Grafana Cloud stack's numeric user id"
        )
    return value


def check_plain_text(value: Any) -> str:
    """Free text that lands in files, headers or names: one line, no control characters."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # YAML reads 1.10 as 1.1: converting would silently change the text.
        raise ValueError('is a number where text is meant; quote it in the stack file (e.g. "1.10")')
    if not isinstance(value, str) or not value.strip() or any(not char.isprintable() for char in value):
        raise ValueError("is not one line of text; remove newlines and control characters")
    return value


def _to_text(value: object) -> str:
    return str(value)


DurationField = Annotated[Duration, BeforeValidator(parse_duration), PlainSerializer(_to_text)]
SizeField = Annotated[Size, BeforeValidator(parse_size), PlainSerializer(_to_text)]
CpuField = Annotated[str, BeforeValidator(check_cpu)]
DnsLabel = Annotated[str, BeforeValidator(check_dns_label)]
HttpUrl = Annotated[str, BeforeValidator(check_url)]
Version = Annotated[str, BeforeValidator(check_version)]
IPv4 = Annotated[str, BeforeValidator(check_ipv4)]
TrustedProxy = Annotated[str, BeforeValidator(check_trusted_proxy)]
DockerName = Annotated[str, BeforeValidator(check_docker_name)]
DockerNetworkName = Annotated[str, BeforeValidator(check_docker_network)]
EcsUnits = Annotated[str, BeforeValidator(check_ecs_units)]
DnsSubdomain = Annotated[str, BeforeValidator(check_dns_subdomain)]
HostName = Annotated[str, BeforeValidator(check_host_name)]
LabelKey = Annotated[str, BeforeValidator(check_label_key)]
AnnotationKey = Annotated[str, BeforeValidator(check_annotation_key)]
LabelValue = Annotated[str, BeforeValidator(check_label_value)]
AwsRegion = Annotated[str, BeforeValidator(check_aws_region)]
S3Bucket = Annotated[str, BeforeValidator(check_s3_bucket)]
IamRole = Annotated[str, BeforeValidator(check_iam_role)]
IamRoleArn = Annotated[str, BeforeValidator(check_iam_role_arn)]
SecretArn = Annotated[str, BeforeValidator(check_secret_arn)]
KmsKeyArn = Annotated[str, BeforeValidator(check_kms_key_arn)]
EcsContainerName = Annotated[str, BeforeValidator(check_ecs_container_name)]
TenantId = Annotated[str, BeforeValidator(check_tenant_id)]
BasicAuthUser = Annotated[str, BeforeValidator(check_basic_auth_user)]
PlainText = Annotated[str, BeforeValidator(check_plain_text)]
ImageReference = Annotated[str, BeforeValidator(check_image_reference)]
StackName = Annotated[str, BeforeValidator(check_stack_name)]
RelativePath = Annotated[str, BeforeValidator(check_relative_path)]
ImageRegistry = Annotated[str, BeforeValidator(check_image_registry)]
