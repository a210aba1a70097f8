#!/usr/bin/env bash
# Bytes on the wire at a big event, and the import of a big Devpost export
# (issue 17). Each measurement runs against a fresh server (bench/lib.sh):
#
#   import     a 10 MiB Devpost export with stories up to 20,000 characters:
#              the answer's status, the time, the server's peak memory (VmHWM)
#   event      1,000 hacks with ~1.5 KB stories, 300 judges, 3 judges per
#              hack; then a judge's first load (page, scripts, style, names,
#              login, the event stream's update-full), its reload with the
#              browser cache, GET /api/state, the admin's first load, and all
#              300 judges signing in (30 at a time), every byte each TCP
#              connection carries counted (headers included, both ways);
#              once as Chromium asks (Accept-Encoding: gzip, deflate, br,
#              zstd) and once accepting no compression
#
#   bench/wire.sh [--no-build]
#
# Environment: PODIUM_BIN (the server under test; default the release build:
# point it at an older build for "before" figures, with ADMIN_QUERY= empty,
# as a server without ?preview= refuses it), ADMIN_QUERY (what the admin's
# event stream asks for; default "&preview=80", as ui/admin.js), RUNS
# (measurements of each, median printed; default 1), LABEL (names the result
# files; default "current"), RESULTS (directory for JSON; default
# bench/results/<timestamp>), BENCH_QUIET_MAX (see lib.sh).
set -uo pipefail

custom_bin="${PODIUM_BIN:-}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${1:-}" != "--no-build" && -z "$custom_bin" ]]; then
    (cd "$REPO_ROOT" && cargo build --release -p podium) || exit 2
fi
LABEL="${LABEL:-current}"
RESULTS="${RESULTS:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$RESULTS"
trap stop_server EXIT
failures=0

RUNS="${RUNS:-1}"

# run NAME RUN [wire.mjs args...]: one fresh server, one measurement.
run() {
    local name="$1" port json="$RESULTS/wire-$1-$LABEL-$2.json"
    shift 2
    wait_quiet
    port="$(free_port)" || return 1
    echo ">>> $name ($LABEL, port $port)"
    if ! start_server podium "$port"; then
        failures=$((failures + 1))
        return 1
    fi
    if node "$BENCH_DIR/node/wire.mjs" "$@" --url "127.0.0.1:$port" --pid "$SERVER_PID" \
        --admin-secret "$BENCH_ADMIN_SECRET" --login-code "$BENCH_LOGIN_CODE" >"$json"; then
        cat "$json"
    else
        echo "!!! $name failed (log: $SERVER_LOG)"
        failures=$((failures + 1))
    fi
    stop_server
}

ADMIN_QUERY="${ADMIN_QUERY-&preview=80}"
for r in $(seq 1 "$RUNS"); do
    run import "$r" import --mib 10
    run event-compressed "$r" event --encoding "gzip, deflate, br, zstd" --admin-query "$ADMIN_QUERY"
    run event-identity "$r" event --encoding identity --admin-query "$ADMIN_QUERY"
done

# Medians over the runs, per measurement.
node - "$RESULTS" "$LABEL" <<'JS'
const fs = require('fs');
const [dir, label] = process.argv.slice(2);
const keys = ['status', 'import_ms', 'server_peak_rss_after_mib', 'judge_first_load_kb', 'judge_reload_wire_bytes',
  'judge_state_wire_bytes', 'admin_first_load_kb', 'admin_state_wire_bytes', 'all_judges_sign_in_mb', 'all_judges_sign_in_ms'];
const median = (v) => { v.sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
for (const name of ['import', 'event-compressed', 'event-identity']) {
  const runs = fs.readdirSync(dir).filter((f) => f.startsWith(`wire-${name}-${label}-`))
    .map((f) => { try { return JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')); } catch { return null; } }).filter(Boolean);
  if (!runs.length) continue;
  const line = keys.filter((k) => k in runs[0]).map((k) => `${k}=${median(runs.map((r) => r[k]))}`);
  console.log(`=== ${name} (${label}, median of ${runs.length}): ${line.join(' ')}`);
}
JS
echo
echo "results: $RESULTS"
exit $((failures > 0))
