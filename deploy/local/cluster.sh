#!/usr/bin/env bash
# A throwaway local Ticket Trader cluster on loopback: one etcd 3.4 (the
# membership and shard-ownership store) and N tt-node processes from the build
# tree, for development and manual fault testing (kill -9 one node, restart it).
# Run `deploy/local/cluster.sh --help` for the commands.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/local/cluster.sh COMMAND [OPTIONS]

A local cluster on 127.0.0.1: one throwaway etcd 3.4 and N tt-node processes
named n1..nN.

Commands:
  start [--nodes N] [--dir DIR] [--base-port P]
        start etcd and N nodes (default 3, ./cluster-data, 18080) and wait until
        etcd answers /health and every node's /healthz is 200. Node nI serves
        HTTP on P+I-1 and the cluster (CAF) port on P+100+I-1; etcd listens on
        P+200 (client) and P+201 (peer). Data: DIR/etcd, DIR/n1, ...;
        logs: DIR/NAME.log (stderr, JSON lines) and DIR/NAME.out (stdout),
        the previous run's in NAME.log.prev; pids: DIR/NAME.pid.
  stop [--dir DIR]           SIGTERM every node, SIGKILL after a timeout, then etcd
  status [--dir DIR]         what runs (exit 0 when everything is up, 1 otherwise)
  kill NAME [--dir DIR]      kill -9 one node (or etcd)
  restart NAME [--dir DIR]   stop one node (or etcd) gracefully, start it again
                             with the same flags and wait until it serves
  -h, --help                 this text

Data dirs survive stop; remove DIR to start from nothing.

Environment:
  TT_NODE_BIN        tt-node binary (default: <repo>/build/nodes/tt-node)
  ETCD_BIN           etcd binary (default: /usr/bin/etcd, Debian etcd-server)
  TT_ADMIN_SECRET    admin secret handed to every node; when unset one is
                     generated once into DIR/admin.secret (mode 0600)
  TT_NODE_ARGS       extra tt-node arguments for every node (word-split),
                     e.g. TT_NODE_ARGS="--log-level debug"
  TT_CLUSTER_WAIT_S  how long start/restart wait for health (default 60)
  TT_CLUSTER_STOP_S  how long stop waits after SIGTERM before SIGKILL (default 20)
EOF
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
wait_s=${TT_CLUSTER_WAIT_S:-60}
stop_s=${TT_CLUSTER_STOP_S:-20}

die() { echo "cluster.sh: $*" >&2; exit 1; }
note() { echo "[cluster] $*"; }

# --- arguments ---------------------------------------------------------------
cmd=""
name=""
nodes=3
dir=./cluster-data
base_port=18080
[ $# -gt 0 ] || { usage >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --nodes) [ $# -ge 2 ] || die "--nodes needs a value"; nodes=$2; shift 2 ;;
    --nodes=*) nodes=${1#*=}; shift ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
    --dir=*) dir=${1#*=}; shift ;;
    --base-port) [ $# -ge 2 ] || die "--base-port needs a value"; base_port=$2; shift 2 ;;
    --base-port=*) base_port=${1#*=}; shift ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      if [ -z "$cmd" ]; then cmd=$1
      elif [ -z "$name" ]; then name=$1
      else die "unexpected argument $1 (see --help)"; fi
      shift ;;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
if ! is_uint "$nodes" || [ "$nodes" -lt 1 ] || [ "$nodes" -gt 99 ]; then
  die "--nodes must be 1..99 (got '$nodes')"
fi
if ! is_uint "$base_port" || [ "$base_port" -lt 1024 ] || [ "$base_port" -gt 65333 ]; then
  die "--base-port must be 1024..65333 (got '$base_port')"
fi
is_uint "$wait_s" || die "TT_CLUSTER_WAIT_S must be a whole number of seconds"
is_uint "$stop_s" || die "TT_CLUSTER_STOP_S must be a whole number of seconds"

mkdir_abs() { mkdir -p "$1" && (cd "$1" && pwd); }
abs_dir() { if [ -d "$1" ]; then (cd "$1" && pwd); else echo ""; fi; }

# --- processes ---------------------------------------------------------------
# alive PID: the process exists and is not a zombie.
alive() {
  local pid=$1 stat
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != "Z" ]
}

# owns PID NEEDLE: PID's command line contains NEEDLE (its data dir), so a
# recycled pid from a stale pid file is never signalled.
owns() {
  local pid=$1 needle=$2 cmdline
  alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$needle "* ]]
}

# pid_of NAME: the pid in DIR/NAME.pid if that process still runs (else empty).
pid_of() {
  local n=$1 pid
  [ -f "$dir/$n.pid" ] || { echo ""; return 0; }
  pid=$(cat "$dir/$n.pid" 2>/dev/null || true)
  if is_uint "${pid:-x}" && owns "$pid" "$dir/$n"; then echo "$pid"; else echo ""; fi
}

# stop_procs SIGNAL_TIMEOUT NAME...: SIGTERM all, wait, SIGKILL the rest.
stop_procs() {
  local timeout=$1; shift
  local n pid pids=() names=() deadline
  for n in "$@"; do
    pid=$(pid_of "$n")
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$n")
    fi
    rm -f "$dir/$n.pid"
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  deadline=$((SECONDS + timeout))
  local i any
  while :; do
    any=0
    for i in "${!pids[@]}"; do alive "${pids[$i]}" && any=1; done
    [ $any -eq 1 ] || break
    if [ $SECONDS -ge $deadline ]; then
      for i in "${!pids[@]}"; do
        if alive "${pids[$i]}"; then
          note "${names[$i]} (pid ${pids[$i]}) still running after ${timeout}s: SIGKILL"
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  for i in "${!pids[@]}"; do note "stopped ${names[$i]} (pid ${pids[$i]})"; done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null || true; }

etcd_healthy() { curl -s --max-time 1 "$etcd_url/health" 2>/dev/null | grep -q '"health":"true"'; }

show_log_tail() {
  local log=$1
  if [ -s "$log" ]; then
    echo "--- last lines of $log ---" >&2
    tail -n 15 "$log" >&2
    echo "---" >&2
  fi
}

# --- state (DIR/cluster.env, key=value, read without evaluating) -------------
write_state() {
  cat >"$dir/cluster.env" <<EOF
TT_CLUSTER_NODES=$nodes
TT_CLUSTER_BASE_PORT=$base_port
TT_CLUSTER_BIN=$bin
TT_CLUSTER_ETCD_BIN=$etcd_bin
TT_CLUSTER_SECRET=$secret_source
EOF
}

read_state() {
  [ -f "$dir/cluster.env" ] || die "no cluster in $dir (no cluster.env; start one with: cluster.sh start --dir $dir)"
  local key value
  while IFS='=' read -r key value; do
    case "$key" in
      TT_CLUSTER_NODES) nodes=$value ;;
      TT_CLUSTER_BASE_PORT) base_port=$value ;;
      TT_CLUSTER_BIN) bin=$value ;;
      TT_CLUSTER_ETCD_BIN) etcd_bin=$value ;;
      TT_CLUSTER_SECRET) secret_source=$value ;;
    esac
  done <"$dir/cluster.env"
  if ! is_uint "$nodes" || ! is_uint "$base_port"; then die "$dir/cluster.env is damaged"; fi
  bin=${TT_NODE_BIN:-$bin}
  etcd_bin=${ETCD_BIN:-$etcd_bin}
  derive_ports
}

derive_ports() {
  etcd_port=$((base_port + 200))
  etcd_peer_port=$((base_port + 201))
  etcd_url="http://127.0.0.1:$etcd_port"
}

node_names() { local i; for ((i = 1; i <= nodes; i++)); do echo "n$i"; done; }
http_port_of() { echo $((base_port + ${1#n} - 1)); }
cluster_port_of() { echo $((base_port + 100 + ${1#n} - 1)); }

valid_name() {
  [ "$1" = etcd ] && return 0
  [[ $1 =~ ^n[0-9]+$ ]] && [ "${1#n}" -ge 1 ] && [ "${1#n}" -le "$nodes" ]
}

# --- the admin secret --------------------------------------------------------
load_secret() {
  if [ -n "${TT_ADMIN_SECRET:-}" ]; then
    admin_secret=$TT_ADMIN_SECRET
    secret_source="env"
    return 0
  fi
  if [ "${secret_source:-file}" = env ]; then
    die "this cluster was started with TT_ADMIN_SECRET from the environment; set it again"
  fi
  local f="$dir/admin.secret"
  if [ ! -s "$f" ]; then
    (
      umask 077
      if command -v openssl >/dev/null 2>&1; then
        openssl rand -hex 32 >"$f"
      else
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f"
        echo >>"$f"
      fi
    )
    note "generated an admin secret into $f"
  fi
  chmod 600 "$f"
  admin_secret=$(tr -d '\n' <"$f")
  secret_source="file"
}

# --- starting ----------------------------------------------------------------
# The previous run's logs are kept one generation back (NAME.log.prev).
rotate_logs() {
  local f
  for f in "$dir/$1.log" "$dir/$1.out"; do
    if [ -s "$f" ]; then mv -f "$f" "$f.prev"; fi
  done
}

start_etcd() {
  mkdir -p "$dir/etcd"
  rotate_logs etcd
  "$etcd_bin" --name tt-local --data-dir "$dir/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "tt-local=http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster-token tt-local --initial-cluster-state new \
    --logger zap --log-outputs stderr \
    </dev/null >"$dir/etcd.out" 2>"$dir/etcd.log" &
  echo $! >"$dir/etcd.pid"
  disown $!
}

wait_etcd() {
  local pid deadline=$((SECONDS + wait_s))
  pid=$(cat "$dir/etcd.pid")
  until etcd_healthy; do
    if ! alive "$pid"; then
      show_log_tail "$dir/etcd.log"
      echo "cluster.sh: etcd exited during start; see $dir/etcd.log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      show_log_tail "$dir/etcd.log"
      echo "cluster.sh: etcd did not answer $etcd_url/health within ${wait_s}s; see $dir/etcd.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

start_node() {
  local n=$1 extra=()
  read -r -a extra <<<"${TT_NODE_ARGS:-}"
  mkdir -p "$dir/$n"
  rotate_logs "$n"
  TT_ADMIN_SECRET=$admin_secret "$bin" \
    --data-dir "$dir/$n" \
    --http-host 127.0.0.1 --http-port "$(http_port_of "$n")" \
    --node-name "$n" \
    --cluster-host 127.0.0.1 --cluster-port "$(cluster_port_of "$n")" \
    --etcd "$etcd_url" --cluster-size "$nodes" \
    "${extra[@]}" \
    </dev/null >"$dir/$n.out" 2>"$dir/$n.log" &
  echo $! >"$dir/$n.pid"
  disown $!
}

# wait_nodes NAME...: until every node's /healthz is 200 (bounded).
wait_nodes() {
  local deadline=$((SECONDS + wait_s)) pending=("$@") still n pid
  while [ ${#pending[@]} -gt 0 ]; do
    still=()
    for n in "${pending[@]}"; do
      pid=$(cat "$dir/$n.pid" 2>/dev/null || true)
      if [ "$(http_code "http://127.0.0.1:$(http_port_of "$n")/healthz")" = 200 ]; then
        continue
      fi
      if ! alive "$pid"; then
        show_log_tail "$dir/$n.log"
        echo "cluster.sh: $n exited during start; see $dir/$n.log (stdout: $dir/$n.out)" >&2
        return 1
      fi
      still+=("$n")
    done
    pending=("${still[@]+"${still[@]}"}")
    [ ${#pending[@]} -gt 0 ] || break
    if [ $SECONDS -ge $deadline ]; then
      for n in "${pending[@]}"; do
        show_log_tail "$dir/$n.log"
        echo "cluster.sh: $n: /healthz on port $(http_port_of "$n") not 200 within ${wait_s}s; see $dir/$n.log" >&2
      done
      return 1
    fi
    sleep 0.2
  done
}

check_bins() {
  [ -x "$bin" ] || die "tt-node binary not found at $bin (build first: ./scripts/build.sh, or set TT_NODE_BIN)"
  [ -x "$etcd_bin" ] || die "etcd binary not found at $etcd_bin (apt-get install etcd-server, or set ETCD_BIN)"
  command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
}

print_table() {
  local n pid
  printf '%-6s %-24s %-8s %-8s %s\n' NAME HTTP CLUSTER PID LOG
  printf '%-6s %-24s %-8s %-8s %s\n' etcd "$etcd_url" "$etcd_peer_port" "$(pid_of etcd)" "$dir/etcd.log"
  for n in $(node_names); do
    pid=$(pid_of "$n")
    printf '%-6s %-24s %-8s %-8s %s\n' "$n" "http://127.0.0.1:$(http_port_of "$n")" \
      "$(cluster_port_of "$n")" "${pid:--}" "$dir/$n.log"
  done
}

cmd_start() {
  dir=$(mkdir_abs "$dir")
  bin=${TT_NODE_BIN:-$repo_root/build/nodes/tt-node}
  etcd_bin=${ETCD_BIN:-/usr/bin/etcd}
  [[ $bin == /* ]] || bin="$PWD/$bin"
  check_bins
  derive_ports

  local n running=()
  for n in etcd n{1..99}; do
    [ -f "$dir/$n.pid" ] || continue
    if [ -n "$(pid_of "$n")" ]; then running+=("$n"); else rm -f "$dir/$n.pid"; fi
  done
  [ ${#running[@]} -eq 0 ] || die "already running in $dir: ${running[*]} (cluster.sh stop --dir $dir)"

  local p busy=()
  for p in "$etcd_port" "$etcd_peer_port"; do port_in_use "$p" && busy+=("$p"); done
  for n in $(node_names); do
    for p in "$(http_port_of "$n")" "$(cluster_port_of "$n")"; do port_in_use "$p" && busy+=("$p"); done
  done
  [ ${#busy[@]} -eq 0 ] || die "ports in use on 127.0.0.1: ${busy[*]} (choose another --base-port)"

  secret_source=""
  load_secret
  write_state

  trap 'echo "cluster.sh: interrupted; stopping what was started" >&2; stop_everything; exit 130' INT TERM

  note "starting etcd on $etcd_url (data $dir/etcd)"
  start_etcd
  if ! wait_etcd; then stop_everything; exit 1; fi

  note "starting $nodes node(s) from $bin"
  for n in $(node_names); do start_node "$n"; done
  # shellcheck disable=SC2046 # node names are plain words
  if ! wait_nodes $(node_names); then stop_everything; exit 1; fi
  trap - INT TERM

  note "cluster up in $dir"
  print_table
  if [ "$secret_source" = file ]; then
    echo "admin secret: $dir/admin.secret (mode 0600)"
  else
    echo "admin secret: from TT_ADMIN_SECRET"
  fi
}

stop_everything() {
  # shellcheck disable=SC2046
  stop_procs "$stop_s" $(node_names)
  stop_procs "$stop_s" etcd
}

cmd_stop() {
  local d; d=$(abs_dir "$dir"); [ -n "$d" ] || die "no cluster dir $dir"; dir=$d
  read_state
  stop_everything
  note "stopped (data kept in $dir)"
}

cmd_status() {
  local d; d=$(abs_dir "$dir"); [ -n "$d" ] || die "no cluster dir $dir"; dir=$d
  read_state
  local n pid state health all_up=0
  printf '%-6s %-24s %-8s %-8s %-8s %-7s %s\n' NAME HTTP CLUSTER PID STATE HEALTH LOG
  pid=$(pid_of etcd)
  if [ -n "$pid" ]; then
    state=running
    if etcd_healthy; then health=ok; else health=down; all_up=1; fi
  else
    state=down; health=-; all_up=1
  fi
  printf '%-6s %-24s %-8s %-8s %-8s %-7s %s\n' etcd "$etcd_url" "$etcd_peer_port" "${pid:--}" "$state" "$health" "$dir/etcd.log"
  for n in $(node_names); do
    pid=$(pid_of "$n")
    if [ -n "$pid" ]; then
      state=running
      health=$(http_code "http://127.0.0.1:$(http_port_of "$n")/healthz")
      [ "$health" = 200 ] || all_up=1
    else
      state=down; health=-; all_up=1
    fi
    printf '%-6s %-24s %-8s %-8s %-8s %-7s %s\n' "$n" "http://127.0.0.1:$(http_port_of "$n")" \
      "$(cluster_port_of "$n")" "${pid:--}" "$state" "${health:-000}" "$dir/$n.log"
  done
  return $all_up
}

cmd_kill() {
  local d; d=$(abs_dir "$dir"); [ -n "$d" ] || die "no cluster dir $dir"; dir=$d
  read_state
  valid_name "$name" || die "no node '$name' in this cluster (etcd, n1..n$nodes)"
  local pid; pid=$(pid_of "$name")
  [ -n "$pid" ] || die "$name is not running"
  kill -KILL "$pid"
  local deadline=$((SECONDS + 5))
  while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  rm -f "$dir/$name.pid"
  note "killed $name (pid $pid, SIGKILL)"
}

cmd_restart() {
  local d; d=$(abs_dir "$dir"); [ -n "$d" ] || die "no cluster dir $dir"; dir=$d
  read_state
  valid_name "$name" || die "no node '$name' in this cluster (etcd, n1..n$nodes)"
  check_bins
  stop_procs "$stop_s" "$name"
  if [ "$name" = etcd ]; then
    port_in_use "$etcd_port" && die "port $etcd_port is taken by another process"
    start_etcd
    wait_etcd || { stop_procs "$stop_s" etcd; exit 1; }
  else
    port_in_use "$(http_port_of "$name")" && die "port $(http_port_of "$name") is taken by another process"
    load_secret
    start_node "$name"
    wait_nodes "$name" || { stop_procs "$stop_s" "$name"; exit 1; }
  fi
  note "restarted $name (pid $(pid_of "$name"), log $dir/$name.log)"
}

case "$cmd" in
  start) [ -z "$name" ] || die "start takes no NAME"; cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill) [ -n "$name" ] || die "kill needs a NAME (n1..nN or etcd)"; cmd_kill ;;
  restart) [ -n "$name" ] || die "restart needs a NAME (n1..nN or etcd)"; cmd_restart ;;
  "") usage >&2; exit 2 ;;
  *) die "unknown command '$cmd' (see --help)" ;;
esac
