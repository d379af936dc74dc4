#!/usr/bin/env bash
# System tools the test suite runs for real, from Debian's packages: nginx (the gateway config on
# loopback), prometheus (promtool, for the alert rules), a JDK (javac/java: a real JVM attaches an
# agent through JDK_JAVA_OPTIONS) and curl (the agent download script). Installed only when missing and only
# where apt-get can run as root; elsewhere the tests that need them skip and say why.
set -euo pipefail
packages=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || packages+=(nginx)
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v wrk >/dev/null 2>&1 || packages+=(wrk)  # bench/gateway.py
command -v javac >/dev/null 2>&1 || packages+=(openjdk-17-jdk-headless)
command -v curl >/dev/null 2>&1 || packages+=(curl)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${packages[*]} missing and not installable here (needs root and apt-get); those tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
