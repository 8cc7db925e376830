#!/usr/bin/env bash
# Fuzzes the JWT verifier and the session cookie path with cargo-fuzz
# (libFuzzer) for a bounded time per target, then prints, per target, the
# executions run, their rate, the coverage reached and whether it crashed.
# Not part of `cargo test` or CI: a run takes minutes and needs nightly.
#
#   scripts/fuzz.sh                      # both targets, FUZZ_SECONDS (120) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh     # the run in docs/performance.md
#   scripts/fuzz.sh token_verifier       # one target
#
# FUZZ_SANITIZER (default `none`): the code under test is safe Rust (the
# workspace denies `unsafe`) and the C inside aws-lc is not instrumented
# either way, so AddressSanitizer would mostly slow the run down; panics,
# overflows (checked in this build) and aborts are crashes without it. Set
# FUZZ_SANITIZER=address to run with it anyway.
#
# Inputs: fuzz/seeds/<target>/ (committed; `cargo run -p fuzz-harness --bin
# fuzz-seeds` rewrites them) and fuzz/regressions/<target>/ are read; what
# libFuzzer adds goes to fuzz/corpus/<target>/ (ignored by git, kept between
# runs). A crash leaves its input in fuzz/artifacts/<target>/, the script
# exits 1 and prints the path; copying that file into
# fuzz/regressions/<target>/ makes it a regression test of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-120}"
sanitizer="${FUZZ_SANITIZER:-none}"
if [ $# -gt 0 ]; then targets=("$@"); else targets=(token_verifier session_cookie); fi

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "cargo fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

echo "building the fuzz targets (nightly, release, sanitizer $sanitizer)" >&2
cargo +nightly fuzz build --sanitizer "$sanitizer"

crashed=()
summary=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" fuzz/logs
  echo "fuzzing $target for ${seconds}s (log: $log)" >&2
  status=0
  cargo +nightly fuzz run --sanitizer "$sanitizer" "$target" \
    "$corpus" "fuzz/seeds/$target" "fuzz/regressions/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?

  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
  rate=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
  artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ] || [ -n "$artifact" ]; then
    result="CRASH (exit $status) ${artifact:-no artifact; see $log}"
    crashed+=("$target")
  else
    result="no crash"
  fi
  summary+=("$(printf '%-16s execs %-12s exec/s %-8s cov %-6s ft %-7s corpus %-12s %s' \
    "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo
echo "fuzzing, ${seconds}s per target, sanitizer $sanitizer:"
printf '%s\n' "${summary[@]}"
if [ ${#crashed[@]} -gt 0 ]; then
  echo "crashed: ${crashed[*]}; reproduce with: cargo +nightly fuzz run --sanitizer $sanitizer <target> <artifact>" >&2
  exit 1
fi
