"""Validated scalar types for configuration: durations, sizes, names, URLs and versions.

Each validator raises ``ValueError`` with the tail of a user-facing message ("is not a
duration; use e.g. 15d, 360h"); the loader prefixes the key path and the offending value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer

_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_QUANTITY_RE = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_QUANTITY_FACTORS = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
_CPU_RE = re.compile(r"^(\d+(?:\.\d+)?|\d+m)$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_DOCKER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_IPV4_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


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
    if not isinstance(value, str) or not value or not (match := _DURATION_RE.match(value)):
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
    if not isinstance(value, str) or not (match := _QUANTITY_RE.match(value)):
        raise ValueError("is not a size; use a Kubernetes quantity such as 512Mi, 10Gi, 1Ti")
    number, unit = match.groups()
    return Size(bytes=int(float(number) * _QUANTITY_FACTORS[unit]), text=value)


def check_cpu(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _CPU_RE.match(value):
        raise ValueError("is not a CPU quantity; use e.g. 250m, 1, 1.5")
    return value


def check_dns_label(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL_RE.match(value):
        raise ValueError(
            "is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("is not a URL; use e.g. https://profiles-prod-001.grafana.net")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
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
    if not isinstance(value, str) or not _VERSION_RE.match(value):
        raise ValueError("is not a version; use MAJOR.MINOR.PATCH without a leading v, e.g. 2.2.1")
    return value


def version_tuple(version: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"{version!r} is not a MAJOR.MINOR.PATCH version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def check_docker_name(value: Any) -> str:
    """A Docker volume name (what `docker volume create` accepts), e.g. an existing compose
    volume such as ``observability_pyroscope-data``."""
    if not isinstance(value, str) or not _DOCKER_NAME_RE.match(value):
        raise ValueError(
            "is not a Docker volume name; use letters, digits, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    return value


def check_ipv4(value: Any) -> str:
    match = _IPV4_RE.match(value) if isinstance(value, str) else None
    if not match or any(int(octet) > 255 for octet in match.groups()):
        raise ValueError("is not an IPv4 address; use 127.0.0.1 (this host only) or 0.0.0.0 (all)")
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
DockerName = Annotated[str, BeforeValidator(check_docker_name)]
