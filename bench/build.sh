#!/usr/bin/env bash
# bench/build.sh: what does Kiln's sandbox cost on top of the build itself?
#
#   bench/build.sh [ROUNDS] [IMAGE]   (defaults: 5 rounds, the current recipe's image)
#
# Builds one small generated C-extension sdist (a module linking libexpat, so
# auditwheel repair grafts a library) two ways, alternating, ROUNDS times:
#   kiln  kiln-builder build-local --no-prefetch: volume + keeper + build
#         container, input archive in, the build driver (requires, build,
#         repair, import check), result and wheels out, everything removed;
#   bare  one `docker run --rm --network none --user 1000:1000` of the same
#         image running the same driver on the same sdist in a host directory,
#         the wheel left in that directory.
# Prints each run's wall time and the median of both, and their ratio (the
# target: kiln <= 1.2 x bare), and Kiln's host side: its wall time minus the
# build container's run time (the steps in the container are the same in both). Uses build/release's kiln-builder
# (KILN_BENCH_BUILD=build/test for the sanitizer build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=${1:-5}
image=${2:-$(scripts/image.sh name)}
builder=${KILN_BENCH_BUILD:-build/release}/builder/kiln-builder
[[ -x $builder ]] || { echo "build.sh: no $builder (just build)" >&2; exit 1; }
docker image inspect "$image" >/dev/null 2>&1 || { echo "build.sh: no image $image (scripts/image.sh build)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-build.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
src=$tmp/kbench-1.0
mkdir -p "$src"
printf 'Metadata-Version: 2.1\nName: kbench\nVersion: 1.0\n' >"$src/PKG-INFO"
cat >"$src/setup.py" <<'PY'
from setuptools import Extension, setup
setup(name="kbench", version="1.0",
      ext_modules=[Extension("kbench", ["kbench.c"], libraries=["expat"])])
PY
cat >"$src/kbench.c" <<'C'
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <expat.h>
static PyObject *v(PyObject *s, PyObject *a) { (void)s; (void)a; return PyUnicode_FromString(XML_ExpatVersion()); }
static PyMethodDef m[] = {{"version", v, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "kbench", "", -1, m, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_kbench(void) { return PyModule_Create(&d); }
C
tar -C "$tmp" -czf "$tmp/kbench-1.0.tar.gz" kbench-1.0
driver=$(cat builder/driver/kiln_build.py)

now() { date +%s.%N; }
kiln=() bare=() over=()
for ((i = 1; i <= rounds; i++)); do
    rm -rf "$tmp/out" && mkdir "$tmp/out"
    t0=$(now)
    "$builder" build-local --owner kiln-bench --image "$image" --no-prefetch \
        --sdist "$tmp/kbench-1.0.tar.gz" --out "$tmp/out" >"$tmp/kiln.log" 2>&1 ||
        { tail -30 "$tmp/kiln.log"; exit 1; }
    t1=$(now)
    ls "$tmp/out"/kbench-1.0-cp311-cp311-*manylinux*.whl >/dev/null
    rm -rf "$tmp/work" && mkdir -p "$tmp/work/src" "$tmp/work/out" "$tmp/work/job-wheels"
    cp "$tmp/kbench-1.0.tar.gz" "$tmp/work/src/"
    chown -R 1000:1000 "$tmp/work"
    t2=$(now)
    docker run --rm --network none --user 1000:1000 --tmpfs /tmp:exec -v "$tmp/work:/work" \
        -e PIP_NO_INDEX=1 -e HOME=/tmp -e "PIP_FIND_LINKS=/opt/kiln/wheels /work/job-wheels" \
        "$image" python3 -I -c "$driver" --src /work/src/kbench-1.0.tar.gz --round 1 \
        >"$tmp/bare.log" 2>&1 || { tail -30 "$tmp/bare.log"; exit 1; }
    t3=$(now)
    ls "$tmp/work/out"/kbench-1.0-cp311-cp311-*manylinux*.whl >/dev/null
    k=$(echo "$t1 - $t0" | bc) b=$(echo "$t3 - $t2" | bc)
    # The build container's own run time, as build-local reports it: the rest is
    # Kiln's host side (volume, keeper, archives in and out, cleanup).
    ms=$(sed -n 's/^exit code: .*, duration: \([0-9]*\) ms.*/\1/p' "$tmp/kiln.log")
    o=$(echo "$k - $ms / 1000" | bc -l)
    kiln+=("$k") bare+=("$b") over+=("$o")
    printf 'round %d: kiln %.2f s (host side %.2f s), bare docker run %.2f s\n' "$i" "$k" "$o" "$b"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mk=$(median "${kiln[@]}") mb=$(median "${bare[@]}") mo=$(median "${over[@]}")
printf 'median: kiln %.2f s (host side %.2f s), bare %.2f s, ratio %.3f\n' "$mk" "$mo" "$mb" \
    "$(echo "$mk / $mb" | bc -l)"
