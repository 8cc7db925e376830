#!/usr/bin/env bash
# HTTP throughput of the JWT server: GET /me (verify the access token, and
# with --revocation denylist one Redis MGET) against GET /health, and the
# cost of a login per signing algorithm.
#
# What it does:
#   1. cargo build --release -p jwt-server
#   2. two throwaway redis-server processes on free loopback ports (user
#      directory, token store), no persistence, in temp dirs
#   3. seeds the demo users (cheap load-test hashes)
#   4. one key set per algorithm (`jwt-server keys generate`)
#   5. five servers, each on its own port with 2 workers, --access-ttl 1h
#      (tokens outlive the run), all pointing at the same two Redis:
#        hs256           HS256, --revocation none
#        eddsa           EdDSA, --revocation none
#        hs256-denylist  HS256, --revocation denylist
#        rs256, es256    RS256 / ES256, --revocation none (login cost only)
#   6. logs alice in on each and keeps her access token; on hs256-denylist
#      a second login is logged out and its token must then get a 401, so
#      the denylist is known to be live
#   7. TRIALS trials; in each, one wrk run per variant, variants interleaved
#      (the order rotates from trial to trial), one wrk at a time:
#        health             GET /health on the hs256 server (baseline)
#        me/hs256           GET /me with "Authorization: Bearer <token>"
#        me/eddsa           the same on the EdDSA server
#        me/hs256-denylist  the same on the HS256 denylist server
#   8. prints per variant the median req/s, min-max across trials, median
#      p50/p99 latency, the ratio to the /health median and the range of
#      per-trial ratios, the CPU the servers + Redis and wrk spent per request
#      (from /proc), and the targets:
#        /me (HS256)                >= 0.75x /health
#        /me (HS256, denylist)      >= 0.5x  /health
#   9. login cost: LOGINS sequential POST /login per algorithm (HS256, RS256,
#      ES256, EdDSA servers, interleaved round by round, one keep-alive
#      connection per server, after 5 unrecorded logins each), median ms per
#      login. A login is: the user record from Redis, one Argon2id
#      verification at the *load-test* cost the directory was seeded with
#      (m=1024 KiB, t=1; a real password hash costs far more), a refresh
#      token family written to Redis, and one access token signed.
#
# A /me run that got any non-2xx/3xx answer (wrk's "Non-2xx or 3xx
# responses") or socket errors makes the script fail: it would be measuring
# rejections, not tokens. A failed login fails the script too.
#
# The machine may be shared (builds, tests). Each run also reports "other
# CPU": the share of all CPUs that processes other than wrk, the servers and
# the two Redis used during that run (from /proc/stat). Above 10% the run
# was disturbed; the summary says so. "steal" is the share the hypervisor
# gave to other machines (a VM's noisy neighbours), reported, not judged.
# The generic parts (Redis, CPU accounting, trials, summary) are in
# scripts/lib/wrk-common.sh, shared with scripts/wrk-session.sh.
#
# Environment (all optional):
#   WRK_DURATION     per wrk run                       (default 10s)
#   TRIALS           interleaved trials                (default 3)
#   WRK_THREADS      wrk -t                            (default 2)
#   WRK_CONNECTIONS  wrk -c                            (default 64)
#   WORKERS          jwt-server --workers              (default 2)
#   WARMUP           unrecorded wrk run per variant first, 0s to skip (default 2s)
#   LOGINS           timed logins per algorithm        (default 50)
#   RESULTS          also write the raw per-run rows (TSV) to this file
#
# Quick run: WRK_DURATION=2s TRIALS=1 WARMUP=0s bash scripts/wrk-jwt.sh
set -euo pipefail

WRK_DURATION="${WRK_DURATION:-10s}"
TRIALS="${TRIALS:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WORKERS="${WORKERS:-2}"
WARMUP="${WARMUP:-2s}"
LOGINS="${LOGINS:-50}"
RESULTS="${RESULTS:-}"
DEMO_PASSWORD="authlab-demo"
VARIANT_WIDTH=18

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=lib/wrk-common.sh
source "$ROOT/scripts/lib/wrk-common.sh"
require_tools redis-server wrk curl python3 cargo
setup_workdir

echo "== building jwt-server (release)"
cargo build --release -p jwt-server
BIN="$ROOT/target/release/jwt-server"

start_redis directory
DIRECTORY_URL="redis://127.0.0.1:$REDIS_PORT/0"
start_redis tokens
TOKEN_STORE_URL="redis://127.0.0.1:$REDIS_PORT/0"

echo "== seeding the user directory ($DIRECTORY_URL)"
RUST_LOG=warn "$BIN" seed --users 0 --cost load-test --user-directory-url "$DIRECTORY_URL"

echo "== generating key sets"
declare -A KEYSET=([HS256]="$WORK/hs.json" [RS256]="$WORK/rs.json" [ES256]="$WORK/es.json" [EdDSA]="$WORK/eddsa.json")
for alg in HS256 RS256 ES256 EdDSA; do
    RUST_LOG=warn "$BIN" keys generate --alg "$alg" --out "${KEYSET[$alg]}"
done

login() { # port -> the login's JSON answer on stdout
    curl -fsS -X POST "http://127.0.0.1:$1/login" \
        -H 'content-type: application/json' \
        -d "{\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}"
}

access_token() { # login JSON on stdin -> its access_token
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

me_status() { # port token -> HTTP status of GET /me
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "http://127.0.0.1:$1/me"
}

# name alg revocation
SERVERS=(
    "hs256 HS256 none"
    "eddsa EdDSA none"
    "hs256-denylist HS256 denylist"
    "rs256 RS256 none"
    "es256 ES256 none"
)
declare -A PORT TOKEN
for spec in "${SERVERS[@]}"; do
    read -r name alg revocation <<<"$spec"
    port="$(free_port)"
    PORT[$name]="$port"
    # --login-throttle off: the login-cost phase logs alice in LOGINS+ times
    # from one address, which the production limits would refuse with 429.
    RUST_LOG=warn "$BIN" --port "$port" --workers "$WORKERS" \
        --user-directory-url "$DIRECTORY_URL" --token-store-url "$TOKEN_STORE_URL" \
        --keyset-file "${KEYSET[$alg]}" --alg "$alg" --access-ttl 1h \
        --revocation "$revocation" --login-throttle off >"$WORK/server-$name.log" 2>&1 &
    PIDS+=($!)
    wait_for "jwt-server $name on port $port" curl -fsS "http://127.0.0.1:$port/health"

    if ! answer="$(login "$port")"; then
        echo "error: login of alice on the $name server failed" >&2
        exit 1
    fi
    token="$(access_token <<<"$answer")"
    TOKEN[$name]="$token"
    status="$(me_status "$port" "$token")"
    if [[ "$status" != 200 ]]; then
        echo "error: GET /me with alice's token answered $status on the $name server" >&2
        exit 1
    fi
    echo "== jwt-server $name ($alg, revocation $revocation) on port $port: alice logged in, /me answers 200"
done

# The denylist must really be consulted: a logged-out token is refused at once.
port="${PORT[hs256-denylist]}"
revoked="$(login "$port" | access_token)"
curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $revoked" "http://127.0.0.1:$port/logout"
status="$(me_status "$port" "$revoked")"
if [[ "$status" != 401 ]]; then
    echo "error: a logged-out token answered $status (not 401) on the hs256-denylist server" >&2
    exit 1
fi
echo "== hs256-denylist: a logged-out token gets 401, alice's benchmark token still 200"
if [[ "$(me_status "$port" "${TOKEN[hs256-denylist]}")" != 200 ]]; then
    echo "error: alice's benchmark token no longer answers 200 on the hs256-denylist server" >&2
    exit 1
fi

VARIANTS=(health me/hs256 me/eddsa me/hs256-denylist)

run_wrk() { # variant duration output
    local variant="$1" duration="$2" out="$3"
    local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$duration" --latency)
    case "$variant" in
        health) args+=("http://127.0.0.1:${PORT[hs256]}/health") ;;
        me/*)
            local name="${variant#me/}"
            args+=(-H "Authorization: Bearer ${TOKEN[$name]}" "http://127.0.0.1:${PORT[$name]}/me")
            ;;
    esac
    wrk "${args[@]}" >"$out" 2>&1
}

run_trials
print_summary health "me/hs256=0.75=/me (HS256)" "me/hs256-denylist=0.5=/me (HS256, denylist)"

echo
echo "== login cost: $LOGINS sequential POST /login per algorithm, interleaved, one keep-alive connection each"
LOGIN_ROWS="$WORK/logins.tsv"
cpu_begin
python3 - "$LOGINS" "$DEMO_PASSWORD" "$LOGIN_ROWS" \
    "HS256=${PORT[hs256]}" "RS256=${PORT[rs256]}" "ES256=${PORT[es256]}" "EdDSA=${PORT[eddsa]}" <<'PY'
import http.client, json, sys, time

rounds, password, rows = int(sys.argv[1]), sys.argv[2], sys.argv[3]
servers = [arg.split("=") for arg in sys.argv[4:]]
conns = {alg: http.client.HTTPConnection("127.0.0.1", int(port), timeout=10) for alg, port in servers}
body = json.dumps({"username": "alice", "password": password})

def login(alg):
    conn = conns[alg]
    started = time.perf_counter()
    conn.request("POST", "/login", body, {"content-type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    elapsed = time.perf_counter() - started
    if answer.status != 200 or not json.loads(data).get("access_token"):
        sys.exit(f"error: login on the {alg} server answered {answer.status}: {data[:200]!r}")
    return elapsed * 1000

for _ in range(5):
    for alg, _ in servers:
        login(alg)
with open(rows, "w") as out:
    out.write("round\talg\tms\n")
    for i in range(rounds):
        # Rotate the order each round so no algorithm always goes first.
        shift = i % len(servers)
        for alg, _ in servers[shift:] + servers[:shift]:
            out.write(f"{i + 1}\t{alg}\t{login(alg):.4f}\n")
PY
cpu_end
python3 - "$LOGIN_ROWS" "$OTHER_CPU" "$STEAL" <<'PY'
import csv, statistics, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
order = ["HS256", "RS256", "ES256", "EdDSA"]
ms = {alg: [float(r["ms"]) for r in rows if r["alg"] == alg] for alg in order}
base = statistics.median(ms["HS256"])
print("| algorithm | logins | median ms/login | min-max ms | p90 ms | median - HS256 (ms) |")
print("|---|---:|---:|---:|---:|---:|")
for alg in order:
    values = sorted(ms[alg])
    med = statistics.median(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print(f"| {alg} | {len(values)} | {med:.3f} | {values[0]:.3f}-{values[-1]:.3f} | {p90:.3f} | {med - base:+.3f} |")
print("(each login includes one Argon2id verification at the load-test cost, m=1024 KiB t=1, "
      "plus the Redis round trips; the signature is the only part that differs between rows)")
other, steal = int(sys.argv[2]), int(sys.argv[3])
print(f"login phase: other CPU {other}%, steal {steal}%"
      + ("  WARNING: shared the CPUs with other work (>10%); rerun on a quiet machine" if other > 10 else ""))
PY

finish
