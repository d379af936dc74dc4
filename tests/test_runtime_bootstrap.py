"""pyroscope_bundle_runtime: reads the env contract, starts the real pyroscope-io agent, or logs why not."""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle_runtime import bootstrap

from tests.gateway_stack import SHUTDOWN_POLL
from tests.harness import PROJECT_DIR, deploy_with

TOKEN = "glc_bootstrap_token_42"
USER = "123456"
TENANT = "team-payments"

GOOD_ENV = {
    "PYROSCOPE_APPLICATION_NAME": "payments-api",
    "PYROSCOPE_SERVER_ADDRESS": "http://127.0.0.1:4040",
    "PYROSCOPE_BASIC_AUTH_USER": USER,
    "PYROSCOPE_BASIC_AUTH_PASSWORD": TOKEN,
    "PYROSCOPE_TENANT_ID": TENANT,
    "PYROSCOPE_LABELS": "environment=staging,service=payments-api,version=2.0.1",
    "PYROSCOPE_PROFILING_ENABLED": "true",
    "PYROSCOPE_SAMPLE_RATE": "97",
    "PYROSCOPE_PROFILE_TYPES": "cpu",
}


def test_read_config_maps_the_contract_to_configure_arguments():
    config = bootstrap.read_config(GOOD_ENV)
    assert config.configure_arguments() == {
        "application_name": "payments-api",
        "server_address": "http://127.0.0.1:4040",
        "basic_auth_username": USER,
        "basic_auth_password": TOKEN,
        "tenant_id": TENANT,
        "tags": {"environment": "staging", "service": "payments-api", "version": "2.0.1"},
        "sample_rate": 97,
        "oncpu": True,
        "gil_only": True,
    }
    assert TOKEN not in repr(config)
    wall = bootstrap.read_config({**GOOD_ENV, "PYROSCOPE_PROFILE_TYPES": "wall"}).configure_arguments()
    assert (wall["oncpu"], wall["gil_only"]) == (False, False)


def test_every_argument_is_accepted_by_the_installed_sdk():
    import pyroscope

    arguments = bootstrap.read_config(GOOD_ENV).configure_arguments()
    assert bootstrap.supported_arguments(pyroscope.configure, arguments) == arguments
    assert "auth_token" not in arguments and "detect_subprocesses" not in arguments


def test_arguments_an_older_or_newer_sdk_lacks_are_dropped_not_fatal(caplog):
    def narrow_configure(application_name: str, server_address: str, tags: dict | None = None) -> None: ...

    arguments = bootstrap.read_config(GOOD_ENV).configure_arguments()
    with caplog.at_level(logging.WARNING, logger="pyroscope_bundle.profiler"):
        kept = bootstrap.supported_arguments(narrow_configure, arguments)
    assert set(kept) == {"application_name", "server_address", "tags"}
    assert "basic_auth_password" in caplog.text and TOKEN not in caplog.text

    def no_name(server_address: str) -> None: ...

    with pytest.raises(bootstrap.ProfilerNotStarted, match="application_name"):
        bootstrap.supported_arguments(no_name, arguments)


@pytest.mark.parametrize(
    ("change", "reason", "disabled"),
    [
        ({"PYROSCOPE_PROFILING_ENABLED": "false"}, "PYROSCOPE_PROFILING_ENABLED is false", True),
        ({"PYROSCOPE_SERVER_ADDRESS": None}, "PYROSCOPE_SERVER_ADDRESS is not set", True),
        ({"PYROSCOPE_PROFILING_ENABLED": "perhaps"}, "is not true or false", False),
        ({"PYROSCOPE_SERVER_ADDRESS": "pyroscope:4040"}, "is not an http(s) URL", False),
        ({"PYROSCOPE_SERVER_ADDRESS": f"ftp://{USER}:{TOKEN}@host"}, "is not an http(s) URL", False),
        ({"PYROSCOPE_APPLICATION_NAME": None}, "PYROSCOPE_APPLICATION_NAME is not set", False),
        ({"PYROSCOPE_BASIC_AUTH_PASSWORD": None}, "credentials secret missing", False),
        ({"PYROSCOPE_BASIC_AUTH_USER": None}, "PYROSCOPE_BASIC_AUTH_USER is not", False),
        ({"PYROSCOPE_LABELS": "team"}, "is not key=value", False),
        ({"PYROSCOPE_SAMPLE_RATE": "fast"}, "is not a whole number", False),
        ({"PYROSCOPE_PROFILE_TYPES": "cpu,wall"}, "choose one", False),
        ({"PYROSCOPE_PROFILE_TYPES": "alloc"}, "cannot collect", False),
    ],
)
def test_disabled_or_misconfigured_env_is_refused_with_the_reason(change, reason, disabled):
    environ = {**GOOD_ENV, **change}
    environ = {key: value for key, value in environ.items() if value is not None}
    with pytest.raises(bootstrap.ProfilerNotStarted) as outcome:
        bootstrap.read_config(environ)
    assert reason in outcome.value.reason
    assert outcome.value.disabled is disabled
    assert TOKEN not in outcome.value.reason


def test_start_does_nothing_and_logs_why(caplog):
    with caplog.at_level(logging.INFO, logger="pyroscope_bundle.profiler"):
        assert bootstrap.start({}) is False
        assert bootstrap.start({**GOOD_ENV, "PYROSCOPE_SAMPLE_RATE": "0"}) is False
    assert "not started: PYROSCOPE_SERVER_ADDRESS is not set" in caplog.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "PYROSCOPE_SAMPLE_RATE" in warnings[0].getMessage()


def test_the_started_log_line_never_shows_url_credentials(caplog, monkeypatch):
    """A hand-set address with user:password@ must not put the token in the service's logs."""
    import types

    calls: list[dict[str, Any]] = []
    fake_sdk = types.ModuleType("pyroscope")
    fake_sdk.configure = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    fake_sdk.shutdown = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyroscope", fake_sdk)
    monkeypatch.setattr(bootstrap, "_started", False)
    address = f"http://{USER}:{TOKEN}@127.0.0.1:4040"
    with caplog.at_level(logging.INFO, logger="pyroscope_bundle.profiler"):
        assert bootstrap.start({**GOOD_ENV, "PYROSCOPE_SERVER_ADDRESS": address}) is True
    assert calls and calls[0]["server_address"] == address
    assert "Pyroscope profiling started" in caplog.text and "127.0.0.1:4040" in caplog.text
    assert TOKEN not in caplog.text


def test_importing_the_autostart_loads_neither_pulumi_nor_pydantic():
    code = (
        "import sys, pyroscope_bundle_runtime.autostart\n"
        "roots = ('pulumi', 'pydantic', 'pulumi_aws', 'yaml')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_base_env(), capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


# --- a real agent pushing to a loopback receiver --------------------------------------------------


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    series: list[dict[str, str]] = field(default_factory=list)


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """Protobuf fields of ``data``: (number, int or bytes)."""
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
            yield number, value
        elif wire == 2:
            length, offset = _varint(data, offset)
            yield number, data[offset : offset + length]
            offset += length
        elif wire == 1:
            offset += 8
        elif wire == 5:
            offset += 4
        else:
            raise ValueError(f"wire type {wire}")


def series_labels(body: bytes) -> list[dict[str, str]]:
    """push.v1.PushRequest{series=1: RawProfileSeries{labels=1: LabelPair{name=1, value=2}}}."""
    result = []
    for number, series in _fields(body):
        if number != 1:
            continue
        labels = {}
        for label_number, pair in _fields(series):
            if label_number == 1:
                parts = dict(_fields(pair))
                labels[parts[1].decode()] = parts[2].decode()
        result.append(labels)
    return result


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Push]]]:
    pushes: list[Push] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            pushes.append(
                Push(self.path, {k.lower(): v for k, v in self.headers.items()}, series_labels(body))
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/proto")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pushes
    finally:
        server.shutdown()
        server.server_close()


def wired_python_env(server_url: str) -> dict[str, str]:
    """The env an ECS task of a wired Python service gets, with ECS's secret injection done by hand."""
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": server_url, "basicAuthUser": USER, "tenantId": TENANT},
            "services": [
                {
                    "name": "payments-api",
                    "platform": "ecs",
                    "runtime": "python",
                    "version": "2.0.1",
                    "tags": {"team": "payments"},
                    "ecs": {"containerDefinitions": "configs/ecs/payments-api.json"},
                },
            ],
        },
        stack="staging",
        secrets={"authToken": TOKEN},
    )
    (container,) = ecs_register_request(deployed.one("aws:ecs/taskDefinition:TaskDefinition").record)[
        "containerDefinitions"
    ]
    env = {entry["name"]: entry["value"] for entry in container["environment"]}
    secret_arn = deployed.outputs["profilerSecretArn"]
    for secret in container["secrets"]:
        assert secret["valueFrom"] == f"{secret_arn}:password::"
        env[secret["name"]] = TOKEN  # what ECS resolves from the Secrets Manager JSON key
    return env


def _base_env(*, source: bool = True) -> dict[str, str]:
    """A minimal service environment; ``source``: import this checkout's code (not an installed copy)."""
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    if source:
        env["PYTHONPATH"] = os.pathsep.join(str(PROJECT_DIR / part) for part in ("components", "runtime/src"))
    return env


LOAD = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
import {module}
def busy(cpu_seconds):
    # CPU time, not wall time: what the 100 Hz sampler counts; the exit flush pushes the profile.
    end = time.process_time() + cpu_seconds
    total = 0
    while time.process_time() < end:
        total += sum(i * i for i in range(2000))
    return total
busy(0.2)
"""


def run_service(
    env: dict[str, str], module: str = "pyroscope_bundle_runtime.autostart", python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """A service process that imports ``module`` first and burns 0.2 s of CPU (20 samples); the
    agent's exit flush pushes what it sampled."""
    return subprocess.run(
        [python, "-c", LOAD.format(module=module)],
        env={**_base_env(source=python == sys.executable), **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_pushed_with_basic_auth(result: subprocess.CompletedProcess[str], pushes: list[Push]) -> None:
    """The agent started and pushed with basic auth, tenant and the wired tags; the token never logged."""
    assert result.returncode == 0, result.stderr
    assert "Pyroscope profiling started: application payments-api" in result.stderr
    assert TOKEN not in result.stderr
    assert pushes, f"no push received; stderr: {result.stderr}"
    expected_auth = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    for push in pushes:
        assert push.path == "/push.v1.PusherService/Push"
        assert push.headers["authorization"] == expected_auth
        assert push.headers["x-scope-orgid"] == TENANT
    labels = [series for push in pushes for series in push.series]
    assert labels, "pushes carried no profile series"
    for series in labels:
        assert series["service_name"] == "payments-api"
        assert series["environment"] == "staging"
        assert series["service"] == "payments-api"
        assert series["version"] == "2.0.1"
        assert series["team"] == "payments"


@pytest.mark.slow
@pytest.mark.parametrize(
    "module", ["pyroscope_bundle_runtime.autostart", "pyroscope_bundle.profiler.python_bootstrap"]
)
def test_wired_python_service_pushes_with_basic_auth_tenant_and_tags(receiver, module):
    """The new autostart import, and the deprecated one that older images still use."""
    url, pushes = receiver
    env = wired_python_env(url)
    assert env["PYROSCOPE_SERVER_ADDRESS"] == url
    assert_pushed_with_basic_auth(run_service(env, module), pushes)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["switch-off", "not-wired"])
def test_disabled_python_service_pushes_nothing(receiver, how):
    url, pushes = receiver
    env = wired_python_env(url)
    if how == "switch-off":
        env["PYROSCOPE_PROFILING_ENABLED"] = "false"
    else:
        env = {"LOG_LEVEL": "info"}  # a disabled service has no wiring at all
    result = run_service(env)
    assert result.returncode == 0, result.stderr
    assert "Pyroscope profiling not started" in result.stderr
    assert pushes == []


def test_ecs_example_files_are_valid_json():
    for path in sorted((PROJECT_DIR / "configs" / "ecs").glob("*.json")):
        # Container-definition lists, or whole task definitions (RegisterTaskDefinition objects).
        expected = dict if path.name.endswith(".task-definition.json") else list
        assert isinstance(json.loads(path.read_text()), expected), path


def test_the_deprecated_imports_are_the_runtime_and_say_so():
    import importlib
    import warnings

    from pyroscope_bundle_runtime import contract

    for name in ("pyroscope_bundle.env_contract", "pyroscope_bundle.profiler.python_bootstrap"):
        sys.modules.pop(name, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_contract = importlib.import_module("pyroscope_bundle.env_contract")
        old_bootstrap = importlib.import_module("pyroscope_bundle.profiler.python_bootstrap")
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any("import pyroscope_bundle_runtime.contract" in m for m in messages), messages
    assert any("import pyroscope_bundle_runtime.autostart" in m for m in messages), messages
    public = [name for name in vars(contract) if not name.startswith("_") and name.isupper()]
    assert len(public) > 30
    for name in public:
        assert getattr(old_contract, name) is getattr(contract, name), name
    assert old_contract.profile_type_problem is contract.profile_type_problem
    assert old_bootstrap.read_config is bootstrap.read_config
    assert old_bootstrap.start is bootstrap.start


# --- the slim distribution, installed the way a service image installs it -------------------------

RUNTIME_DIR = PROJECT_DIR / "runtime"
# The budget for a profiled Python service: the venv with pip, the runtime and pyroscope-io.
RUNTIME_VENV_BUDGET_MB = 60


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only ``pip install ./runtime`` (pyroscope-io comes from the package index)."""
    base = tmp_path_factory.mktemp("runtime")
    # A copy: pip builds in the source tree, which must stay clean (and may be read-only).
    source = shutil.copytree(
        RUNTIME_DIR, base / "runtime", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
         str(source)],
        capture_output=True, text=True, timeout=600, check=False, env=_base_env(source=False),
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def _installed(venv: Path) -> dict[str, str]:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json",
         "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {entry["name"].lower(): entry["version"] for entry in json.loads(result.stdout)}


@pytest.mark.slow
def test_pip_install_runtime_brings_no_pulumi_and_fits_the_budget(runtime_venv):
    packages = _installed(runtime_venv)
    assert set(packages) - {"pip", "setuptools"} == {"pyroscope-bundle-runtime", "pyroscope-io"}, packages
    assert not [name for name in packages if "pulumi" in name or name == "pydantic"]
    usage = subprocess.run(["du", "-sm", str(runtime_venv)], capture_output=True, text=True, check=True)
    megabytes = int(usage.stdout.split()[0])
    assert megabytes <= RUNTIME_VENV_BUDGET_MB, f"{megabytes} MB"


@pytest.mark.slow
def test_installed_runtime_autostart_pushes_with_basic_auth(runtime_venv, receiver):
    """The installed copy (not this checkout's source) starts the real agent from the wiring's env."""
    url, pushes = receiver
    python = str(runtime_venv / "bin" / "python")
    where = subprocess.run(
        [python, "-c", "import pyroscope_bundle_runtime as r; print(r.__file__)"],
        capture_output=True, text=True, check=True, env=_base_env(source=False),
    )  # fmt: skip
    assert str(runtime_venv) in where.stdout
    assert_pushed_with_basic_auth(run_service(wired_python_env(url), python=python), pushes)
