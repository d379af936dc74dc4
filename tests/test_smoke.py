"""``pyroscope-bundle smoke``: payload, messages, and the whole command against the loopback
nginx gateway + receiver stack (a receiver, not a real Pyroscope: see docs/gateway.md)."""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Iterator

import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.cli import main
from pyroscope_bundle.smoke import (
    SMOKE_SERVICE,
    Response,
    SmokeCheckError,
    Target,
    build_pprof,
    build_push_request,
    explain_status,
    parse_label_values,
    run_smoke,
    smoke_command,
    smoke_labels,
)

from tests.gateway_stack import (
    Gateway,
    Receiver,
    decode_fields,
    ensure_nginx,
    free_port,
    push_series,
    running_gateway,
    running_receiver,
)
from tests.harness import PROJECT_DIR

PASSWORD = "smoke-password"
QUERY_PASSWORD = "smoke-read-only-password-0123456789"


def test_push_request_carries_sorted_labels_and_a_pprof_profile() -> None:
    body = build_push_request(smoke_labels("run1"), build_pprof(1_000), profile_id="run1")
    [series] = push_series(body)
    assert series["label_order"] == ["__name__", "service_name", "smoke_run"]
    assert series["labels"]["service_name"] == SMOKE_SERVICE
    profile = decode_fields(series["profiles"][0])
    strings = [s.decode() for s in profile[6]]
    assert strings[0] == ""
    assert strings[decode_fields(profile[1][0])[1][0]] == "cpu"
    assert profile[9] == [1_000]  # time_nanos


def test_label_values_parsing() -> None:
    assert parse_label_values(b"{}") == []
    assert parse_label_values(b'{"names": ["a", "b"]}') == ["a", "b"]
    with pytest.raises(SmokeCheckError, match="not JSON"):
        parse_label_values(b"<html>")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "authentication failed (HTTP 401): check --user/--password-env"),
        (403, "access denied"),
        (404, "is --url the Pyroscope server or its gateway?"),
        (413, "payload too large"),
        (500, "push failed: HTTP 500: boom"),
    ],
)
def test_every_failure_has_a_reason(status: int, expected: str) -> None:
    assert expected in explain_status("push", Response(status, b"boom"), "http://x", "/p")


def test_password_only_from_an_environment_variable() -> None:
    err = io.StringIO()
    assert smoke_command("http://x", "u", None, None, 1, environ={}, err=err) == 2
    assert "--user and --password-env go together" in err.getvalue()
    err = io.StringIO()
    assert smoke_command("http://x", "u", "NOPE", None, 1, environ={}, err=err) == 2
    assert "NOPE" in err.getvalue()
    with pytest.raises(SystemExit) as exit_info:
        main(["smoke", "--url", "http://x", "--password", "p"])
    assert exit_info.value.code == 2


def test_unreachable_url_is_reported_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["smoke", "--url", url]) == 1
    assert f"cannot reach {url}" in capsys.readouterr().err


# --- against the loopback gateway (real nginx) -------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Gateway, Receiver]]:
    nginx, why = ensure_nginx()
    if nginx is None:
        print(f"skipping smoke-through-nginx tests: {why}")
        pytest.skip(why)
    with (
        running_receiver() as receiver,
        running_gateway(
            nginx,
            receiver.address,
            {"team-a": PASSWORD},
            multitenancy=True,
            query_passwords={"team-a": QUERY_PASSWORD},
        ) as gateway,
    ):
        yield gateway, receiver


def smoke(gateway: Gateway, monkeypatch: pytest.MonkeyPatch, password: str, *extra: str) -> int:
    """smoke with the push password and the gateway's read-only one for the read-back."""
    monkeypatch.setenv("SMOKE_PASSWORD", password)
    monkeypatch.setenv("SMOKE_QUERY_PASSWORD", QUERY_PASSWORD)
    argv = ["smoke", "--url", gateway.url, "--user", "team-a", "--password-env", "SMOKE_PASSWORD"]
    return main([*argv, "--query-password-env", "SMOKE_QUERY_PASSWORD", *extra])


@pytest.mark.slow
def test_smoke_read_back_with_the_push_password_is_refused_by_the_gateway(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push credential cannot read profiles: without the read-only password the query fails."""
    gateway, _ = stack
    monkeypatch.setenv("SMOKE_PASSWORD", PASSWORD)
    argv = ["smoke", "--url", gateway.url, "--user", "team-a", "--password-env", "SMOKE_PASSWORD"]
    assert main(argv) == 1
    assert "query: authentication failed (HTTP 401)" in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_passes_through_the_gateway_and_reads_its_push_back(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, receiver = stack
    assert smoke(gateway, monkeypatch, PASSWORD, "--tenant", "forged") == 0
    out = capsys.readouterr().out
    assert "ok   push: accepted" in out and "ok   query: the pushed profile is readable" in out
    push = receiver.pushes()[-1]
    assert push.headers["x-scope-orgid"] == "team-a"  # the gateway's tenant, not --tenant
    query = [r for r in receiver.requests if r.path == constants.PYROSCOPE_LABEL_VALUES_PATH][-1]
    assert query.headers["x-scope-orgid"] == "team-a"
    assert PASSWORD not in out


@pytest.mark.slow
def test_smoke_wrong_password_fails_with_the_auth_reason(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, _ = stack
    assert smoke(gateway, monkeypatch, "wrong") == 1
    assert "push: authentication failed (HTTP 401): check --user/--password-env" in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_reports_a_failing_ingest(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, receiver = stack
    receiver.push_status = 500
    try:
        assert smoke(gateway, monkeypatch, PASSWORD) == 1
    finally:
        receiver.push_status = 200
    assert "push failed: HTTP 500" in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_reports_a_push_that_never_becomes_queryable(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, receiver = stack
    receiver.queryable = False
    try:
        assert smoke(gateway, monkeypatch, PASSWORD, "--timeout", "0.5") == 1
    finally:
        receiver.queryable = True
    assert "accepted but not readable within 0.5s" in capsys.readouterr().err


@pytest.mark.slow
def test_the_read_back_polls_until_its_timeout_and_never_sleeps_past_it(
    stack: tuple[Gateway, Receiver],
) -> None:
    """Real gateway, fake clock: polls every 2 s, the last wait is cut to the deadline (5 s)."""
    gateway, receiver = stack
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    target = Target(gateway.url, "team-a", PASSWORD, query_password=QUERY_PASSWORD)
    queries = len([r for r in receiver.requests if r.path == constants.PYROSCOPE_LABEL_VALUES_PATH])
    receiver.queryable = False
    try:
        with pytest.raises(SmokeCheckError, match="not readable within 5s"):
            run_smoke(target, read_back_seconds=5.0, poll_seconds=2.0, clock=lambda: now[0], sleep=sleep)
    finally:
        receiver.queryable = True
    assert slept == [2.0, 2.0, 1.0]
    polled = [r for r in receiver.requests if r.path == constants.PYROSCOPE_LABEL_VALUES_PATH][queries:]
    assert len(polled) == 4  # at 0, 2, 4 and 5 s


@pytest.mark.slow
def test_smoke_reports_a_gateway_whose_server_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nginx, why = ensure_nginx()
    if nginx is None:
        pytest.skip(why)
    dead_upstream = f"127.0.0.1:{free_port()}"
    with running_gateway(nginx, dead_upstream, {"team-a": PASSWORD}, multitenancy=True) as gateway:
        assert smoke(gateway, monkeypatch, PASSWORD) == 1
    assert "readiness check failed: HTTP 502" in capsys.readouterr().err


def readme_smoke_gate() -> tuple[dict[str, str], str]:
    """README "Real deployments" step 5: the exported variables (stack output each reads) and
    the smoke arguments, as a user pastes them."""
    text = (PROJECT_DIR / "README.md").read_text()
    step = text.split("5. Gate the rollout", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    exports = dict(re.findall(r'export (\w+)="\$\(pulumi stack output (\w+) --show-secrets\)"', step))
    command = " ".join(line.strip().rstrip("\\") for line in step.splitlines() if "export" not in line)
    return exports, command


@pytest.mark.slow
def test_the_readmes_smoke_gate_passes_through_the_gateway(
    stack: tuple[Gateway, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's command, verbatim but for the stack outputs, works against a gateway: push
    with the push password, read back with the read-only one (it used to pass only the push one,
    which the gateway refuses for reads)."""
    gateway, _ = stack
    exports, command = readme_smoke_gate()
    outputs = {"gatewayPassword": PASSWORD, "gatewayQueryPassword": QUERY_PASSWORD}
    assert set(exports.values()) == set(outputs)
    for variable, output in exports.items():
        monkeypatch.setenv(variable, outputs[output])
    placeholders = {"<gateway URL>": gateway.url, '"$(pulumi stack output gatewayUser)"': "team-a"}
    for placeholder, value in placeholders.items():
        assert placeholder in command
        command = command.replace(placeholder, value)
    argv = shlex.split(command)
    assert argv[:2] == ["pyroscope-bundle", "smoke"]
    substituted = argv[1:]
    assert main(substituted) == 0


def test_every_documented_gateway_smoke_reads_back_with_the_read_only_password() -> None:
    """A smoke command with a push password (--password-env) in the docs also names the read-only
    one: behind the gateway the push credential cannot read."""
    documents = [PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").glob("*.md")]
    commands = []
    for path in documents:
        joined = path.read_text().replace("\\\n", " ")
        commands += [(path.name, line) for line in joined.splitlines() if "smoke --url" in line]
    authenticated = [(name, line) for name, line in commands if "--password-env" in line]
    assert len(authenticated) >= 4
    missing = [
        f"{name}: {line.strip()}" for name, line in authenticated if "--query-password-env" not in line
    ]
    assert not missing, "\n".join(missing)
