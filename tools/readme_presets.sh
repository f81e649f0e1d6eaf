#!/bin/sh
# Rewrites the README's preset table (between <!-- presets:start --> and <!-- presets:end -->) from
# `hookguard providers --markdown`; a test keeps the two identical.
set -eu
cd "$(dirname "$0")/.."
table=$(mktemp)
cargo run --quiet -- providers --markdown > "$table"
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read()
readme = open("README.md").read()
start, end = "<!-- presets:start -->\n", "<!-- presets:end -->"
head, rest = readme.split(start, 1)
_, tail = rest.split(end, 1)
open("README.md", "w").write(head + start + table + end + tail)
PY
rm -f "$table"
