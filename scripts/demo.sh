#!/usr/bin/env bash
# `make demo`: run the main job on the bundled sample session and say where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SESSION=samples/sessions/example-rooms
CLAIMS=samples/claims/example-rooms.yaml
OUT=out/demo
mkdir -p "$OUT"

echo "== confaudit analyze $SESSION"
"$BIN/confaudit" analyze "$SESSION" --json "$OUT/evidence.json" --parquet "$OUT/parquet"

echo
echo "== confaudit check (CI gate; exit 1 means a claim at or above --fail-on is contradicted)"
set +e
"$BIN/confaudit" check "$SESSION" --claims "$CLAIMS" --fail-on high \
  --sarif "$OUT/results.sarif" --junit "$OUT/junit.xml" --markdown "$OUT/summary.md" --json "$OUT/findings.json"
gate=$?
set -e
echo "(check exited $gate)"

echo
echo "== confaudit report"
"$BIN/confaudit" report "$SESSION" --claims "$CLAIMS" --out "$OUT/audit.html"

echo
echo "Evidence bundle: $(pwd)/$OUT/evidence.json"
echo "CI outputs:      $(pwd)/$OUT/results.sarif, junit.xml, summary.md"
echo "HTML report:     $(pwd)/$OUT/audit.html"
