#!/usr/bin/env bash
# `just test`: build the test flavour, run the unit and integration suites,
# and print their counts. Installs what it needs (scripts/deps.sh test).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

just build-test || exit 1
# The integration tests drive the release binaries, as a user would.
just build || exit 1

# The Docker images the integration suites need (the default target's, the
# compose farm's, the small ones of tests/targets-min.txt for test_images.py)
# take minutes of debootstrap on a new machine, mostly waiting on the network:
# build them while the unit and fuzz runs use the CPU. The suites build them
# themselves if this fails (it is then reported, and they fail or skip); a
# suite that needs an image still being built waits for that build
# (scripts/image.sh holds a lock per recipe). Each image's log:
# .kiln/logs/test-image-NAME.log; one line per image in test-images.log.
mkdir -p .kiln/logs
min_targets=tests/targets-min.txt
prebuild() {  # prebuild NAME [TARGETS_FILE]: build one image, say how it went
  local t0=$SECONDS log=.kiln/logs/test-image-$1.log
  if KILN_TARGETS_FILE=${2:-} scripts/image.sh build "$1" >"$log" 2>&1; then
    echo "image $1: ok in $((SECONDS - t0))s ($(tail -n 2 "$log" | head -n 1 | sed 's/^image: //'))"
  else
    echo "image $1: FAILED after $((SECONDS - t0))s (log $log):"
    tail -n 5 "$log" | sed 's/^/  /'
    return 1
  fi
}
# The emulated aarch64 image on its own: the slowest (several minutes), and
# only test_images.py needs it, so the run does not wait for it. Emulation is
# enabled for it if it can be (root); else that test skips.
: >.kiln/logs/test-images.log
host=$(uname -m)
while read -r t arch; do
  if scripts/emulation.sh status "$arch" >/dev/null || scripts/emulation.sh enable "$arch" >/dev/null 2>&1; then
    prebuild "$t" $min_targets >>.kiln/logs/test-images.log 2>&1 &
  fi
done < <(awk -v h="$host" '!/^#/ && NF && $4 != h { print $1, $4 }' $min_targets)
# The default target's image and the compose farm's, which most suites need,
# then the small ones: the integration suites start once the first two are
# there (test-images.ready says so); test_images.py, which needs the small
# ones, waits for their builds if they are still running.
ready=.kiln/logs/test-images.ready
rm -f $ready
(
  rc=0
  prebuild "$(scripts/image.sh list | awk 'NR == 1 { print $1 }')" || rc=1
  if command -v docker-compose >/dev/null; then
    scripts/deploy.sh images >.kiln/logs/test-image-compose.log 2>&1 &&
      echo "images of the compose farm: ok" || { echo "images of the compose farm: FAILED (.kiln/logs/test-image-compose.log)"; rc=1; }
  fi
  echo $rc >$ready
  for t in $(awk -v h="$host" '!/^#/ && NF && $4 == h { print $1 }' $min_targets); do
    prebuild "$t" $min_targets
  done
  exit $rc
) >>.kiln/logs/test-images.log 2>&1 &
images_pid=$!

unit_out=$(tests/unit/run.sh build/test)
unit_rc=$?
echo "$unit_out"

# The libFuzzer targets, briefly (just fuzz TARGET SECONDS runs one for longer).
fuzz_out=$(just fuzz-ci 2>&1)
fuzz_rc=$?
echo "$fuzz_out" | grep -E '^fuzz:' || true
fuzz_p=$(grep -c '^stat::number_of_executed_units' <<<"$fuzz_out" || true)
fuzz_f=$(grep -c 'FAILED' <<<"$fuzz_out" || true)

# Memcheck, briefly (`just valgrind` runs more suites): every unit program, and
# the backend under valgrind through the upload and builder-channel suites.
vg_out=$(tests/valgrind.sh tests/integration/test_upload.py tests/integration/test_channel.py 2>&1)
vg_rc=$?
vu=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' <<<"$vg_out")
read -r vg_up vg_uf <<<"${vu:-0 1}"
vg_py=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' <<<"$vg_out" | tail -1)  # pytest's summary
vg_ip=$(grep -oE '[0-9]+ passed' <<<"$vg_py" | cut -d' ' -f1)
vg_if=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$vg_py" | awk '{s += $1} END {print s + 0}')
vg_p=$((vg_up + ${vg_ip:-0}))
vg_f=$((vg_uf + vg_if))
if [ $vg_rc -ne 0 ] && [ $vg_f -eq 0 ]; then vg_f=1; fi
if [ $vg_rc -ne 0 ]; then
  echo "valgrind: failures:"
  grep -vE '^(\.|s)*( *\[ *[0-9]+%\])?$' <<<"$vg_out" | tail -n 60
fi

while [ ! -s $ready ] && kill -0 "$images_pid" 2>/dev/null; do sleep 2; done
if [ "$(cat $ready 2>/dev/null)" != 0 ]; then
  echo "images: building some failed; the Docker suites will try again (.kiln/logs/test-images.log):"
  tail -n 15 .kiln/logs/test-images.log
fi
grep -E '^image' .kiln/logs/test-images.log | sed 's/^/images: /' || true

# The report stays in .kiln/logs/integration.xml: what each test took (the
# slowest are printed below), to keep `just test` within its 40 minutes.
report=.kiln/logs/integration.xml
.kiln/venv/bin/python -m pytest tests/integration -q --junitxml="$report" "$@"
int_rc=$?

read -r ip if is < <(.kiln/venv/bin/python - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PY
)
.kiln/venv/bin/python - "$report" <<'PY' || true
import sys, xml.etree.ElementTree as ET
try:
    cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
except Exception:
    sys.exit()
rows = sorted(((float(c.get("time", 0)), c.get("classname", "") + "::" + c.get("name", "")) for c in cases),
              reverse=True)
print("slowest integration tests (all: %d, %.0f s):" % (len(rows), sum(t for t, _ in rows)))
for t, name in rows[:15]:
    print("  %6.1f s  %s" % (t, name))
PY
wait  # the image builds still running (test_images.py waited for those it needed)
up=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' <<<"$unit_out")
read -r unit_p unit_f <<<"${up:-0 1}"

echo ""
echo "unit: $unit_p passed, $unit_f failed"
echo "fuzz: $fuzz_p passed, $fuzz_f failed"
echo "valgrind: $vg_p passed, $vg_f failed"
echo "integration: $ip passed, $if failed, $is skipped"
echo "total: $((unit_p + fuzz_p + vg_p + ip)) passed, $((unit_f + fuzz_f + vg_f + if)) failed"
[ $unit_rc -eq 0 ] && [ $fuzz_rc -eq 0 ] && [ $vg_rc -eq 0 ] && [ $int_rc -eq 0 ]
