#!/usr/bin/env bash
# Regenerate the configuration table in README.md from the code's option table
# (`kilnctl config --markdown`). tests/integration/test_docs.py fails when the
# two differ, so run this (or `just readme`) after adding an option.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kilnctl=${1:-$root/build/release/kilnctl/kilnctl}
"$kilnctl" config --markdown | python3 -c '
import sys
table = sys.stdin.read()
path = sys.argv[1]
s = open(path).read()
a = s.index("| Variable | File key |")
b = s.index("\n## Building by hand")
open(path, "w").write(s[:a] + table + s[b:])
' "$root/README.md"
