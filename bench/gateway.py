"""Benchmark: the authenticating gateway's capacity, with REAL nginx (Debian's) on loopback.

    .venv/bin/python bench/gateway.py                  # 3 rounds of 5 s each, ~1 min on 2 cores
    .venv/bin/python bench/gateway.py --rounds 1 --seconds 3

Side by side in one run, against the same stub upstream (a second nginx answering 200 to every
push, so the figures are the gateway's own cost):

- *gateway*: the generated config (allow-list, push credential checked against the ``{SSHA}``
  htpasswd exactly as a stack writes it);
- *no auth*: the same config with ``auth_basic off`` - the target is a ratio <= 1.5x;
- *bcrypt*: the same config with the htpasswd entry a bcrypt hash (cost 10, what
  pulumi-random's ``bcrypt_hash`` holds), the previous design, for reference.

Load: Debian's ``wrk`` (2 threads, 32 keep-alive connections, POST of a 16 KiB push body) for
``--seconds`` per measurement, alternating the configs each round (medians reported).

Storm: a legitimate client's push latency (sequential pushes on one keep-alive connection from
127.0.0.1), quiet and then during a BOUNDED wrong-password storm from another address,
127.0.0.2 (at most :data:`STORM_RATE` requests/s from 8 paced connections for ``--seconds``;
Linux routes all of 127/8 to loopback), on the gateway (whose per-address failed-auth limit
slows the storm to ``server.gateway.limits``), on the same gateway without that limit, and on
the bcrypt variant. Target: storm latency <= 2x quiet on the gateway. The load generators run
on the same 2 cores as nginx.

Loopback only; every load is bounded in connections and time. Figures: docs/bench.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
for _path in (PROJECT_ROOT, PROJECT_ROOT / "components"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from pyroscope_bundle import constants  # noqa: E402
from pyroscope_bundle.gateway.credentials import htpasswd_lines, stable_bcrypt  # noqa: E402

from tests.gateway_stack import (  # noqa: E402
    UNLIMITED_FAILURES,
    Gateway,
    ensure_nginx,
    free_port,
    running_gateway,
    wait_for_port,
)

USER = "team-a"
PASSWORD = "p" * 32  # shaped like a generated password (32 letters and digits)
BODY_BYTES = 16 * 1024
TARGET_PUSHES = 500
TARGET_RATIO = 1.5
TARGET_STORM = 2.0
# The bounded storm: wrong-password requests per second, 20x what 1000 services pushing every
# 10 s send in total (a rate the bcrypt gateway cannot even answer: it is CPU-bound at ~5/s).
STORM_RATE = 2000.0
PUSH = constants.PYROSCOPE_PUSH_PATH
LEGIT_ADDRESS = "127.0.0.1"
STORM_ADDRESS = "127.0.0.2"

STUB_CONF = """
worker_processes 1;
pid {dir}/stub.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/cb; proxy_temp_path {dir}/pt; fastcgi_temp_path {dir}/ft;
    uwsgi_temp_path {dir}/ut; scgi_temp_path {dir}/st;
    client_max_body_size 16m;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200; }}
    }}
}}
"""


@contextlib.contextmanager
def stub_upstream(nginx: str) -> Iterator[str]:
    """A second nginx that answers 200 to everything: the upstream costs ~nothing."""
    directory = Path(tempfile.mkdtemp(prefix="pyroscope-bench-stub-"))
    port = free_port()
    (directory / "nginx.conf").write_text(STUB_CONF.format(dir=directory, port=port))
    process = subprocess.Popen(
        [nginx, "-c", str(directory / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _lua(directory: Path, password: str) -> Path:
    """A wrk script: POST the push body with basic auth."""
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    script = directory / f"push-{abs(hash(password))}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = string.rep("x", {BODY_BYTES})\n'
        'wrk.headers["Content-Type"] = "application/proto"\n'
        f'wrk.headers["Authorization"] = "Basic {token}"\n'
    )
    return script


def wrk(
    url: str, script: Path, seconds: float, connections: int, threads: int = 2
) -> tuple[float, dict[str, int]]:
    """Requests/s and the status counts wrk saw (non-2xx are counted separately)."""
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url + PUSH],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"([0-9]+) requests in", result.stdout).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", result.stdout)
    bad = int(non2xx.group(1)) if non2xx else 0
    return rate, {"ok": total - bad, "not_ok": bad}


def latencies(url: str, password: str, count: int, stop: threading.Event | None = None) -> list[float]:
    """Sequential pushes on one keep-alive connection; seconds per push (all must be 200)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(LEGIT_ADDRESS, 0))
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/proto"}
    body = b"x" * BODY_BYTES
    found = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("POST", PUSH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            found.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"legitimate push got HTTP {response.status}")
            if stop is not None and stop.is_set():
                break
    finally:
        connection.close()
    return found


def paced_storm(url: str, rate: float, seconds: float, threads: int = 8) -> tuple[float, dict[str, int]]:
    """A BOUNDED wrong-password storm from :data:`STORM_ADDRESS`: at most ``rate`` requests/s
    for ``seconds`` over ``threads`` keep-alive connections; the achieved rate and the answers
    by status (a client that waits for each answer, as HTTP clients do)."""
    host, port = url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{USER}:{'w' * 32}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/proto"}
    body = b"x" * BODY_BYTES
    counts: dict[str, int] = {"ok": 0}
    lock = threading.Lock()
    interval = threads / rate
    deadline = time.monotonic() + seconds

    def attacker(offset: float) -> None:
        connection = http.client.HTTPConnection(
            host, int(port), timeout=30, source_address=(STORM_ADDRESS, 0)
        )
        next_at = time.monotonic() + offset
        try:
            # Bounded in time as well as in rate: a slowed storm ends on time too.
            while next_at < deadline and time.monotonic() < deadline:
                time.sleep(max(0.0, next_at - time.monotonic()))
                connection.request("POST", PUSH, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    key = "ok" if response.status == 200 else str(response.status)
                    counts[key] = counts.get(key, 0) + 1
                next_at += interval
        finally:
            connection.close()

    started = time.monotonic()
    workers = [threading.Thread(target=attacker, args=(i * interval / threads,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts.values()) / (time.monotonic() - started), counts


def _measure(url: str, into: list[float], stop: threading.Event) -> None:
    into.extend(latencies(url, PASSWORD, 1_000_000, stop))


def swap_hash(gateway: Gateway, hashed: str) -> None:
    """Replace the push credential's htpasswd entry (nginx re-reads the file per request)."""
    (gateway.directory / "push").write_text(htpasswd_lines({USER: hashed}))


def run(rounds: int, seconds: float) -> str:
    nginx, why = ensure_nginx()
    if nginx is None or shutil.which("wrk") is None:
        raise SystemExit(f"needs nginx and wrk (apt-get install nginx wrk): {why}")
    workers = 2
    rates: dict[str, list[float]] = {"gateway": [], "no auth": [], "bcrypt": []}
    with tempfile.TemporaryDirectory() as scratch, stub_upstream(nginx) as upstream:
        good = _lua(Path(scratch), PASSWORD)
        bcrypt_hash = stable_bcrypt(USER, PASSWORD)
        with (
            running_gateway(
                nginx, upstream, {USER: PASSWORD}, multitenancy=True, worker_processes=workers
            ) as gateway,
            running_gateway(
                nginx, upstream, {USER: PASSWORD}, multitenancy=True, worker_processes=workers, auth=False
            ) as open_gateway,
            running_gateway(
                nginx, upstream, {USER: PASSWORD}, multitenancy=True, worker_processes=workers
            ) as bcrypt_gateway,
            running_gateway(
                nginx,
                upstream,
                {USER: PASSWORD},
                multitenancy=True,
                worker_processes=workers,
                limits=UNLIMITED_FAILURES,
            ) as unlimited_gateway,
        ):
            fast_hash = (gateway.directory / "push").read_text().split(":", 1)[1].strip()
            assert fast_hash.startswith("{SSHA}"), fast_hash
            swap_hash(bcrypt_gateway, bcrypt_hash)
            targets = {"gateway": gateway, "no auth": open_gateway, "bcrypt": bcrypt_gateway}
            for round_number in range(rounds):
                for name, target in targets.items():
                    rate, statuses = wrk(target.url, good, seconds, 32)
                    if statuses["not_ok"]:
                        raise RuntimeError(f"{name}: {statuses['not_ok']} pushes failed")
                    rates[name].append(rate)
                    print(f"round {round_number + 1} {name}: {rate:.0f} pushes/s", file=sys.stderr)
            storm: dict[str, tuple[float, float, float, dict[str, int]]] = {}
            storm_targets = (
                ("gateway", gateway),
                ("gateway, no failed-auth limit", unlimited_gateway),
                ("bcrypt", bcrypt_gateway),
            )
            for name, target in storm_targets:
                quiet = statistics.median(latencies(target.url, PASSWORD, 300))
                stop = threading.Event()
                during: list[float] = []
                legit = threading.Thread(target=_measure, args=(target.url, during, stop))
                legit.start()
                storm_rate, storm_statuses = paced_storm(target.url, STORM_RATE, seconds)
                stop.set()
                legit.join()
                if storm_statuses["ok"]:
                    raise RuntimeError(f"{name}: a wrong password was accepted")
                storm[name] = (quiet, statistics.median(during), storm_rate, storm_statuses)
                print(
                    f"storm {name}: quiet {quiet * 1000:.2f} ms, storm {storm[name][1] * 1000:.2f} ms",
                    file=sys.stderr,
                )

    med = {name: statistics.median(values) for name, values in rates.items()}
    ratio = med["no auth"] / med["gateway"]
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr.strip()
    machine = platform.processor() or platform.machine()
    lines = [
        f"{version}, {os.cpu_count()} CPUs ({machine}), Python {platform.python_version()}; "
        f"{rounds} rounds x {seconds:g} s, wrk -t2 -c32, {BODY_BYTES // 1024} KiB pushes, "
        f"{workers} nginx workers",
        "",
        "| config | pushes/s (median) | vs. no auth |",
        "|---|---:|---:|",
    ]
    for name in ("no auth", "gateway", "bcrypt"):
        lines.append(f"| {name} | {med[name]:.0f} | {med['no auth'] / med[name]:.2f}x |")
    lines += [
        "",
        "| config | quiet push latency (median) | during the storm | ratio | wrong-password requests/s "
        "answered | answers |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, (quiet, during_storm, storm_rate, statuses) in storm.items():
        answers = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()) if count)
        lines.append(
            f"| {name} | {quiet * 1000:.2f} ms | {during_storm * 1000:.2f} ms | "
            f"{during_storm / quiet:.2f}x | {storm_rate:.0f} | {answers} |"
        )
    gateway_storm = storm["gateway"][1] / storm["gateway"][0]
    verdict = med["gateway"] >= TARGET_PUSHES and ratio <= TARGET_RATIO and gateway_storm <= TARGET_STORM
    lines += [
        "",
        f"targets: >= {TARGET_PUSHES} pushes/s ({med['gateway']:.0f}), ratio <= {TARGET_RATIO}x "
        f"({ratio:.2f}x), storm <= {TARGET_STORM}x ({gateway_storm:.2f}x): {'met' if verdict else 'NOT met'}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(run(args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
