#!/bin/bash
# Install everything Postern needs to build, test, demo and benchmark, from
# Debian packages.  Idempotent: installs only what is missing.
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --bench    also the peers the benchmark compares with
#   scripts/deps.sh --list     print the package list (one per line) and exit
# scripts/check-deps.sh checks that this list covers every dependency the
# CMake files ask for.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libuv1-dev libgnutls28-dev nettle-dev gnutls-bin libjwt-gnutls-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev
  libjansson-dev libmicrohttpd-dev libcurl4-gnutls-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql libnftables-dev libmnl-dev libcmocka-dev
  libnetfilter-queue-dev iptables
  iproute2 nftables curl openssl haproxy python3 procps psmisc git util-linux dnsmasq-base dbus-daemon
  iputils-ping faketime libfaketime tcpdump
  chromium
  dpkg-dev scdoc debootstrap
  prometheus
)
BENCH_PKGS=(iperf3 nebula wireguard-go wireguard-tools stunnel4 coturn)
case "${1:-}" in
--bench) PKGS+=("${BENCH_PKGS[@]}") ;;
--list) printf '%s\n' "${PKGS[@]}"; exit 0 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged daemons on install where it can; Postern's tests start
# their own instances in namespaces (prometheus: only its promtool is used),
# so stop any that came up on the host.
for svc in haproxy coturn stunnel4 postgresql prometheus prometheus-node-exporter; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "deps: done"
