#!/usr/bin/env bash
# The local launcher (deploy/local/cluster.sh) end to end, as an operator uses
# it: start etcd + 3 nodes from the build tree, check every node through
# tt-admin, kill -9 one node (status turns non-zero, the others see it down),
# restart it, stop everything, and check that no process is left.
#
# Usage: local_cluster_test.sh REPO BUILD_DIR. Real processes on loopback,
# bounded in time (ctest TIMEOUT), data in a temp dir removed at exit.
set -euo pipefail

repo=$1
build=$2
launcher="$repo/deploy/local/cluster.sh"
admin="$build/nodes/tt-admin"
work=$(mktemp -d /tmp/tt-local-cluster-XXXXXX)
dir="$work/data"
# A base port well away from the other tests' (they pick free ports from the
# kernel's ephemeral range; this stays below it).
base=$((20000 + (RANDOM % 200) * 50))
export TT_NODE_BIN="$build/nodes/tt-node"
export TT_ADMIN_SECRET="local-cluster-test-secret-0123456789"
export TT_NODE_ARGS="--lease-ttl-s 3"
export TT_CLUSTER_WAIT_S=90

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "[local-cluster-test] $*"; }

cleanup() {
  "$launcher" stop --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Every node's view of the cluster (tt-admin over its cluster port).
nodes_json() {
  "$admin" --node "127.0.0.1:$((base + 100 + $1 - 1))" --json -c nodes
}
# How many nodes node $1 sees with status $2.
count_status() {
  nodes_json "$1" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(sum(1 for n in doc["nodes"] if n["status"] == sys.argv[1]))' "$2"
}
# Waits (up to $3 s) until node $1 sees $2 nodes up.
wait_up() {
  for _ in $(seq 1 $(($3 * 5))); do
    if [ "$(count_status "$1" up 2>/dev/null || echo 0)" = "$2" ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

step "start: 3 nodes on base port $base"
"$launcher" start --nodes 3 --dir "$dir" --base-port "$base"
"$launcher" status --dir "$dir" || fail "status after start"
for i in 1 2 3; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((base + i - 1))/healthz")
  [ "$code" = 200 ] || fail "n$i /healthz answered $code"
  wait_up "$i" 3 30 || fail "n$i does not see 3 nodes up: $(nodes_json "$i")"
done
# The shards are spread over the three nodes.
"$admin" --node "127.0.0.1:$((base + 100))" --json -c shards | python3 -c '
import json, sys
doc = json.load(sys.stdin)
owners = {s["owner"] for s in doc["shards"]}
assert owners == {"n1", "n2", "n3"}, owners
' || fail "shards are not owned by n1, n2 and n3"

step "kill -9 n2"
"$launcher" kill n2 --dir "$dir"
if "$launcher" status --dir "$dir" >/dev/null; then
  fail "status is 0 with n2 killed"
fi
ok=0
for _ in $(seq 1 100); do
  if [ "$(count_status 1 down 2>/dev/null || echo 0)" = 1 ]; then
    ok=1
    break
  fi
  sleep 0.2
done
[ "$ok" = 1 ] || fail "n1 does not see n2 down: $(nodes_json 1)"

step "restart n2"
"$launcher" restart n2 --dir "$dir"
"$launcher" status --dir "$dir" || fail "status after restart"
wait_up 1 3 30 || fail "n1 does not see 3 nodes up after the restart: $(nodes_json 1)"

step "stop"
pids=()
for f in "$dir"/*.pid; do
  [ -e "$f" ] && pids+=("$(basename "$f" .pid):$(cat "$f")")
done
[ ${#pids[@]} = 4 ] || fail "expected 4 pid files (etcd, n1..n3), found: ${pids[*]}"
"$launcher" stop --dir "$dir"
for p in "${pids[@]}"; do
  pid=${p#*:}
  # Alive and not a zombie (an exited process not yet reaped by its parent).
  if [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    fail "${p%%:*} (pid $pid) still runs after stop"
  fi
done
step "passed"
