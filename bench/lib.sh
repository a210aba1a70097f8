# Shared shell helpers for bench/run.sh and bench/smoke.sh: finding binaries
# and free ports, starting a server under test, waiting for it to be healthy
# and stopping exactly the process that was started. Source, do not run.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
BIN_DIR="$TARGET_DIR/release"
PODIUM_BIN="${PODIUM_BIN:-$BIN_DIR/podium}"
BENCH_BIN="${BENCH_BIN:-$BIN_DIR/podium-bench}"
BARE_BIN="${BARE_BIN:-$BIN_DIR/bare-forwarder}"

# Credentials the judging scenarios run with; any values work on a fresh
# data directory.
BENCH_ADMIN_SECRET="${BENCH_ADMIN_SECRET:-bench-admin-secret}"
BENCH_LOGIN_CODE="${BENCH_LOGIN_CODE:-bench-login-code}"

# The server started last; SERVER_PIDS and SERVER_DATAS hold every server
# started since the last stop_server (a cluster run starts several nodes).
SERVER_PID=""
SERVER_LOG=""
SERVER_DATA=""
SERVER_PIDS=()
SERVER_DATAS=()

# Servers must hold 10,000+ sockets; children inherit the raised limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a loopback port nothing is listening on, below the ephemeral range:
# after a 10,000-connection run, ports in that range may still be held by
# client sockets, and a server binding one fails with EADDRINUSE.
free_port() {
    local p low
    low="$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)"
    low="${low:-32768}"
    if [[ "$low" -le 11000 ]]; then
        low=60000
    fi
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (low - 10000)))
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# healthy PORT: true once GET /healthz answers 200 (no curl needed).
healthy() {
    local line
    # Braces: `exec ... 2>/dev/null` alone would silence the whole script.
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 2 line <&3 || line=""
    exec 3<&- 3>&-
    [[ "$line" == *" 200 "* ]]
}

# wait_healthy PORT [SECONDS]: waits for /healthz while the server lives.
wait_healthy() {
    local port="$1" secs="${2:-30}" i
    for ((i = 0; i < secs * 10; i++)); do
        if healthy "$port"; then
            return 0
        fi
        if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server exited before becoming healthy; log:" >&2
            tail -n 30 "$SERVER_LOG" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "server not healthy on port $port after ${secs}s; log:" >&2
    tail -n 30 "$SERVER_LOG" >&2
    return 1
}

# start_server KIND PORT: KIND is podium, node or bare. Sets SERVER_PID and
# adds it to SERVER_PIDS; servers already started keep running. With
# BENCH_DATABASE_URL set, podium is a cluster node on that PostgreSQL database.
start_server() {
    local kind="$1" port="$2"
    SERVER_LOG="$(mktemp -t "bench-$kind-XXXXXX.log")"
    case "$kind" in
        podium)
            SERVER_DATA="$(mktemp -d -t bench-podium-data-XXXXXX)"
            SERVER_DATAS+=("$SERVER_DATA")
            local store=()
            if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
                store=(--database-url "$BENCH_DATABASE_URL")
            fi
            # PODIUM_EXTRA_ARGS: e.g. the per-client limits a load test from
            # one address must lift (see bench/run.sh); unset for the smoke run,
            # which stays within the defaults.
            # shellcheck disable=SC2086
            PODIUM_ADMIN_SECRET="$BENCH_ADMIN_SECRET" PODIUM_LOGIN_CODE="$BENCH_LOGIN_CODE" \
                "$PODIUM_BIN" --listen "127.0.0.1:$port" --data-dir "$SERVER_DATA" "${store[@]}" \
                ${PODIUM_EXTRA_ARGS:-} >"$SERVER_LOG" 2>&1 &
            ;;
        node)
            node "$BENCH_DIR/node/server.js" --port "$port" >"$SERVER_LOG" 2>&1 &
            ;;
        bare)
            "$BARE_BIN" --listen "127.0.0.1:$port" >"$SERVER_LOG" 2>&1 &
            ;;
        *)
            echo "unknown server kind $kind" >&2
            return 1
            ;;
    esac
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    wait_healthy "$port"
}

# busy_percent: share of all CPUs busy over the next second, whoever uses it.
busy_percent() {
    local a b
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    local total=0 idle i
    for i in 1 2 3 4 5 6 7 8; do
        total=$((total + b[i] - a[i]))
    done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    if [[ $total -le 0 ]]; then
        echo 0
    else
        echo $(((total - idle) * 100 / total))
    fi
}

# wait_quiet [MAX_SECONDS]: on a 2-core machine a concurrent build halves
# throughput and turns latency tails into scheduler noise, so measurements
# wait (up to a limit) for the machine to be idle. BENCH_QUIET_MAX=0 skips.
wait_quiet() {
    local max="${1:-${BENCH_QUIET_MAX:-120}}" waited=0 busy
    [[ "$max" -gt 0 ]] || return 0
    while busy="$(busy_percent)" && [[ "$busy" -gt 15 ]]; do
        waited=$((waited + 1))
        if [[ $waited -ge $max ]]; then
            echo "warning: machine still ${busy}% busy after ${max}s; measuring anyway" >&2
            return 0
        fi
    done
}

# Stops the servers this script started (by their pids only) and cleans up.
stop_server() {
    local pid dir
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for dir in "${SERVER_DATAS[@]}"; do
        rm -rf "$dir"
    done
    SERVER_PID=""
    SERVER_DATA=""
    SERVER_PIDS=()
    SERVER_DATAS=()
}
