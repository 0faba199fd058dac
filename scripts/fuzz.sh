#!/usr/bin/env bash
# Runs every cargo-fuzz target of the engine for a bounded time each.
#   scripts/fuzz.sh [SECONDS]   (default 60 per target)
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer needs nightly
# compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them.
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a
# regression test in crates/engine/src/fuzzing.rs (see its tests).
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${COFFER_FUZZ_TARGET_DIR:-$root/fuzz/target}"
targets=$(cargo fuzz list)
failed=()
for target in $targets; do
    echo "== $target ($seconds s)"
    mkdir -p "corpus/$target"
    if ! cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
echo "all targets ran ${seconds}s without a finding"
