"""The profiler environment contract: every variable name the wiring sets, and what each runtime reads.

The single source of truth for these names and formats. The Pulumi components
(``pyroscope-bundle``, which depends on this distribution) write them into Kubernetes containers
and ECS container definitions; the code inside profiled services reads them (the Python
autostart in this distribution, the documented Go/Ruby/Node.js snippets). Standard library only,
so a service image needs nothing but this package and its language's SDK.

Credentials are always HTTP basic auth: ``PYROSCOPE_BASIC_AUTH_USER`` (plain) and
``PYROSCOPE_BASIC_AUTH_PASSWORD`` (from a secret store, never a plain value). The legacy bearer
``PYROSCOPE_AUTH_TOKEN`` is never set: it is deprecated in the Go, Java and .NET SDKs and removed
from the Python and Ruby ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast

# --- names every runtime gets -------------------------------------------------------------------
APPLICATION_NAME: Final = "PYROSCOPE_APPLICATION_NAME"
SERVER_ADDRESS: Final = "PYROSCOPE_SERVER_ADDRESS"
BASIC_AUTH_USER: Final = "PYROSCOPE_BASIC_AUTH_USER"
BASIC_AUTH_PASSWORD: Final = "PYROSCOPE_BASIC_AUTH_PASSWORD"  # always from a secret
TENANT_ID: Final = "PYROSCOPE_TENANT_ID"
# Static tags as ``k=v,k2=v2`` (sorted by key): the Java agent's format, also read by .NET.
LABELS: Final = "PYROSCOPE_LABELS"
# Legacy bearer token: never set by the wiring; a user-set one is treated as a conflict.
LEGACY_AUTH_TOKEN: Final = "PYROSCOPE_AUTH_TOKEN"

# --- switches -----------------------------------------------------------------------------------
AGENT_ENABLED: Final = "PYROSCOPE_AGENT_ENABLED"  # Java agent
PROFILING_ENABLED: Final = "PYROSCOPE_PROFILING_ENABLED"  # .NET, and the app-read contract

# --- Java agent ---------------------------------------------------------------------------------
JAVA_PROFILING_INTERVAL: Final = "PYROSCOPE_PROFILING_INTERVAL"  # e.g. 10ms (= 100 Hz)
JAVA_PROFILER_EVENT: Final = "PYROSCOPE_PROFILER_EVENT"  # itimer (CPU) or wall
JAVA_PROFILER_ALLOC: Final = "PYROSCOPE_PROFILER_ALLOC"  # allocation sampling threshold
JAVA_PROFILER_LOCK: Final = "PYROSCOPE_PROFILER_LOCK"  # lock contention threshold
# itimer is the agent's default CPU event and works in containers without perf_events.
JAVA_CPU_EVENT: Final = "itimer"
# The JVM reads JAVA_TOOL_OPTIONS itself: the one place to attach the agent without touching the
# image's command. The agent jar must be in the image at that path (docs/wiring.md).
JAVA_TOOL_OPTIONS: Final = "JAVA_TOOL_OPTIONS"
# Read only by the `java` launcher of JDK 9+ (JEP 293), after JAVA_TOOL_OPTIONS: the variable to
# use when the workload itself sets JAVA_TOOL_OPTIONS (its own flags stay its own).
JDK_JAVA_OPTIONS: Final = "JDK_JAVA_OPTIONS"
JAVA_OPTIONS_VARIABLES: Final = (JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS)
JAVA_DEFAULT_AGENT_PATH: Final = "/opt/pyroscope/pyroscope.jar"


def java_agent_option(agent_path: str) -> str:
    return f"-javaagent:{agent_path}"


JAVA_WALL_EVENT: Final = "wall"
# The agent's recommended production starting points (it warns that 0 is far too costly).
JAVA_ALLOC_THRESHOLD: Final = "512k"
JAVA_LOCK_THRESHOLD: Final = "10ms"

# --- .NET profiler ------------------------------------------------------------------------------
CORECLR_ENABLE_PROFILING: Final = "CORECLR_ENABLE_PROFILING"
CORECLR_PROFILER: Final = "CORECLR_PROFILER"
CORECLR_PROFILER_PATH: Final = "CORECLR_PROFILER_PATH"
LD_PRELOAD: Final = "LD_PRELOAD"
# The managed helper loads the native profiler by bare name (upstream integration-test.Dockerfile
# sets it to the library directory).
LD_LIBRARY_PATH: Final = "LD_LIBRARY_PATH"
DOTNET_PROFILER_CLSID: Final = "{BD1A650D-AC5D-4896-B64F-D6FA25D6B26A}"
# Where the image carries the native profiler (COPY --from the pyroscope-dotnet image).
DOTNET_PROFILER_DIR: Final = "/dotnet"
DOTNET_PROFILER_LIBRARY: Final = "Pyroscope.Profiler.Native.so"
DOTNET_API_WRAPPER_LIBRARY: Final = "Pyroscope.Linux.ApiWrapper.x64.so"
# Profile type -> the .NET switch that turns it on (every switch is set explicitly).
DOTNET_PROFILE_SWITCHES: Final[Mapping[str, str]] = {
    "cpu": "PYROSCOPE_PROFILING_CPU_ENABLED",
    "wall": "PYROSCOPE_PROFILING_WALLTIME_ENABLED",
    "alloc": "PYROSCOPE_PROFILING_ALLOCATION_ENABLED",
    "lock": "PYROSCOPE_PROFILING_LOCK_ENABLED",
    "exceptions": "PYROSCOPE_PROFILING_EXCEPTION_ENABLED",
    "heap": "PYROSCOPE_PROFILING_HEAP_ENABLED",
}

# --- Node.js (@pyroscope/nodejs reads these itself) ---------------------------------------------
NODE_WALL_SAMPLING_INTERVAL_MICROS: Final = "PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS"

# --- the app-read contract (Python bootstrap, Go/Ruby/Node.js snippets) -------------------------
SAMPLE_RATE: Final = "PYROSCOPE_SAMPLE_RATE"  # samples per second (Hz)
PROFILE_TYPES: Final = "PYROSCOPE_PROFILE_TYPES"  # comma-separated, sorted: cpu,alloc,...

# --- rollout trigger ----------------------------------------------------------------------------
# First 16 hex digits of sha256(password): changes exactly when the token is rotated, so the
# ECS task definition gets a new revision (Kubernetes uses a pod-template annotation instead).
CREDENTIALS_HASH: Final = "PYROSCOPE_BUNDLE_CREDENTIALS_HASH"
CREDENTIALS_HASH_LENGTH: Final = 16

# --- where the password lives -------------------------------------------------------------------
# Key of the password in the Kubernetes Secret and in the Secrets Manager JSON secret.
CREDENTIALS_SECRET_KEY: Final = "password"
# Name of the Kubernetes Secret the bundle creates in every wired namespace.
KUBERNETES_SECRET_NAME: Final = "pyroscope-profiler-credentials"

# --- tags ---------------------------------------------------------------------------------------
# Tags the wiring always sets; user tags may not redefine them.
RESERVED_TAGS: Final = ("environment", "service", "version", "service_name")
TAG_KEY_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)  # used with fullmatch
# Pyroscope's default ingestion limits (grafana/pyroscope v2.2.1 pkg/validation/limits.go:
# -validation.max-length-label-name 1024, -validation.max-length-label-value 2048): longer
# labels make the server reject every profile of the service.
TAG_KEY_MAX_LENGTH: Final = 1024
TAG_VALUE_MAX_LENGTH: Final = 2048
# Characters the SDK label parsers split on (Java: ``{},= ``; .NET: ``:`` before ``=``).
TAG_VALUE_FORBIDDEN: Final = frozenset("{},=: \t\r\n\"'")

TRUE: Final = "true"
FALSE: Final = "false"

# Every runtime the wiring knows, and every profile type some runtime's SDK collects (which
# runtime collects which: RUNTIMES below). Literal so that a typo is a type error for callers.
Runtime = Literal["java", "dotnet", "nodejs", "python", "go", "ruby"]
ProfileType = Literal["cpu", "wall", "alloc", "lock", "heap", "exceptions", "goroutines", "block", "mutex"]
Reads = Literal["native", "partial", "app"]


@dataclass(frozen=True)
class RuntimeConvention:
    """How one language runtime gets its profiler configuration."""

    runtime: str
    # native: the SDK reads PYROSCOPE_* itself; partial: some of it; app: the app reads the
    # contract and calls the SDK (bootstrap or snippet).
    reads: Reads
    profile_types: tuple[str, ...]
    # Profile types of which at most one may be chosen (one sampling event / mode).
    exclusive: tuple[str, ...] = ()
    # Names the SDK itself reads (documentation; the rest is read by app code).
    sdk_reads: tuple[str, ...] = ()


_CORE = (APPLICATION_NAME, SERVER_ADDRESS, BASIC_AUTH_USER, BASIC_AUTH_PASSWORD, TENANT_ID, LABELS)

RUNTIMES: Final[Mapping[str, RuntimeConvention]] = {
    "java": RuntimeConvention(
        "java", "native", ("cpu", "wall", "alloc", "lock"), exclusive=("cpu", "wall"),
        sdk_reads=(*_CORE, AGENT_ENABLED, JAVA_PROFILING_INTERVAL, JAVA_PROFILER_EVENT,
                   JAVA_PROFILER_ALLOC, JAVA_PROFILER_LOCK),
    ),
    "dotnet": RuntimeConvention(
        "dotnet", "native", tuple(DOTNET_PROFILE_SWITCHES),
        sdk_reads=(*_CORE, PROFILING_ENABLED, *DOTNET_PROFILE_SWITCHES.values(), CORECLR_ENABLE_PROFILING,
                   CORECLR_PROFILER, CORECLR_PROFILER_PATH, LD_PRELOAD, LD_LIBRARY_PATH),
    ),
    "nodejs": RuntimeConvention(
        "nodejs", "partial", ("cpu", "wall", "heap"),
        sdk_reads=(APPLICATION_NAME, SERVER_ADDRESS, NODE_WALL_SAMPLING_INTERVAL_MICROS),
    ),
    "python": RuntimeConvention("python", "app", ("cpu", "wall"), exclusive=("cpu", "wall")),
    "go": RuntimeConvention("go", "app", ("cpu", "alloc", "heap", "goroutines", "block", "mutex")),
    "ruby": RuntimeConvention("ruby", "app", ("cpu",)),
}  # fmt: skip


def runtime_named(value: object) -> Runtime | None:
    """``value`` as a :data:`Runtime` when it names one (values read from labels, tags, files)."""
    return cast(Runtime, value) if isinstance(value, str) and value in RUNTIMES else None


def owned_names(runtime: str) -> tuple[str, ...]:
    """Every variable the wiring may set for ``runtime`` (plus the legacy token it removes)."""
    names = {*_CORE, LEGACY_AUTH_TOKEN, CREDENTIALS_HASH}
    if runtime == "java":
        names |= {AGENT_ENABLED, JAVA_PROFILING_INTERVAL, JAVA_PROFILER_EVENT, JAVA_PROFILER_ALLOC,
                  JAVA_PROFILER_LOCK}  # fmt: skip
    elif runtime == "dotnet":
        names |= {PROFILING_ENABLED, *DOTNET_PROFILE_SWITCHES.values(), CORECLR_ENABLE_PROFILING,
                  CORECLR_PROFILER, CORECLR_PROFILER_PATH, LD_PRELOAD, LD_LIBRARY_PATH}  # fmt: skip
    else:
        names |= {PROFILING_ENABLED, SAMPLE_RATE, PROFILE_TYPES}
        if runtime == "nodejs":
            names.add(NODE_WALL_SAMPLING_INTERVAL_MICROS)
    return tuple(sorted(names))


def profile_type_problem(runtime: str, profile_types: list[str] | tuple[str, ...]) -> str | None:
    """Why ``profile_types`` cannot be collected by ``runtime``'s SDK, or None when they can."""
    convention = RUNTIMES.get(runtime)
    if convention is None:
        return f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}"
    if not profile_types:
        return "is empty; list at least one profile type, e.g. [cpu]"
    unsupported = [kind for kind in profile_types if kind not in convention.profile_types]
    if unsupported:
        return (
            f"has {', '.join(unsupported)}, which the {runtime} SDK cannot collect; "
            f"allowed for {runtime}: {', '.join(convention.profile_types)}"
        )
    chosen = [kind for kind in convention.exclusive if kind in profile_types]
    if len(chosen) > 1:
        return f"has {' and '.join(chosen)}; the {runtime} SDK samples one of them at a time, choose one"
    return None


def tag_problem(key: str, value: str) -> str | None:
    """Why ``key=value`` cannot be a profile tag every SDK parses the same way, or None."""
    if not TAG_KEY_RE.fullmatch(key):
        return "is not a tag name; use letters, digits and '_', not starting with a digit"
    if len(key) > TAG_KEY_MAX_LENGTH:
        return f"is longer than {TAG_KEY_MAX_LENGTH} characters, Pyroscope's label name limit"
    if key in RESERVED_TAGS or key.startswith("__"):
        return f"is set by the bundle; do not redefine {', '.join(RESERVED_TAGS)} (or keys starting with __)"
    return tag_value_problem(value)


def tag_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a tag value (empty, or a character some SDK splits on), or None."""
    if not value:
        return "is empty; tag values must not be empty"
    if len(value) > TAG_VALUE_MAX_LENGTH:
        return (
            f"is {len(value)} characters long; Pyroscope refuses label values above "
            f"{TAG_VALUE_MAX_LENGTH} (validation.max-length-label-value)"
        )
    bad = sorted(set(value) & TAG_VALUE_FORBIDDEN)
    if bad:
        return f"contains {''.join(bad)!r}; tag values must not contain spaces, quotes or any of {{}},=:"
    if not value.isprintable():
        return "contains a control character; tag values are one line of printable text"
    return None


_URL_USERINFO: Final = re.compile(r"(://)[^/@\s\"']+@")


def redact_url_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@`` (for logs and errors)."""
    return _URL_USERINFO.sub(r"\1***@", text)


def format_labels(tags: Mapping[str, str]) -> str:
    """``k=v,k2=v2`` sorted by key: what the Java and .NET agents parse from PYROSCOPE_LABELS."""
    return ",".join(f"{key}={tags[key]}" for key in sorted(tags))


def parse_labels(text: str) -> dict[str, str]:
    """The inverse of :func:`format_labels`; raises ValueError on an entry without ``=``."""
    tags: dict[str, str] = {}
    for raw_entry in text.split(","):
        entry = raw_entry.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{LABELS} entry {entry!r} is not key=value")
        tags[key.strip()] = value.strip()
    return tags


def format_profile_types(profile_types: list[str] | tuple[str, ...]) -> str:
    return ",".join(sorted(set(profile_types)))


def parse_profile_types(text: str) -> tuple[str, ...]:
    return tuple(sorted({part.strip() for part in text.split(",") if part.strip()}))


def parse_bool(text: str | None) -> bool | None:
    """``true/false/1/0/yes/no`` (any case); None for unset or unrecognised text."""
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    return None


def java_interval(sample_rate: int) -> str:
    """Sampling period for a rate in Hz, in the Java agent's interval syntax (``10ms``, ``3333us``)."""
    micros = 1_000_000 // sample_rate
    return f"{micros // 1000}ms" if micros % 1000 == 0 else f"{micros}us"


def node_wall_interval_micros(sample_rate: int) -> str:
    return str(1_000_000 // sample_rate)
