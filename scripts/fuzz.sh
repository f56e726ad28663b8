#!/usr/bin/env bash
# Build and run the libFuzzer targets (tests/fuzz).
#   scripts/fuzz.sh TARGET SECONDS     one target, growing its corpus under .kiln/fuzz/
#   scripts/fuzz.sh all SECONDS        every target, SECONDS each (what CI runs briefly)
# A crash leaves its input in .kiln/fuzz/TARGET/; turn it into a unit test case.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${1:?usage: scripts/fuzz.sh TARGET|all SECONDS}
secs=${2:-60}

need=()
command -v clang >/dev/null || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libclang-rt-14-dev)
if ((${#need[@]})); then
  echo "fuzz: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
scripts/deps.sh build >/dev/null
if [ ! -f build/fuzz/build.ninja ]; then
  CC=clang meson setup build/fuzz -Dfuzz=true -Db_sanitize=address,undefined -Doptimization=1 \
    -Ddebug=true -Db_lundef=false >/dev/null
fi
ninja -C build/fuzz >/dev/null

run_one() {
  local t=$1 work=.kiln/fuzz/$1
  mkdir -p "$work/corpus"
  echo "fuzz: $t for ${secs}s"
  build/fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "tests/fuzz/corpus/$t" 2>"$work/last.log" ||
    { tail -40 "$work/last.log"; echo "fuzz: $t FAILED (input in $work/)"; return 1; }
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/last.log" | tr '\n' ' '
  echo
}

if [ "$target" = all ]; then
  rc=0
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    run_one "$t" || rc=1
  done
  exit $rc
fi
run_one "$target"
