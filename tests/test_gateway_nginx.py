"""The generated gateway config in REAL nginx (Debian's package), with the REAL pyroscope-io agent.

nginx runs unprivileged on loopback (as ``nobody`` when the tests run as root) in front of a
recording receiver that stands in for Pyroscope; htpasswd entries are ``$2a$`` bcrypt hashes as
pulumi-random's ``bcrypt_hash`` produces them.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.smoke import build_pprof

from tests.gateway_stack import (
    Gateway,
    Receiver,
    decode_fields,
    push_series,
    running_gateway,
)

pytestmark = pytest.mark.slow

PASSWORDS = {"team-a": "a-correct-password", "team-b": "b-correct-password"}
FORGED_TENANT = "someone-elses-tenant"

AGENT = textwrap.dedent(
    """
    import os, time, pyroscope
    pyroscope.configure(
        application_name=os.environ["APP"],
        server_address=os.environ["SERVER"],
        basic_auth_username=os.environ.get("AUTH_USER", ""),
        basic_auth_password=os.environ.get("AUTH_PASSWORD", ""),
        tenant_id=os.environ.get("TENANT", ""),
        upload_interval=1,
        enable_logging=True,
    )
    # Until the CPU sampler (100 Hz of CPU time) has had 20 ticks; shutdown() then flushes the
    # profile in a last push (no need to wait for an upload interval).
    cpu_until = time.process_time() + 0.2
    while time.process_time() < cpu_until:
        sum(i * i for i in range(2000))
    pyroscope.shutdown()
    """
)


@pytest.fixture(scope="module")
def gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    with running_gateway(nginx, receiver.address, PASSWORDS, multitenancy=True) as gateway:
        yield gateway


def run_agent(tmp_path: Path, url: str, app: str, user: str = "", password: str = "") -> str:
    """The real agent for 0.2 s of CPU work, pushed by its exit flush; returns its log (stderr)."""
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    env = {
        **os.environ,
        "APP": app,
        "SERVER": url,
        "AUTH_USER": user,
        "AUTH_PASSWORD": password,
        "TENANT": FORGED_TENANT,
    }
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def pushes_of(receiver: Receiver, app: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(headers, labels) of every push the receiver got from ``app``."""
    found = []
    for push in receiver.pushes():
        for series in push_series(push.body):
            if series["labels"].get("service_name") == app:
                found.append((push.headers, series["labels"]))
    return found


def push_log(gateway: Gateway, since: int) -> list[dict[str, str]]:
    return [line for line in gateway.access_log()[since:] if line["uri"] == constants.PYROSCOPE_PUSH_PATH]


def test_nginx_runs_the_generated_config_unprivileged(gateway: Gateway) -> None:
    status = Path(f"/proc/{gateway.process.pid}/status").read_text()
    real_uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert real_uid != 0
    assert "auth_basic_user_file" in gateway.config


def test_ready_passes_without_credentials_and_without_a_tenant(gateway: Gateway, receiver: Receiver) -> None:
    request = urllib.request.Request(f"{gateway.url}/ready", headers={constants.TENANT_HEADER: FORGED_TENANT})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        assert answer.read() == b"ready\n"
    seen = [r for r in receiver.requests if r.path == "/ready"][-1]
    assert "x-scope-orgid" not in seen.headers
    assert "authorization" not in seen.headers


def test_agent_without_credentials_gets_401_and_never_reaches_pyroscope(
    gateway: Gateway, receiver: Receiver, tmp_path: Path
) -> None:
    before = len(gateway.access_log())
    log = run_agent(tmp_path, gateway.url, "no-credentials")
    lines = push_log(gateway, before)
    assert lines, "the agent pushed nothing"
    assert {(line["status"], line["user"]) for line in lines} == {("401", "-")}
    assert "401" in log
    assert pushes_of(receiver, "no-credentials") == []


def test_agent_with_a_wrong_password_gets_401(gateway: Gateway, receiver: Receiver, tmp_path: Path) -> None:
    before = len(gateway.access_log())
    run_agent(tmp_path, gateway.url, "wrong-password", "team-a", "not-the-password")
    lines = push_log(gateway, before)
    assert lines
    assert {(line["status"], line["user"]) for line in lines} == {("401", "team-a")}
    assert pushes_of(receiver, "wrong-password") == []
    assert "password mismatch" in gateway.stderr()


def test_agent_with_the_right_credentials_arrives_with_the_tenant_the_gateway_set(
    gateway: Gateway, receiver: Receiver, tmp_path: Path
) -> None:
    before = len(gateway.access_log())
    run_agent(tmp_path, gateway.url, "right-credentials", "team-a", PASSWORDS["team-a"])
    assert {line["status"] for line in push_log(gateway, before)} == {"200"}
    arrived = pushes_of(receiver, "right-credentials")
    assert arrived, "no push reached the receiver"
    for headers, labels in arrived:
        # The agent sent X-Scope-OrgID: someone-elses-tenant; the gateway overwrote it.
        assert headers["x-scope-orgid"] == "team-a"
        assert "authorization" not in headers
        assert labels["__name__"] == "process_cpu"


def test_smoke_payload_has_the_shape_of_the_real_agents_push(
    gateway: Gateway, receiver: Receiver, tmp_path: Path
) -> None:
    """smoke builds its pprof by hand: it must carry the same fields as what the agent sends."""
    run_agent(tmp_path, gateway.url, "shape-check", "team-a", PASSWORDS["team-a"])
    agent_pushes = [
        p
        for p in receiver.pushes()
        if any(s["labels"].get("service_name") == "shape-check" for s in push_series(p.body))
    ]
    assert agent_pushes, "the real agent's push reached the receiver"
    agent_profile = push_series(agent_pushes[0].body)[0]["profiles"][0]
    smoke_profile = build_pprof(1_700_000_000_000_000_000)
    agent_fields, smoke_fields = decode_fields(agent_profile), decode_fields(smoke_profile)
    assert set(smoke_fields) == set(agent_fields)
    for number in (1, 11, 12):  # sample_type, period_type, period
        assert smoke_fields[number] == agent_fields[number]


def _push(url: str, user: str, password: str, tenant: str) -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url + constants.PYROSCOPE_PUSH_PATH,
        data=b"",
        method="POST",
        headers={
            "Authorization": f"Basic {token}",
            constants.TENANT_HEADER: tenant,
            "Content-Type": "application/proto",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_each_tenants_user_gets_its_own_tenant(gateway: Gateway, receiver: Receiver) -> None:
    assert _push(gateway.url, "team-b", PASSWORDS["team-b"], "team-a") == 200
    assert receiver.pushes()[-1].headers["x-scope-orgid"] == "team-b"
    # team-b's password does not open team-a.
    assert _push(gateway.url, "team-a", PASSWORDS["team-b"], "team-a") == 401


def test_without_multitenancy_a_client_tenant_header_is_stripped(nginx: str, receiver: Receiver) -> None:
    with running_gateway(nginx, receiver.address, {"pyroscope": "single"}, multitenancy=False) as single:
        assert _push(single.url, "pyroscope", "single", FORGED_TENANT) == 200
        assert "x-scope-orgid" not in receiver.pushes()[-1].headers
        assert _push(single.url, "pyroscope", "wrong", FORGED_TENANT) == 401
