#!/usr/bin/env bash
# tests/valgrind.sh [PYTEST ARGS]: memcheck. Every unit test program, then
# integration suites with kiln-backend run under valgrind (default: the API,
# upload, builder-channel and dispatch suites), from a plain -O1 -g build in
# build/valgrind. An invalid access, a use of uninitialised memory or a definite
# leak fails the program or the test (valgrind exits 99; conftest.py checks).
# Prints the unit runner's "unit: ..." line and pytest's summary; exits non-zero
# if either failed. `just valgrind` runs it; `just test` runs a shorter list.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
command -v valgrind >/dev/null || scripts/deps.sh test >/dev/null || exit 1
[ -f build/valgrind/build.ninja ] || meson setup build/valgrind -Doptimization=1 -Ddebug=true >/dev/null || exit 1
ninja -C build/valgrind >/dev/null || exit 1

KILN_UNIT_WRAP="$vg" tests/unit/run.sh build/valgrind
unit_rc=$?
if [ $# -eq 0 ]; then
  set -- tests/integration/test_api.py tests/integration/test_upload.py \
         tests/integration/test_channel.py tests/integration/test_dispatch.py
fi
KILN_TEST_BUILD=build/valgrind KILN_TEST_WRAP="$vg" .kiln/venv/bin/python -m pytest -q -p no:cacheprovider "$@"
py_rc=$?
[ $unit_rc -eq 0 ] && [ $py_rc -eq 0 ]
