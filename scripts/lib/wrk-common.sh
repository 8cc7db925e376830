# Shared by scripts/wrk-session.sh and scripts/wrk-jwt.sh; sourced, not run.
#
# What it gives a wrk script:
#   require_tools TOOL...      exit with an error if one is not on PATH
#   setup_workdir              WORK (a temp dir), PIDS (processes to stop) and
#                              a trap that stops them and removes WORK on exit
#   free_port, wait_for, redis_ping
#   start_redis NAME           a throwaway redis-server on a free loopback port,
#                              no persistence, sets REDIS_PORT
#   to_ms LATENCY              wrk's 812.00us / 1.23ms / 1.01s in milliseconds
#   cpu_begin, cpu_end         around a command run in this shell: sets
#                              OTHER_CPU and STEAL (see "other CPU" below)
#   run_trials                 the optional warm-up, then TRIALS interleaved
#                              trials of every variant of VARIANTS, one wrk at
#                              a time; prints one line per run, writes ROWS
#                              (TSV, copied to RESULTS if set), sets FAILED=1
#                              on non-2xx/3xx answers or socket errors
#   print_summary BASELINE TARGET...
#                              the summary table (medians, min-max, ratio to
#                              BASELINE) and one verdict line per TARGET,
#                              written "variant=min_ratio=label"
#   finish                     exit 1 if FAILED
#
# The calling script sets WRK_DURATION, TRIALS, WRK_THREADS, WRK_CONNECTIONS,
# WORKERS, WARMUP, RESULTS and VARIANTS, and defines `run_wrk VARIANT
# DURATION OUTPUT`, which runs one wrk and writes its output to OUTPUT.
# VARIANT_WIDTH (default 16) is the width of the variant column of the
# per-run lines.
#
# "other CPU" per run: the share of all CPUs that processes other than the
# children of this shell (wrk), the processes in PIDS (servers, Redis) used during that run, from
# /proc/stat. Above 10% the run was disturbed (a build, tests); the summary
# says so. "steal" is the share the hypervisor gave to other machines,
# reported, not judged.

require_tools() { # tool...
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "error: $tool not found on PATH" >&2; exit 1; }
    done
}

setup_workdir() { # sets WORK and PIDS, installs the cleanup trap
    WORK="$(mktemp -d -t authlab-wrk.XXXXXX)"
    PIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$status"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # description, command...
    local what="$1"
    shift
    for _ in $(seq 1 200); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    echo "error: $what did not come up" >&2
    return 1
}

redis_ping() { # port
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5)
s.sendall(b"PING\r\n")
sys.exit(0 if s.recv(7) == b"+PONG\r\n" else 1)
PY
}

start_redis() { # name -> sets REDIS_PORT
    local name="$1" dir="$WORK/$1"
    mkdir -p "$dir"
    REDIS_PORT="$(free_port)"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" \
        --save "" --appendonly no --daemonize no \
        --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
    wait_for "redis-server ($name) on port $REDIS_PORT" redis_ping "$REDIS_PORT"
}

HZ="$(getconf CLK_TCK)"
NCPU="$(nproc)"

cpu_jiffies() { # all CPUs since boot: "<busy> <steal>", busy = user nice system irq softirq
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat
}

ours_jiffies() { # the processes in PIDS (their stime includes softirq work)
    local total=0 pid
    for pid in "${PIDS[@]}"; do
        if [[ -r /proc/$pid/stat ]]; then
            total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
        fi
    done
    echo "$total"
}

children_ms() { # sets CHILD_MS: CPU time of this shell's waited-for children (wrk)
    # `times` must run in this shell, not in a $(...) subshell, to see them.
    times >"$WORK/times"
    local line re='([0-9]+)m([0-9]+)\.([0-9]+)s +([0-9]+)m([0-9]+)\.([0-9]+)s'
    line="$(tail -n1 "$WORK/times")"
    if [[ ! $line =~ $re ]]; then
        echo "error: cannot parse the output of times: $line" >&2
        exit 1
    fi
    local m=("${BASH_REMATCH[@]}")
    CHILD_MS=$(((10#${m[1]} * 60 + 10#${m[2]}) * 1000 + 10#${m[3]} + (10#${m[4]} * 60 + 10#${m[5]}) * 1000 + 10#${m[6]}))
}

to_ms() { # wrk latency like 812.00us / 1.23ms / 1.01s
    python3 -c '
import re, sys
m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", sys.argv[1])
if not m:
    sys.exit("unparseable latency: " + sys.argv[1])
print(round(float(m[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m[2]], 3))' "$1"
}

run_trials() { # uses VARIANTS and run_wrk; sets ROWS and FAILED
    local variant trial shift_by out order
    if [[ "$WARMUP" != 0s && "$WARMUP" != 0 ]]; then
        echo "== warm-up: $WARMUP per variant (not recorded)"
        for variant in "${VARIANTS[@]}"; do
            run_wrk "$variant" "$WARMUP" "$WORK/warmup.txt"
        done
    fi

    ROWS="$WORK/rows.tsv"
    printf 'trial\tvariant\treq_per_s\tp50_ms\tp99_ms\tnon_2xx\tsocket_errors\tother_cpu_pct\tsteal_pct\tservers_us_per_req\twrk_us_per_req\n' >"$ROWS"
    FAILED=0
    for trial in $(seq 1 "$TRIALS"); do
        # Rotate the order each trial so no variant always runs first or last.
        shift_by=$(((trial - 1) % ${#VARIANTS[@]}))
        order=("${VARIANTS[@]:shift_by}" "${VARIANTS[@]:0:shift_by}")
        echo "== trial $trial/$TRIALS: ${order[*]} (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION)"
        for variant in "${order[@]}"; do
            out="$WORK/wrk-$trial-${variant//\//-}.txt"
            run_one "$trial" "$variant" "$out"
        done
    done
    if [[ -n "$RESULTS" ]]; then
        cp "$ROWS" "$RESULTS"
    fi
}

cpu_begin() { # start the "other CPU" accounting of one measured command
    children_ms
    CPU_WRK_BEFORE="$CHILD_MS"
    read -r CPU_BUSY_BEFORE CPU_STEAL_BEFORE < <(cpu_jiffies)
    CPU_OURS_BEFORE="$(ours_jiffies)"
    CPU_STARTED="$(date +%s%N)"
}

cpu_end() { # sets OTHER_CPU and STEAL (percent of all CPUs), SERVERS_MS and WRK_MS (CPU ms) since cpu_begin
    local elapsed_ms busy_after steal_after ours_ms busy_ms steal_ms
    children_ms
    elapsed_ms=$((($(date +%s%N) - CPU_STARTED) / 1000000))
    read -r busy_after steal_after < <(cpu_jiffies)
    SERVERS_MS=$((($(ours_jiffies) - CPU_OURS_BEFORE) * 1000 / HZ))
    WRK_MS=$((CHILD_MS - CPU_WRK_BEFORE))
    ours_ms=$((SERVERS_MS + WRK_MS))
    busy_ms=$(((busy_after - CPU_BUSY_BEFORE) * 1000 / HZ))
    steal_ms=$(((steal_after - CPU_STEAL_BEFORE) * 1000 / HZ))
    OTHER_CPU=$(((busy_ms - ours_ms) * 100 / (elapsed_ms * NCPU)))
    if ((OTHER_CPU < 0)); then
        OTHER_CPU=0
    fi
    STEAL=$((steal_ms * 100 / (elapsed_ms * NCPU)))
}

run_one() { # trial variant output: one measured wrk run, its line and its row
    local trial="$1" variant="$2" out="$3"
    local other_cpu steal rps p50 p99 non2xx socket_errors requests server_us wrk_us
    cpu_begin
    run_wrk "$variant" "$WRK_DURATION" "$out"
    cpu_end
    other_cpu="$OTHER_CPU"
    steal="$STEAL"
    rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
    requests="$(awk '/ requests in / {print $1}' "$out")"
    p50="$(awk '$1 == "50%" {print $2}' "$out")"
    p99="$(awk '$1 == "99%" {print $2}' "$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
    socket_errors="$(sed -n 's/^ *Socket errors: *//p' "$out")"
    if [[ -z "$rps" || -z "$p50" || -z "$p99" || -z "$requests" || "$requests" == 0 ]]; then
        echo "error: could not parse wrk output for $variant:" >&2
        cat "$out" >&2
        exit 1
    fi
    p50="$(to_ms "$p50")"
    p99="$(to_ms "$p99")"
    # CPU per request: what the servers and their Redis spent (the cost of
    # a request, whatever generates it) and what wrk spent (on loopback the
    # sender's kernel also does the receiver's TCP work, so a bigger request
    # costs the generator too). Clock-tick resolution: +-10 ms per run.
    server_us=$((SERVERS_MS * 1000000 / requests))
    wrk_us=$((WRK_MS * 1000000 / requests))
    server_us="$((server_us / 1000)).$(printf '%03d' $((server_us % 1000)))"
    wrk_us="$((wrk_us / 1000)).$(printf '%03d' $((wrk_us % 1000)))"
    printf "   %-${VARIANT_WIDTH:-16}s %10s req/s  p50 %8s ms  p99 %8s ms  servers %6s us/req  wrk %6s us/req  other CPU %3s%%  steal %3s%%" \
        "$variant" "$rps" "$p50" "$p99" "$server_us" "$wrk_us" "$other_cpu" "$steal"
    if [[ -n "$non2xx" ]]; then
        printf '  NON-2xx: %s' "$non2xx"
        FAILED=1
    fi
    if [[ -n "$socket_errors" ]]; then
        printf '  socket errors: %s' "$socket_errors"
        FAILED=1
    fi
    printf '\n'
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$trial" "$variant" "$rps" "$p50" "$p99" \
        "${non2xx:-0}" "${socket_errors:-none}" "$other_cpu" "$steal" "$server_us" "$wrk_us" >>"$ROWS"
}

print_summary() { # baseline variant, then targets "variant=min_ratio=label"
    echo
    echo "== summary: $TRIALS trial(s), wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency, $WORKERS workers per server, $(nproc) CPUs"
    python3 - "$ROWS" "${VARIANTS[*]}" "$@" <<'PY'
import csv, statistics, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
order = sys.argv[2].split()
baseline = sys.argv[3]
targets = [t.split("=", 2) for t in sys.argv[4:]]
by = {v: [r for r in rows if r["variant"] == v] for v in order}
med = lambda v, k: statistics.median(float(r[k]) for r in by[v])
base = med(baseline, "req_per_s")
# The same trial's runs are minutes apart at most; their ratio is the paired
# figure, less exposed to the VM's slow drifts than a ratio of medians.
def trial_ratios(v):
    base_by_trial = {r["trial"]: float(r["req_per_s"]) for r in by[baseline]}
    return [float(r["req_per_s"]) / base_by_trial[r["trial"]] for r in by[v]]
print(f"| variant | median req/s | min-max req/s | median p50 (ms) | median p99 (ms) | / {baseline} | per-trial ratio min-max "
      f"| servers CPU us/req | wrk CPU us/req | max other CPU | max steal |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for v in order:
    rps = [float(r["req_per_s"]) for r in by[v]]
    ratios = trial_ratios(v)
    print(f"| {v} | {med(v, 'req_per_s'):,.0f} | {min(rps):,.0f}-{max(rps):,.0f} "
          f"| {med(v, 'p50_ms'):.3f} | {med(v, 'p99_ms'):.3f} | {med(v, 'req_per_s') / base:.2f}x "
          f"| {min(ratios):.2f}-{max(ratios):.2f} "
          f"| {med(v, 'servers_us_per_req'):.2f} | {med(v, 'wrk_us_per_req'):.2f} "
          f"| {max(int(r['other_cpu_pct']) for r in by[v])}% | {max(int(r['steal_pct']) for r in by[v])}% |")
print()
for variant, minimum, label in targets:
    ratio = med(variant, "req_per_s") / base
    verdict = "met" if ratio >= float(minimum) else "NOT met"
    print(f"target {label} >= {minimum}x /{baseline}: {verdict} ({ratio:.2f}x; per-trial ratios "
          + ", ".join(f"{r:.2f}" for r in trial_ratios(variant)) + ")")
me = [v for v in order if v.startswith("me/")]
if me:
    best = max(me, key=lambda v: med(v, "req_per_s"))
    print(f"highest /me median: {best}")
disturbed = [r for r in rows if int(r["other_cpu_pct"]) > 10]
if disturbed:
    print(f"WARNING: {len(disturbed)} of {len(rows)} runs shared the CPUs with other work (>10% other CPU): "
          + ", ".join(f"trial {r['trial']} {r['variant']} {r['other_cpu_pct']}%" for r in disturbed)
          + "; treat the figures as noisy and rerun on a quiet machine")
else:
    print("no run was disturbed by other work (other CPU <= 10% in every run)")
PY
}

finish() { # fail if any run was invalid
    if [[ "$FAILED" != 0 ]]; then
        echo "FAIL: some runs got non-2xx/3xx responses or socket errors (see above); the figures are not valid" >&2
        exit 1
    fi
}
