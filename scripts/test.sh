#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting, builds the normal
# and the sanitizer (ASan+UBSan) trees, runs unit tests under both and the functional
# tests against the normal build. Ends with one line: "N passed, N failed, N skipped".
#
# Usage: bash scripts/test.sh [--quick]   (--quick: skip the sanitizer tree)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick=0
[ "${1:-}" = "--quick" ] && quick=1

bash scripts/install-deps.sh || { echo "test: dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

failed_steps=()
step() {
	local name=$1
	shift
	echo "=== $name"
	if ! "$@"; then
		echo "=== $name: FAILED"
		failed_steps+=("$name")
		return 1
	fi
}

rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json

step "format check" bash scripts/check-format.sh

setup() {
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 ||
			meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; return 1; }
}

build_ok=1
step "configure build" setup build && step "compile build" ninja -C build || build_ok=0

asan_ok=0
if [ "$quick" = 0 ]; then
	asan_ok=1
	step "configure build-asan" setup build-asan -Db_sanitize=address,undefined -Db_lundef=false &&
		step "compile build-asan" ninja -C build-asan || asan_ok=0
fi

fuzz_ok=0
if [ "$quick" = 0 ]; then
	fuzz_ok=1
	CC=clang step "configure build-fuzz" setup build-fuzz -Dfuzz=true -Dtests=false &&
		step "compile build-fuzz" ninja -C build-fuzz || fuzz_ok=0
fi

# UBSan findings fail the test; LSan suppressions only cover DPDK's own start-up.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
if [ -f test/unit/lsan.supp ]; then
	export LSAN_OPTIONS=suppressions=$top/test/unit/lsan.supp:print_suppressions=0
fi

if [ "$asan_ok" = 1 ]; then
	echo "=== unit tests (ASan+UBSan)"
	meson test -C build-asan --suite unit --print-errorlogs --num-processes 2
fi
if [ "$fuzz_ok" = 1 ]; then
	echo "=== fuzz targets (libFuzzer, brief runs)"
	meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2
fi
if [ "$build_ok" = 1 ]; then
	echo "=== all tests"
	meson test -C build --print-errorlogs --num-processes 1
fi

if [ "${#failed_steps[@]}" -gt 0 ]; then
	echo "failed steps: ${failed_steps[*]}"
fi
# One summary line over every tree that ran.
/usr/bin/python3 - "$quick" "${#failed_steps[@]}" <<'PY'
import json, os, sys
quick, failed_steps = int(sys.argv[1]), int(sys.argv[2])
passed = failed = skipped = 0
for d in ("build-asan", "build-fuzz", "build"):
    log = os.path.join(d, "meson-logs", "testlog.json")
    if (d != "build" and quick) or not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
# A step that failed outside meson (format check, configure, compile) is one failure each.
failed += failed_steps
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
