#!/usr/bin/env bash
# CI smoke run: starts the already-built Podium on a free loopback port with
# a temporary data directory and known judging credentials, waits for
# /healthz, runs `podium-bench smoke` for about 5 s (mixed drafts, both
# Engine.IO versions, a device reconnecting), stops the server and exits with
# the generator's status. Builds nothing: expects target/release/podium and
# target/release/podium-bench (or $CARGO_TARGET_DIR/release/...).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for bin in "$PODIUM_BIN" "$BENCH_BIN"; do
    if [[ ! -x "$bin" ]]; then
        echo "smoke: $bin not built (cargo build --release -p podium -p podium-bench)" >&2
        exit 2
    fi
done

trap stop_server EXIT
PORT="$(free_port)" || exit 2
start_server podium "$PORT" || exit 2

"$BENCH_BIN" smoke --url "127.0.0.1:$PORT" --pid "$SERVER_PID" \
    --duration "${SMOKE_DURATION:-5}" --drain 5 --label podium \
    --admin-secret "$BENCH_ADMIN_SECRET" --login-code "$BENCH_LOGIN_CODE"
status=$?
if [[ $status -ne 0 ]]; then
    echo "--- last lines of the server log ($SERVER_LOG) ---" >&2
    tail -n 40 "$SERVER_LOG" >&2
fi
exit $status
