#!/usr/bin/env bash
# A live peer whose cluster port swallows connects (a full accept queue: Linux
# drops the SYNs, like an address that vanished) must not stall the ownership
# loop of a real node with a real etcd: the node opens its edge and claims its
# shards at once, the peer's shards answer 503 fast, the others 404 (served
# here), and the loop still reacts to etcd within seconds while connects to
# the peer keep failing. Before the loop connected off its thread, CAF's
# blocking connect held the first round (and so the edge) for ~2 minutes.
#
# Usage: cluster_unreachable_peer_test.sh TT_NODE TT_ADMIN. Needs /usr/bin/etcd,
# curl and python3; data in a temp dir removed at exit.
set -euo pipefail

node_bin=$1
admin_bin=$2
etcd_bin=/usr/bin/etcd
if [[ ! -x $etcd_bin ]]; then
  echo "skipped: $etcd_bin not installed"
  exit 0
fi
work=$(mktemp -d /tmp/tt-unreachable-peer-XXXXXX)
base=$((20000 + (RANDOM % 200) * 50 + 25))  # between the deploy test's port blocks
etcd_port=$base
http_port=$((base + 2))
cluster_port=$((base + 3))
ghost_port=$((base + 4))
ep=http://127.0.0.1:$etcd_port
export TT_ADMIN_SECRET=unreachable-peer-test-secret-0123456789
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  grep -E 'cluster_|shard_claimed' "$work/n1.log" | tail -20 >&2 || true
  exit 1
}
step() { echo "[unreachable-peer-test] $*"; }
b64() { printf '%s' "$1" | base64 -w0; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
put() {  # key value [lease]
  local lease=${3:+,\"lease\":\"$3\"}
  curl -sf "$ep/v3/kv/put" -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"$lease}" >/dev/null
}

# The silent peer: a listener whose accept queue is full and never drained.
python3 -c '
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(0)
held = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    held.append(c)
while True: time.sleep(1)
' "$ghost_port" &
pids+=($!)
sleep 0.3
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ghost_port" 2>/dev/null; then
  echo "skipped: this kernel accepts connects beyond a full accept queue"
  exit 0
fi

"$etcd_bin" --name u1 --data-dir "$work/etcd" --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls "http://127.0.0.1:$((base + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((base + 1))" \
  --initial-cluster "u1=http://127.0.0.1:$((base + 1))" >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -sf "$ep/health" | grep -q true && break; sleep 0.05; done
curl -sf "$ep/health" | grep -q true || fail "etcd did not start"

# Register the peer n2 as a live node (its own lease) and a member.
lease=$(curl -sf "$ep/v3/lease/grant" -d '{"TTL":300}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
n2="{\"name\":\"n2\",\"node_id\":\"n2-id\",\"cluster\":\"127.0.0.1:$ghost_port\",\"http\":\"127.0.0.1:1\",\"started_ms\":1}"
put /tt/nodes/n2 "$n2" "$lease"
put /tt/members/n2 "$n2"

step "start n1 (cluster of 2; n2 registered, its port swallows connects)"
t0=$(now)
"$node_bin" --data-dir "$work/n1" --http-port "$http_port" --log-level info --node-name n1 \
  --cluster-port "$cluster_port" --etcd "$ep" --cluster-size 2 --lease-ttl-s 3 \
  --argon2-mem-mib 8 --argon2-ops 1 >/dev/null 2>"$work/n1.log" &
pids+=($!)
n1_pid=$!
healthy=0
for _ in $(seq 300); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/healthz") == 200 ]] && { healthy=1; break; }
  kill -0 "$n1_pid" 2>/dev/null || fail "n1 exited"
  sleep 0.05
done
took=$(elapsed "$t0")
[[ $healthy == 1 ]] || fail "n1 not healthy after 15 s"
step "n1 healthy after ${took} s"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 8 else 1)" "$took" || fail "n1 took ${took} s to open its edge"

# Shards: n1 serves its homes; n2 gets one owner key (leased by n2's lease).
shards() { timeout 10 "$admin_bin" --node "127.0.0.1:$cluster_port" --json -c shards; }
curl -sf "$ep/v3/kv/range" -d "{\"key\":\"$(b64 /tt/homes/)\",\"range_end\":\"$(b64 /tt/homes0)\"}" >"$work/homes.json"
read -r n2_shard n1_shard < <(python3 -c '
import base64, json, sys
homes = {int(base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1]): base64.b64decode(kv["value"]).decode()
         for kv in json.load(open(sys.argv[1]))["kvs"]}
print(min(s for s, h in homes.items() if h == "n2"), min(s for s, h in homes.items() if h == "n1"))
' "$work/homes.json")
n2_key=$(printf '/tt/owners/%03d' "$n2_shard")
put "$n2_key" '{"node":"n2","node_id":"n2-id"}' "$lease"

# A ticket id (22 chars, base64url) in a given shard: FNV-1a 64 % 256.
id_in_shard() {
  python3 -c '
import sys, itertools
want = int(sys.argv[1])
for i in itertools.count():
    s = ("T" * 22 + str(i))[-22:]
    h = 1469598103934665603
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) % 2**64
    if h % 256 == want:
        print(s); break
' "$1"
}
n2_id=$(id_in_shard "$n2_shard")
n1_id=$(id_in_shard "$n1_shard")
state_of() {  # shard -> state in n1's view
  shards | python3 -c '
import json, sys
want = int(sys.argv[1])
print(next(s["state"] for s in json.load(sys.stdin)["shards"] if s["shard"] == want))' "$1"
}
sleep 1.5
[[ $(state_of "$n1_shard") == local ]] || fail "shard $n1_shard is not served by n1"
[[ $(state_of "$n2_shard") == down ]] || fail "shard $n2_shard (owned by unreachable n2) is not down"

step "n2's shard answers 503 fast, n1's shard is served (404: no such ticket)"
code_time() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 "http://127.0.0.1:$http_port/api/v1/tickets/$1"; }
read -r code t < <(code_time "$n2_id")
[[ $code == 503 ]] || fail "ticket in n2's shard: $code"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1 else 1)" "$t" || fail "503 took $t s"
read -r code t < <(code_time "$n1_id")
[[ $code == 404 ]] || fail "ticket in n1's shard: $code"

step "the loop still reacts to etcd while connects to n2 keep failing"
# Hand n2's shard to n1 (as if moved): its home becomes n1 and the owner key
# goes; n1 must claim it within a few seconds.
put "$(printf '/tt/homes/%03d' "$n2_shard")" n1
curl -sf "$ep/v3/kv/deleterange" -d "{\"key\":\"$(b64 "$n2_key")\"}" >/dev/null
t1=$(now)
claimed=0
for _ in $(seq 50); do
  [[ $(state_of "$n2_shard") == local ]] && { claimed=1; break; }
  sleep 0.1
done
[[ $claimed == 1 ]] || fail "n1 did not claim shard $n2_shard within 5 s"
step "claimed after $(elapsed "$t1") s"
failures=$(grep -c '"cluster_peer_unreachable"' "$work/n1.log" || true)
[[ $failures -ge 2 ]] || fail "expected repeated, logged connect failures to n2 (got $failures)"
read -r code t < <(code_time "$n2_id")
[[ $code == 404 ]] || fail "ticket in the claimed shard: $code"

step "stop: SIGTERM ends n1 promptly with a connect attempt in flight"
t2=$(now)
kill -TERM "$n1_pid"
for _ in $(seq 150); do kill -0 "$n1_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$n1_pid" 2>/dev/null && fail "n1 still running 7.5 s after SIGTERM"
step "n1 stopped after $(elapsed "$t2") s"
grep -E "cluster_(joined|peer)" "$work/n1.log" | head -5
echo "PASS"
