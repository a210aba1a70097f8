#!/usr/bin/env bash
# Compares Podium binaries on one machine in turns: every turn runs each
# scenario once against each binary, in the order given, so a machine that
# slows down during the sitting slows every binary alike. (Running one
# binary's RUNS back to back and then the other's once read a machine's
# drift as a 0.89x loss; see BENCHMARKS.md, issue 23.)
#
#   bench/turns.sh TURNS "SCENARIO..." LABEL=BINARY [LABEL=BINARY ...]
#
# e.g. bench/turns.sh 3 "acks judging" before=/tmp/old/podium after=target/release/podium
#
# Each run's JSON lands in RESULTS/<label>-<scenario>-<turn>/ (RESULTS
# defaults to bench/results/turns-<timestamp>); the binaries are used as
# they are (bench/run.sh --no-build), so build them first. Other settings
# as bench/run.sh (BENCH_QUIET_MAX, PODIUM_EXTRA_ARGS, ...).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $# -lt 3 ]]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
fi
turns=$1
read -r -a scenarios <<<"$2"
shift 2
results="${RESULTS:-$here/results/turns-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$results"

failures=0
for turn in $(seq "$turns"); do
    for scenario in "${scenarios[@]}"; do
        for pair in "$@"; do
            label="${pair%%=*}"
            bin="${pair#*=}"
            dir="$results/$label-$scenario-$turn"
            echo "=== turn $turn, $scenario, $label ($(date -u +%H:%M:%S))"
            if ! PODIUM_BIN="$bin" RUNS=1 RESULTS="$dir" "$here/run.sh" --no-build "$scenario" >"$dir.log" 2>&1; then
                echo "!!! failed, see $dir.log"
                failures=$((failures + 1))
            fi
        done
    done
done
echo "results: $results"
exit $((failures > 0))
