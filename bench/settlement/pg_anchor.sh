#!/usr/bin/env bash
# The plain-PostgreSQL ticket-swap anchor: the whole swap (lock both tickets and
# both wallets, hold 300 cents, swap owners, post the money, mark the trade,
# write an audit row) as ONE PostgreSQL transaction with row locks, measured on
# a throwaway PostgreSQL 15 cluster with default settings (synchronous_commit=on,
# fsync=on). tt_bench_settlement runs this script beside Ticket Trader in the
# same run and prints the ratio.
#
# pg-swap-schema.sql and pg-swap.pgbench next to this script are byte-identical
# copies of /work/shared/anchors/pg-swap-schema.sql and
# /work/shared/anchors/pg-swap.pgbench (see /work/shared/anchors/README.md),
# copied on 2026-11-29 so the repository is self-contained. Do not weaken them
# (no synchronous_commit=off, no fewer statements); this script changes no
# server setting that affects durability or speed.
#
# What it does:
#   1. finds the PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin, or
#      $PG_BINDIR); exits 2 if they are missing (scripts/install-deps.sh
#      installs them: package postgresql-15, which also ships pgbench);
#   2. initdb in a temp dir under $TMPDIR (default /tmp; it must be the disk you
#      want to measure, not a tmpfs), as user postgres (or nobody) when run as
#      root, since PostgreSQL refuses to run as root;
#   3. starts it on a free 127.0.0.1 TCP port, unix socket in the temp dir;
#   4. loads pg-swap-schema.sql, then runs
#        pgbench -n -c CLIENTS -j 2 -T SECONDS -P 1 -f pg-swap.pgbench --log
#      over TCP (or over the unix socket with --socket), progress on stderr;
#   5. reads tps and the average latency from pgbench's report and p50/p99 from
#      its per-transaction log (nearest rank over every transaction);
#   6. stops the server and deletes the temp dir on every exit, Ctrl-C included.
#
# stdout: a one-line summary, then as the LAST line one JSON object:
#   {"pg_swaps_per_s":..,"pg_avg_ms":..,"pg_p50_ms":..,"pg_p99_ms":..,
#    "clients":..,"seconds":..,"transactions":..,"failed":..,"conn":"tcp"}
# Everything else (server settings, pgbench progress and report) goes to stderr.
#
# Usage: bench/settlement/pg_anchor.sh [--clients N] [--seconds S] [--socket]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
schema=$here/pg-swap-schema.sql
txscript=$here/pg-swap.pgbench
clients=16
seconds=10
conn=tcp
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
dbuser=ttbench

usage() {
  cat <<EOF
Usage: $(basename "$0") [--clients N] [--seconds S] [--socket] [--help]

Measures the plain-PostgreSQL ticket swap (pg-swap-schema.sql + pg-swap.pgbench,
one transaction per swap, synchronous_commit=on) on a throwaway PostgreSQL 15
cluster: pgbench -n -c N -j 2 -T S -f pg-swap.pgbench.

  --clients N   pgbench clients (default $clients)
  --seconds S   run time in seconds (default $seconds)
  --socket      connect over the unix socket instead of TCP 127.0.0.1
  --help        this text

Environment: PG_BINDIR (default /usr/lib/postgresql/15/bin), TMPDIR (where the
cluster lives; must be the disk to measure, not a tmpfs).
Last stdout line: {"pg_swaps_per_s":..,"pg_avg_ms":..,"pg_p50_ms":..,"pg_p99_ms":..,
"clients":N,"seconds":S,"transactions":..,"failed":..,"conn":"tcp|socket"}
Exit: 0 ok, 1 run failed, 2 PostgreSQL 15 not installed, 64 bad usage.
EOF
}

log() { echo "[pg_anchor] $*" >&2; }
die() { echo "[pg_anchor] error: $*" >&2; exit 1; }

need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then echo "$1 needs a value" >&2; usage >&2; exit 64; fi
}
while [ $# -gt 0 ]; do
  case $1 in
    --clients) need_value "$@"; clients=$2; shift 2 ;;
    --clients=*) clients=${1#*=}; shift ;;
    --seconds) need_value "$@"; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --socket) conn=socket; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 64 ;;
  esac
done
[[ $clients =~ ^[1-9][0-9]*$ ]] || { echo "--clients must be a positive integer" >&2; exit 64; }
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "--seconds must be a positive integer" >&2; exit 64; }
threads=2
[ "$clients" -lt 2 ] && threads=1

# -- 1. PostgreSQL 15 binaries ----------------------------------------------------
for b in initdb pg_ctl postgres psql pgbench; do
  if [ ! -x "$bindir/$b" ]; then
    cat >&2 <<EOF
[pg_anchor] error: PostgreSQL 15 not found: $bindir/$b is missing.
[pg_anchor] Install it with scripts/install-deps.sh (Debian 12 package postgresql-15,
[pg_anchor] which ships initdb, pg_ctl, postgres and pgbench), or set PG_BINDIR.
EOF
    exit 2
  fi
done
pg_version=$("$bindir/postgres" --version)
case $pg_version in
  *" 15."*) ;;
  *) echo "[pg_anchor] error: need PostgreSQL 15, $bindir/postgres is: $pg_version" >&2; exit 2 ;;
esac

# -- who runs the server ------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then runas=postgres; else runas=nobody; fi
  command -v runuser >/dev/null || die "running as root needs runuser (util-linux) to drop to $runas"
  as_db() { runuser -u "$runas" -- "$@"; }
else
  runas=$(id -un)
  as_db() { "$@"; }
fi

# -- temp dir + cleanup ---------------------------------------------------------------
tmp=""
cleanup() {
  local rc=$?
  trap '' INT TERM HUP # finish cleaning up even on a second Ctrl-C
  trap - EXIT
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    if [ -f "$tmp/data/postmaster.pid" ]; then
      log "stopping the server"
      if ! as_db "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w -t 30 stop >/dev/null 2>&1; then
        local pid
        pid=$(head -n1 "$tmp/data/postmaster.pid" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]]; then kill -KILL "$pid" 2>/dev/null || true; sleep 1; fi
      fi
    fi
    rm -rf -- "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tt-pg-anchor.XXXXXX")
[[ $tmp =~ ^[A-Za-z0-9/._+-]+$ ]] || die "temp dir path '$tmp' has unusual characters; set TMPDIR to a plain path"
[ ${#tmp} -le 80 ] || die "temp dir path '$tmp' is too long for a unix socket; set TMPDIR to a shorter path"
[ "$(id -u)" -eq 0 ] && chown "$runas" "$tmp"
as_db test -w "$tmp" || die "user $runas cannot write $tmp (is TMPDIR reachable for it?)"
fstype=$(stat -f -c %T "$tmp" 2>/dev/null || echo "?")
[ "$fstype" = tmpfs ] && log "WARNING: $tmp is on tmpfs: fsync costs nothing there, the numbers are not durable ones"

log "$pg_version, cluster in $tmp ($fstype), server runs as $runas"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# -- 2. initdb (default settings; trust auth on this throwaway, local-only cluster) ------
t0=$(date +%s.%N)
as_db "$bindir/initdb" -D "$tmp/data" -U "$dbuser" -A trust >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }

# -- 3. start on a free localhost port -----------------------------------------------
pick_port() {
  local used p _
  used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' || true)
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    grep -qx "$p" <<<"$used" || { echo "$p"; return; }
  done
  echo $((20000 + RANDOM % 40000))
}
port=""
for attempt in 1 2 3 4 5; do
  p=$(pick_port)
  if as_db "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-p $p -k $tmp -c listen_addresses=127.0.0.1" start >/dev/null 2>&1; then
    port=$p
    break
  fi
  log "could not start on port $p (attempt $attempt)"
  tail -n 5 "$tmp/server.log" >&2 2>/dev/null || true
done
[ -n "$port" ] || die "the server did not start; see the log above"
if [ "$conn" = tcp ]; then host=127.0.0.1; else host=$tmp; fi
t1=$(date +%s.%N)
log "server up on 127.0.0.1:$port, socket in $tmp ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s for initdb + start); clients connect over $conn"

psql_cmd=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$dbuser" -d postgres)

# The anchor is only meaningful with durable commits: check, do not change.
settings=$("${psql_cmd[@]}" -At -F ' ' -c \
  "select current_setting('synchronous_commit'), current_setting('fsync'),
          current_setting('full_page_writes'), current_setting('wal_sync_method'),
          current_setting('shared_buffers'), current_setting('max_connections')")
read -r s_sync s_fsync s_fpw s_method s_sb s_maxconn <<<"$settings"
log "settings: synchronous_commit=$s_sync fsync=$s_fsync full_page_writes=$s_fpw wal_sync_method=$s_method shared_buffers=$s_sb max_connections=$s_maxconn"
if [ "$s_sync" != on ] || [ "$s_fsync" != on ]; then die "synchronous_commit and fsync must be on"; fi
[ "$clients" -lt "$s_maxconn" ] || die "--clients $clients exceeds the default max_connections ($s_maxconn)"

# -- 4. schema + pgbench -------------------------------------------------------------
log "loading $(basename "$schema")"
"${psql_cmd[@]}" -f "$schema" >/dev/null || die "loading the schema failed"

log "pgbench -n -c $clients -j $threads -T $seconds -P 1 -f $(basename "$txscript") --log"
if ! "$bindir/pgbench" -n -c "$clients" -j "$threads" -T "$seconds" -P 1 \
    -f "$txscript" --log --log-prefix="$tmp/txlog" \
    -h "$host" -p "$port" -U "$dbuser" postgres >"$tmp/pgbench.out"; then
  cat "$tmp/pgbench.out" >&2
  tail -n 20 "$tmp/server.log" >&2 2>/dev/null || true
  die "pgbench failed"
fi
cat "$tmp/pgbench.out" >&2

# -- 5. results ----------------------------------------------------------------------
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/pgbench.out" | head -n1)
avg=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$tmp/pgbench.out" | head -n1)
txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/pgbench.out" | head -n1)
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/pgbench.out" | head -n1)
failed=${failed:-0}
if [ -z "$tps" ] || [ -z "$avg" ] || [ -z "$txns" ]; then die "could not parse pgbench's report"; fi

# Per-transaction log (PG 15): client_id transaction_no time_us script_no epoch us
# ("failed"/"skipped" instead of time_us for those). One file per pgbench thread.
shopt -s nullglob
logs=("$tmp"/txlog.*)
[ ${#logs[@]} -gt 0 ] || die "pgbench wrote no transaction log"
awk '$3 ~ /^[0-9]+$/ {print $3}' "${logs[@]}" | LC_ALL=C sort -n >"$tmp/latencies"
n=$(wc -l <"$tmp/latencies")
[ "$n" -gt 0 ] || die "no successful transactions in the log"
read -r p50 p99 <<<"$(awk -v n="$n" '
  BEGIN { r50 = int((n * 50 + 99) / 100); r99 = int((n * 99 + 99) / 100) }  # nearest rank
  NR == r50 { a = $1 } NR == r99 { b = $1 }
  END { printf "%.3f %.3f\n", a / 1000, b / 1000 }' "$tmp/latencies")"
[ "$n" -eq "$txns" ] || log "note: the log holds $n successful transactions, pgbench reported $txns"
[ "$failed" -eq 0 ] || log "WARNING: $failed failed transactions"
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

LC_ALL=C printf 'PostgreSQL 15 swap anchor: %.1f swaps/s, latency avg %.3f ms, p50 %.3f ms, p99 %.3f ms (%s clients, %s s, %s, %s transactions)\n' \
  "$tps" "$avg" "$p50" "$p99" "$clients" "$seconds" "$conn" "$txns"
LC_ALL=C printf '{"pg_swaps_per_s":%.1f,"pg_avg_ms":%.3f,"pg_p50_ms":%.3f,"pg_p99_ms":%.3f,"clients":%s,"seconds":%s,"transactions":%s,"failed":%s,"conn":"%s"}\n' \
  "$tps" "$avg" "$p50" "$p99" "$clients" "$seconds" "$txns" "$failed" "$conn"
