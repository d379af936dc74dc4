"""Python wall-clock profiles show the threads that wait: the real pyroscope-io agent, started by the
autostart from a wired environment, pushes to a loopback receiver and the waiting thread's function
is in the profile. The control run (the SDK's default gil_only=True) proves the check can fail."""

from __future__ import annotations

import gzip
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway_stack import SHUTDOWN_POLL
from tests.test_runtime_bootstrap import _base_env, _fields, wired_python_env

WAITING = "waiting_for_the_database"
BUSY = "busy_handling_requests"
SERVICE = f"""
import sys, threading, time
{{start}}
done = threading.Event()
def {WAITING}():
    done.wait(30)
def {BUSY}():
    # 0.3 s of CPU time (at least as much wall time: 30+ wall samples of each thread), then the
    # waiter is released at once and the exit flush pushes the profile.
    end = time.process_time() + 0.3
    while time.process_time() < end:
        sum(i * i for i in range(2000))
    done.set()
waiter = threading.Thread(target={WAITING})
waiter.start()
{BUSY}()
waiter.join()
"""
AUTOSTART = "import pyroscope_bundle_runtime.autostart"
# What the bootstrap did before the fix: oncpu=False alone (the SDK keeps gil_only=True).
GIL_ONLY = (
    "import atexit, os, pyroscope\n"
    "pyroscope.configure(application_name='payments-api',"
    " server_address=os.environ['PYROSCOPE_SERVER_ADDRESS'], oncpu=False, gil_only=True)\n"
    "atexit.register(pyroscope.shutdown)"
)


def raw_profiles(body: bytes) -> list[bytes]:
    """push.v1.PushRequest{series=1: {samples=2: RawSample{raw_profile=1}}}, gunzipped pprof."""
    profiles = []
    for number, series in _fields(body):
        if number != 1:
            continue
        for field_number, sample in _fields(series):
            if field_number != 2:
                continue
            for raw_number, raw in _fields(sample):
                if raw_number == 1:
                    profiles.append(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return profiles


@pytest.fixture
def profile_receiver() -> Iterator[tuple[str, list[bytes]]]:
    profiles: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            profiles.extend(raw_profiles(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", profiles
    finally:
        server.shutdown()
        server.server_close()


def run(start: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SERVICE.format(start=start)],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("start", "waiting_seen"), [(AUTOSTART, True), (GIL_ONLY, False)], ids=["wired", "gil-only"]
)
def test_wall_profile_shows_the_waiting_thread(profile_receiver, start, waiting_seen):
    url, profiles = profile_receiver
    env = {**wired_python_env(url), "PYROSCOPE_PROFILE_TYPES": "wall"}
    result = run(start, env)
    assert result.returncode == 0, result.stderr
    assert profiles, f"no profile pushed; stderr: {result.stderr}"
    assert any(BUSY.encode() in profile for profile in profiles), "the busy thread is always sampled"
    assert any(WAITING.encode() in profile for profile in profiles) is waiting_seen
