#!/usr/bin/env bash
# HTTP throughput of the session server: GET /me (one Redis GETEX per request)
# against GET /health (no store), for each --redis-client kind.
#
# What it does:
#   1. cargo build --release -p session-server
#   2. two throwaway redis-server processes on free loopback ports (user
#      directory, session store), no persistence, in temp dirs
#   3. seeds the demo users (cheap load-test hashes)
#   4. one server per client kind (multiplexed, pool, pool-fast), each on
#      its own port with 2 workers, all pointing at the same two Redis
#   5. logs alice in on each server and keeps her session cookie
#   6. TRIALS trials; in each, one wrk run per variant, variants interleaved
#      (the order rotates from trial to trial), one wrk at a time:
#        health           GET /health on the multiplexed server (baseline)
#        me/multiplexed   GET /me with the cookie
#        me/pool          GET /me, stock deadpool-redis (PING on recycle), 32 conns
#        me/pool-fast     GET /me, deadpool with a no-op recycle, 32 conns
#   7. prints per variant the median req/s, min-max across trials, median
#      p50/p99 latency, the ratio to the /health median and the range of
#      per-trial ratios, and the CPU the servers + Redis and wrk spent per
#      request (from /proc).
#
# A /me run that got any non-2xx/3xx answer (wrk's "Non-2xx or 3xx
# responses") or socket errors makes the script fail: it would be measuring
# rejections, not sessions.
#
# The machine may be shared (builds, tests). Each run also reports "other
# CPU": the share of all CPUs that processes other than wrk, the servers and
# the two Redis used during that run (from /proc/stat). Above 10% the run
# was disturbed; the summary says so. "steal" is the share the hypervisor
# gave to other machines (a VM's noisy neighbours), reported, not judged.
#
# Environment (all optional):
#   WRK_DURATION     per wrk run                       (default 10s)
#   TRIALS           interleaved trials                (default 3)
#   WRK_THREADS      wrk -t                            (default 2)
#   WRK_CONNECTIONS  wrk -c                            (default 64)
#   WORKERS          session-server --workers          (default 2)
#   WARMUP           unrecorded wrk run per variant first, 0s to skip (default 2s)
#   RESULTS          also write the raw per-run rows (TSV) to this file
#
# The generic parts (Redis, CPU accounting, trials, summary) are in
# scripts/lib/wrk-common.sh, shared with scripts/wrk-jwt.sh.
#
# Quick run: WRK_DURATION=2s TRIALS=1 WARMUP=0s bash scripts/wrk-session.sh
set -euo pipefail

WRK_DURATION="${WRK_DURATION:-10s}"
TRIALS="${TRIALS:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WORKERS="${WORKERS:-2}"
WARMUP="${WARMUP:-2s}"
RESULTS="${RESULTS:-}"
KINDS=(multiplexed pool pool-fast)
COOKIE_SECRET="authlab-wrk-cookie-secret-0123456789abcdef"
DEMO_PASSWORD="authlab-demo"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=lib/wrk-common.sh
source "$ROOT/scripts/lib/wrk-common.sh"
require_tools redis-server wrk curl python3 cargo
setup_workdir

echo "== building session-server (release)"
cargo build --release -p session-server
BIN="$ROOT/target/release/session-server"

start_redis directory
DIRECTORY_URL="redis://127.0.0.1:$REDIS_PORT/0"
start_redis store
STORE_URL="redis://127.0.0.1:$REDIS_PORT/0"

echo "== seeding the user directory ($DIRECTORY_URL)"
RUST_LOG=warn "$BIN" seed --users 0 --cost load-test --user-directory-url "$DIRECTORY_URL"

declare -A PORT COOKIE
for kind in "${KINDS[@]}"; do
    port="$(free_port)"
    PORT[$kind]="$port"
    # --login-throttle off: a load script's logins must never meet a 429
    # (docs/session-server.md, "Login throttling").
    RUST_LOG=warn "$BIN" --port "$port" --workers "$WORKERS" --redis-client "$kind" \
        --user-directory-url "$DIRECTORY_URL" --session-store-url "$STORE_URL" \
        --cookie-secret "$COOKIE_SECRET" --login-throttle off >"$WORK/server-$kind.log" 2>&1 &
    PIDS+=($!)
    wait_for "session-server --redis-client $kind on port $port" \
        curl -fsS "http://127.0.0.1:$port/health"

    headers="$(curl -sS -D - -o /dev/null -X POST "http://127.0.0.1:$port/login" \
        -H 'content-type: application/json' \
        -d "{\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}")"
    cookie="$(printf '%s\n' "$headers" | tr -d '\r' \
        | sed -n 's/^[Ss]et-[Cc]ookie: *\(authlab_session=[^;]*\).*/\1/p' | head -n1)"
    if [[ -z "$cookie" ]]; then
        echo "error: login of alice on the $kind server set no authlab_session cookie:" >&2
        printf '%s\n' "$headers" >&2
        exit 1
    fi
    COOKIE[$kind]="$cookie"
    status="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port/me")"
    if [[ "$status" != 200 ]]; then
        echo "error: GET /me with alice's cookie answered $status on the $kind server" >&2
        exit 1
    fi
    echo "== session-server --redis-client $kind on port $port: alice logged in, /me answers 200"
done

VARIANTS=(health me/multiplexed me/pool me/pool-fast)

run_wrk() { # variant duration output
    local variant="$1" duration="$2" out="$3"
    local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$duration" --latency)
    case "$variant" in
        health) args+=("http://127.0.0.1:${PORT[multiplexed]}/health") ;;
        me/*)
            local kind="${variant#me/}"
            args+=(-H "Cookie: ${COOKIE[$kind]}" "http://127.0.0.1:${PORT[$kind]}/me")
            ;;
    esac
    wrk "${args[@]}" >"$out" 2>&1
}

run_trials
print_summary health "me/multiplexed=0.5=/me (multiplexed)"
finish
