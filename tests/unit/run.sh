#!/usr/bin/env bash
# Run every cmocka unit test program in a build dir and add up their counts.
# usage: tests/unit/run.sh BUILD_DIR
# KILN_UNIT_WRAP, if set, is a command each program runs under (`just valgrind`
# sets valgrind with --error-exitcode, so its findings fail the program).
# Prints each program's failures and a closing "unit: N passed, N failed" line;
# exits non-zero if any case failed or a program crashed (ASan/UBSan reports
# abort the program, which counts as a failure of the program).
set -uo pipefail

dir=${1:?usage: tests/unit/run.sh BUILD_DIR}
passed=0
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$dir"/tests/unit/test_*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  # shellcheck disable=SC2086 # the wrapper is a command line, split on purpose
  out=$(${KILN_UNIT_WRAP:-} "$t" 2>&1)
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' <<<"$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' <<<"$out" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ $rc -ne 0 ]; then
    echo "--- $(basename "$t") (exit $rc)"
    grep -E 'FAILED|ERROR|LINE|runtime error|AddressSanitizer|LeakSanitizer|^==[0-9]+== ' <<<"$out" | head -40
    [ -z "$f" ] && failed=$((failed + 1))
  fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
