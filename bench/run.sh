#!/usr/bin/env bash
# Runs one benchmark scenario (or all) end to end: builds the release
# binaries, starts a fresh server under test per measurement, runs
# podium-bench against it with --pid, stops the server, keeps the JSON.
#
#   bench/run.sh [--no-build] SCENARIO [extra podium-bench flags]
#   SCENARIO: fanout | acks | competition | fsync | idle | judging | smoke | cluster | all
#
# fsync needs no server: it times append + fdatasync on the disk the
# servers' data directories live on (mktemp -d), the floor under every
# commit with --sync full.
#
# fanout and idle run the same generator against Podium, the Node.js `ws`
# server (bench/node) and the bare Rust forwarder in one go and print the
# ratios the targets in BENCHMARKS.md are stated in.
#
# cluster (issue 13) starts a throwaway PostgreSQL (scripts/postgres), and per
# measurement a fresh database with two Podium nodes on it, beside one SQLite
# node in the same run: durable SCORED/s with the senders alternating over the
# nodes (acks), cross-node delivery latency with every sender on node A and
# every listener on node B (competition), and committed ratings/s with the
# judges alternating (judging). It prints the medians against the targets and
# the cluster / SQLite ratios, and keeps PostgreSQL's settings and each node's
# /metrics beside the JSON. CLUSTER_PARTS picks measurements (default
# "acks competition judging"); extra flags go to every measurement.
#
# Environment: RUNS (measurements per server, median reported; default 1),
# SERVERS (subset of "podium node bare" for fanout/idle), RESULTS (directory
# for JSON; default bench/results/<timestamp>), BENCH_QUIET_MAX (seconds to
# wait for an idle machine before each measurement; default 120, 0 = don't),
# CARGO_TARGET_DIR.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
if [[ "${1:-}" == "--no-build" ]]; then
    build=0
    shift
fi
scenario="${1:-}"
shift || true
case "$scenario" in
    fanout | acks | competition | fsync | idle | judging | smoke | cluster | all) ;;
    *)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 2
        ;;
esac

RUNS="${RUNS:-1}"
SERVERS="${SERVERS:-podium node bare}"
RESULTS="${RESULTS:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$RESULTS"

needs() { [[ " $SERVERS " == *" $1 "* ]]; }

if [[ $build -eq 1 ]]; then
    packages=(-p podium-bench)
    if needs podium || [[ "$scenario" != fanout && "$scenario" != idle ]]; then
        packages+=(-p podium)
    fi
    (cd "$REPO_ROOT" && cargo build --release "${packages[@]}") || exit 2
fi
if needs node && [[ "$scenario" == fanout || "$scenario" == idle || "$scenario" == all ]]; then
    if [[ ! -d "$BENCH_DIR/node/node_modules/ws" ]]; then
        (cd "$BENCH_DIR/node" && npm ci --no-audit --no-fund) || exit 2
    fi
fi

# One load generator on one address stands in for a hall full of clients:
# lift Podium's per-client limits (rates per clicker and socket.io connection,
# connections and registrations per address) for the load scenarios. The smoke run keeps
# the defaults.
if [[ "$scenario" != smoke ]]; then
    export PODIUM_EXTRA_ARGS="${PODIUM_EXTRA_ARGS:---clicker-rate 0 --sledge-rate 0 --max-connections-per-ip 0 --registrations-per-minute 0}"
fi

trap 'stop_server; pg_stop' EXIT
failures=0

# measure KIND NAME JSON [generator args...]: one fresh server, one run.
measure() {
    local kind="$1" name="$2" json="$3"
    shift 3
    local port attempt
    wait_quiet
    for attempt in 1 2 3; do
        port="$(free_port)" || return 1
        echo ">>> $name against $kind (port $port)"
        if start_server "$kind" "$port"; then
            break
        fi
        stop_server
        if [[ $attempt -eq 3 ]]; then
            echo "!!! could not start $kind"
            failures=$((failures + 1))
            return 1
        fi
    done
    "$BENCH_BIN" "$name" --url "127.0.0.1:$port" --pid "$SERVER_PID" --label "$kind" \
        --json "$json" "$@"
    local status=$?
    if [[ "${SAVE_METRICS:-0}" == 1 && "$kind" == podium ]]; then
        save_metrics "$port" "${json%.json}.metrics"
    fi
    stop_server
    if [[ $status -ne 0 ]]; then
        echo "!!! $name against $kind exited $status (log: $SERVER_LOG)"
        failures=$((failures + 1))
    fi
    return 0
}

# json_num FILE KEY: first numeric value of "KEY" in a pretty-printed report.
json_num() {
    grep -o "\"$2\": [-0-9.eE+]*" "$1" 2>/dev/null | head -n 1 | awk '{print $2}'
}

median() {
    sort -g | awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# compare NAME KEY UNIT: median of KEY per server over the runs, and ratios.
compare() {
    local name="$1" key="$2" unit="$3" kind r
    declare -A med
    echo
    echo "=== $name: median $key over $RUNS run(s) ==="
    for kind in $SERVERS; do
        med[$kind]="$(for r in $(seq 1 "$RUNS"); do json_num "$RESULTS/$name-$kind-$r.json" "$key"; done | median)"
        printf '  %-8s %14s %s\n' "$kind" "${med[$kind]:-n/a}" "$unit"
    done
    if [[ -n "${med[podium]:-}" ]]; then
        for kind in node bare; do
            if [[ -n "${med[$kind]:-}" ]]; then
                awk -v a="${med[podium]}" -v b="${med[$kind]}" -v k="$kind" \
                    'BEGIN { if (b > 0) printf "  podium / %-5s %8.2fx\n", k, a / b }'
            fi
        done
    fi
}

three_way() {
    local name="$1" key="$2" unit="$3" r kind
    shift 3
    for r in $(seq 1 "$RUNS"); do
        for kind in $SERVERS; do
            measure "$kind" "$name" "$RESULTS/$name-$kind-$r.json" "$@"
        done
    done
    compare "$name" "$key" "$unit"
}

podium_only() {
    local name="$1" r
    shift
    for r in $(seq 1 "$RUNS"); do
        measure podium "$name" "$RESULTS/$name-podium-$r.json" "$@"
    done
}

judging_flags=(--admin-secret "$BENCH_ADMIN_SECRET" --login-code "$BENCH_LOGIN_CODE")

# json_at FILE SECTION KEY: KEY's value inside the object "SECTION" of a
# pretty-printed report (p99_us of the delivery latencies, say).
json_at() {
    awk -v s="\"$2\": {" -v k="\"$3\":" \
        'index($0, s) { on = 1 } on && index($0, k) { sub(/.*: /, ""); sub(/,$/, ""); print; exit }' \
        "$1" 2>/dev/null
}

# --- cluster: two Podium nodes on one PostgreSQL, beside one SQLite node ---

PG_DIR=""
PG_URL=""
pg_databases=0

pg_start() {
    local script="$REPO_ROOT/scripts/postgres"
    if [[ ! -x "$script" ]]; then
        echo "!!! cluster needs scripts/postgres (start DIR prints the URL; stop DIR)" >&2
        return 1
    fi
    PG_DIR="$(mktemp -d -t bench-postgres-XXXXXX)"
    PG_URL="$("$script" start "$PG_DIR")" || {
        PG_URL=""
        return 1
    }
    echo ">>> PostgreSQL at $PG_URL"
}

pg_stop() {
    if [[ -n "${PG_URL:-}" ]]; then
        "$REPO_ROOT/scripts/postgres" stop "$PG_DIR" || true
    fi
    if [[ -n "${PG_DIR:-}" ]]; then
        rm -rf "$PG_DIR"
    fi
    PG_URL=""
    PG_DIR=""
}

pg_sql() {
    psql "$PG_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"
}

# The server's version and the settings the figures depend on.
pg_settings() {
    local name
    pg_sql "SELECT version()"
    for name in shared_buffers synchronous_commit fsync full_page_writes wal_level \
        wal_sync_method commit_delay max_wal_size checkpoint_timeout max_connections jit; do
        printf '%s = %s\n' "$name" "$(pg_sql "SHOW $name")"
    done
}

# save_metrics PORT FILE: the node's /metrics (commit batch histograms etc.).
save_metrics() {
    curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" >"$2" 2>/dev/null || rm -f "$2"
}

# cpu_ticks PID...: user + system clock ticks the processes used so far.
cpu_ticks() {
    local pid total=0 f
    for pid in "$@"; do
        read -r -a f <"/proc/$pid/stat" 2>/dev/null || continue
        # Fields 14 and 15 (utime, stime) counted after the "(comm)" field,
        # which cannot hold a space for these processes.
        total=$((total + f[13] + f[14]))
    done
    echo "$total"
}

# pg_ticks: CPU ticks of the PostgreSQL server: the postmaster, its live
# backends, and (cutime, cstime) the children that already exited.
pg_ticks() {
    local master f total children
    master="$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)" || return 0
    read -r -a f <"/proc/$master/stat" 2>/dev/null || return 0
    total=$((f[13] + f[14] + f[15] + f[16]))
    children="$(ps -o pid= --ppid "$master" 2>/dev/null)"
    # shellcheck disable=SC2086
    echo $((total + $(cpu_ticks $children)))
}

# commit_stats FILE: group commits in a saved /metrics: how many, mean jobs
# per commit and mean milliseconds per commit (whole life of the server).
commit_stats() {
    awk '/^podium_commit_batch_size_sum/ { js = $2 } /^podium_commit_batch_size_count/ { n = $2 }
        /^podium_commit_seconds_sum/ { ss = $2 }
        END { if (n > 0) printf "%d commits, %.1f jobs and %.2f ms each", n, js / n, ss * 1000 / n; else print "n/a" }' "$1"
}

# measure_cluster NAME JSON [generator args...]: a fresh database, two nodes
# on it, one run with the connections over both (see --url in cli.rs).
measure_cluster() {
    local name="$1" json="$2"
    shift 2
    local db port node urls=() ports=() status
    wait_quiet
    pg_databases=$((pg_databases + 1))
    db="bench_${name}_$pg_databases"
    if ! pg_sql "CREATE DATABASE $db"; then
        echo "!!! could not create database $db"
        failures=$((failures + 1))
        return 1
    fi
    export BENCH_DATABASE_URL="${PG_URL%/*}/$db"
    for node in a b; do
        port="$(free_port)" || break
        echo ">>> $name against podium node $node on PostgreSQL (port $port)"
        if ! start_server podium "$port"; then
            break
        fi
        urls+=("127.0.0.1:$port")
        ports+=("$port")
    done
    unset BENCH_DATABASE_URL
    if [[ ${#urls[@]} -ne 2 ]]; then
        echo "!!! could not start two nodes on $db"
        stop_server
        failures=$((failures + 1))
        return 1
    fi
    local pg_before nodes_before hz
    pg_before="$(pg_ticks)"
    nodes_before="$(cpu_ticks "${SERVER_PIDS[@]}")"
    "$BENCH_BIN" "$name" --url "${urls[0]},${urls[1]}" --pid "${SERVER_PIDS[0]}" \
        --label podium-cluster --json "$json" "$@"
    status=$?
    hz="$(getconf CLK_TCK)"
    # Where the two cores went during the run (set-up, load and drain).
    awk -v p="$(($(pg_ticks) - pg_before))" -v n="$(($(cpu_ticks "${SERVER_PIDS[@]}") - nodes_before))" -v hz="$hz" \
        'BEGIN { printf "cpu seconds: postgresql %.2f, both nodes %.2f\n", p / hz, n / hz }' |
        tee "${json%.json}.cpu"
    for node in 0 1; do
        save_metrics "${ports[$node]}" "${json%.json}.node-$((node + 1)).metrics"
    done
    stop_server
    pg_sql "DROP DATABASE $db" || true
    if [[ $status -ne 0 ]]; then
        echo "!!! $name against the cluster exited $status"
        failures=$((failures + 1))
    fi
}

# row LABEL CLUSTER SQLITE TARGET HIGHER: one line of the cluster summary;
# HIGHER is 1 when more is better (throughput), 0 for latencies.
cluster_row() {
    awk -v l="$1" -v c="$2" -v s="$3" -v t="$4" -v hi="$5" 'BEGIN {
        verdict = "n/a"
        if (c != "" && t != "") verdict = ((hi && c + 0 >= t + 0) || (!hi && c + 0 <= t + 0)) ? "met" : "MISSED"
        ratio = (c != "" && s != "" && s + 0 > 0) ? sprintf("%.2fx", c / s) : "n/a"
        printf "  %-34s %14s %14s %10s %-7s %8s\n", l, (c == "" ? "n/a" : c), (s == "" ? "n/a" : s),
            (t == "" ? "" : (hi ? ">= " : "<= ") t), (t == "" ? "" : verdict), ratio
    }'
}

# cluster_median NAME KIND SECTION KEY SCALE: median over the runs, divided by SCALE.
cluster_median() {
    local r v
    for r in $(seq 1 "$RUNS"); do
        if [[ -z "$3" ]]; then
            v="$(json_num "$RESULTS/$1-$2-$r.json" "$4")"
        else
            v="$(json_at "$RESULTS/$1-$2-$r.json" "$3" "$4")"
        fi
        [[ -n "$v" ]] && awk -v v="$v" -v d="$5" 'BEGIN { printf "%.2f\n", v / d }'
    done | median
}

cluster_summary() {
    local parts="$1"
    echo
    echo "=== cluster (issue 13): median over $RUNS run(s); 2 nodes + PostgreSQL vs 1 SQLite node ==="
    printf '  %-34s %14s %14s %10s %-7s %8s\n' "" "cluster" "sqlite" "target" "" "c/s"
    if [[ " $parts " == *" acks "* ]]; then
        cluster_row "durable SCORED/s (acks)" "$(cluster_median acks cluster "" acks_per_s 1)" \
            "$(cluster_median acks sqlite "" acks_per_s 1)" 20000 1
        cluster_row "  SCORED ack p99 (ms)" "$(cluster_median acks cluster ack p99_us 1000)" \
            "$(cluster_median acks sqlite ack p99_us 1000)" "" 0
    fi
    if [[ " $parts " == *" competition "* ]]; then
        cluster_row "delivery p50, A -> B (ms)" "$(cluster_median competition cluster delivery p50_us 1000)" \
            "$(cluster_median competition sqlite delivery p50_us 1000)" "" 0
        cluster_row "delivery p99, A -> B (ms)" "$(cluster_median competition cluster delivery p99_us 1000)" \
            "$(cluster_median competition sqlite delivery p99_us 1000)" 10 0
        cluster_row "  SCORED ack p99 (ms)" "$(cluster_median competition cluster ack p99_us 1000)" \
            "$(cluster_median competition sqlite ack p99_us 1000)" "" 0
    fi
    if [[ " $parts " == *" judging "* ]]; then
        cluster_row "committed ratings/s (judging)" "$(cluster_median judging cluster "" rate_hacks_per_s 1)" \
            "$(cluster_median judging sqlite "" rate_hacks_per_s 1)" 5000 1
        cluster_row "  rate-hack ack p99 (ms)" "$(cluster_median judging cluster rate_hack_ack p99_us 1000)" \
            "$(cluster_median judging sqlite rate_hack_ack p99_us 1000)" "" 0
    fi
    local f
    echo "  cpu during each cluster measurement (set-up, load and drain), run 1:"
    for f in "$RESULTS"/*-cluster-1.cpu; do
        [[ -f "$f" ]] && printf '    %-34s %s\n' "$(basename "$f" .cpu)" "$(cat "$f")"
    done
    echo "  group commits, run 1 (from each node's /metrics):"
    for f in "$RESULTS"/*-1.node-*.metrics "$RESULTS"/*-sqlite-1.metrics; do
        [[ -f "$f" ]] && printf '    %-34s %s\n' "$(basename "$f" .metrics)" "$(commit_stats "$f")"
    done
    echo "  (\"sqlite\": one node on its SQLite default in the same run; PostgreSQL settings: $RESULTS/postgres.txt)"
}

cluster() {
    local parts="${CLUSTER_PARTS:-acks competition judging}" part r flags
    pg_start || {
        failures=$((failures + 1))
        return 1
    }
    pg_settings | tee "$RESULTS/postgres.txt"
    SAVE_METRICS=1
    for r in $(seq 1 "$RUNS"); do
        for part in $parts; do
            flags=()
            if [[ "$part" == judging ]]; then
                flags=("${judging_flags[@]}")
            fi
            measure_cluster "$part" "$RESULTS/$part-cluster-$r.json" "${flags[@]}" "$@"
            measure podium "$part" "$RESULTS/$part-sqlite-$r.json" "${flags[@]}" "$@"
        done
    done
    pg_stop
    cluster_summary "$parts" | tee "$RESULTS/cluster-summary.txt"
}

run_one() {
    case "$1" in
        fanout) three_way fanout deliveries_per_s "deliveries/s" "${@:2}" ;;
        idle) three_way idle per_connection_bytes "bytes/connection" "${@:2}" ;;
        acks) podium_only acks "${@:2}" ;;
        competition) podium_only competition "${@:2}" ;;
        judging) podium_only judging "${judging_flags[@]}" "${@:2}" ;;
        smoke) podium_only smoke "${judging_flags[@]}" "${@:2}" ;;
        cluster) cluster "${@:2}" ;;
        fsync)
            local dir
            dir="$(mktemp -d -t bench-fsync-XXXXXX)"
            "$BENCH_BIN" fsync --dir "$dir" "${@:2}" || failures=$((failures + 1))
            rmdir "$dir"
            ;;
    esac
}

if [[ "$scenario" == all ]]; then
    for s in smoke fanout acks fsync competition idle judging; do
        run_one "$s" "$@"
    done
else
    run_one "$scenario" "$@"
fi

echo
echo "results: $RESULTS"
if [[ $failures -gt 0 ]]; then
    echo "$failures measurement(s) reported problems; see above"
    exit 1
fi
