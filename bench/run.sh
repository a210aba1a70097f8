#!/usr/bin/env bash
# Runs one benchmark scenario (or all) end to end: builds the release
# binaries, starts a fresh server under test per measurement, runs
# podium-bench against it with --pid, stops the server, keeps the JSON.
#
#   bench/run.sh [--no-build] SCENARIO [extra podium-bench flags]
#   SCENARIO: fanout | acks | competition | fsync | idle | judging | smoke | all
#
# fsync needs no server: it times append + fdatasync on the disk the
# servers' data directories live on (mktemp -d), the floor under every
# commit with --sync full.
#
# fanout and idle run the same generator against Podium, the Node.js `ws`
# server (bench/node) and the bare Rust forwarder in one go and print the
# ratios the targets in BENCHMARKS.md are stated in.
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
    fanout | acks | competition | fsync | idle | judging | smoke | all) ;;
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

trap stop_server EXIT
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

run_one() {
    case "$1" in
        fanout) three_way fanout deliveries_per_s "deliveries/s" "${@:2}" ;;
        idle) three_way idle per_connection_bytes "bytes/connection" "${@:2}" ;;
        acks) podium_only acks "${@:2}" ;;
        competition) podium_only competition "${@:2}" ;;
        judging) podium_only judging "${judging_flags[@]}" "${@:2}" ;;
        smoke) podium_only smoke "${judging_flags[@]}" "${@:2}" ;;
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
