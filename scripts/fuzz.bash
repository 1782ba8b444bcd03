#!/usr/bin/env bash
# Fuzzes LinkRing's parsers with libFuzzer (swiftc -sanitize=fuzzer,address).
#
#   scripts/fuzz.bash [--seconds N] [TARGET…]     TARGET: http query log (default: all three)
#
# Each target is Fuzz/<Name>Fuzz.swift compiled with Sources/LinkRingCore into one binary under
# .build/fuzz/. It starts from the committed seeds in Fuzz/corpus/TARGET and grows a working
# corpus in .build/fuzz/corpus-TARGET (kept between runs, not committed). A crash or a broken
# property stops the run, leaves the reproducing input in .build/fuzz/crash-*, and fails the
# script: turn that input into a regression test (a unit test or a seed) before fixing it.
# The test suite runs 15 s per target; a long run: scripts/fuzz.bash --seconds 3600.
set -euo pipefail
source "$(dirname "$0")/lib/common.bash"
cd "$LINKRING_ROOT"

seconds=15
targets=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    http | query | log) targets+=("$1"); shift ;;
    *) echo "usage: scripts/fuzz.bash [--seconds N] [http|query|log]…" >&2; exit 2 ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(http query log)

source_of() {
    case $1 in
    http) echo Fuzz/HTTPRequestFuzz.swift ;;
    query) echo Fuzz/QueryFuzz.swift ;;
    log) echo Fuzz/LogRecordFuzz.swift ;;
    esac
}

mkdir -p .build/fuzz
mapfile -t core_sources < <(find Sources/LinkRingCore -name '*.swift' | sort)  # every folder of Core
failed=0
for target in "${targets[@]}"; do
    binary=.build/fuzz/fuzz-$target
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name LinkRingFuzz -package-name LinkRing \
        "${core_sources[@]}" "$(source_of "$target")" -o "$binary" 2> >(grep -v "Cannot export local symbol" >&2)
    corpus=.build/fuzz/corpus-$target
    mkdir -p "$corpus"
    echo "fuzzing $target for ${seconds}s"
    if "$binary" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=.build/fuzz/crash-"$target"- -print_final_stats=1 "$corpus" "Fuzz/corpus/$target" \
        >.build/fuzz/"$target".log 2>&1; then
        echo "PASS fuzz-$target: $(grep -o 'stat::number_of_executed_units: [0-9]*' .build/fuzz/"$target".log | awk '{print $2}') runs, no crash"
    else
        echo "FAIL fuzz-$target: see .build/fuzz/$target.log and .build/fuzz/crash-$target-*"
        grep -E "ERROR|Fatal|precondition|SUMMARY" .build/fuzz/"$target".log | head -5
        failed=$((failed + 1))
    fi
done
echo "$((${#targets[@]} - failed)) passed, $failed failed"
[[ $failed -eq 0 ]]
