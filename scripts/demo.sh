#!/usr/bin/env bash
# `make demo`: run the main job on the bundled sample session, audit the bundled real captures of the
# founding article's vendors, and say where the reports are.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SESSION=samples/sessions/example-rooms
CLAIMS=samples/claims/example-rooms.yaml
OUT=out/demo
mkdir -p "$OUT/real"

if [ "${DEMO_RECORD:-0}" = 1 ]; then  # `DEMO_RECORD=1 make demo`: record the lab call fresh (about 30 s)
  rm -rf "$OUT/recorded-session"
  echo "== confaudit run samples/scenarios/lab-p2p.yaml (Debian's chromium, lab room service on loopback)"
  "$BIN/confaudit" run samples/scenarios/lab-p2p.yaml --out "$OUT/recorded-session"
  SESSION="$OUT/recorded-session"
  CLAIMS=samples/scenarios/example-rooms-lab-claims.yaml
  echo
fi

echo "== confaudit analyze $SESSION"
"$BIN/confaudit" analyze "$SESSION" --entity-list samples/claims/example-rooms.entities.json \
  --json "$OUT/evidence.json" --parquet "$OUT/parquet"

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
echo "== confaudit compare: real public captures of the founding article's vendors (samples/captures, LGPL-3.0, from nDPI)"
C=samples/captures
"$BIN/confaudit" compare \
  "Zoom=$C/zoom2.pcap" "Skype=$C/skype-conference-call.pcap" "WhatsApp=$C/whatsapp_login_call.pcap" \
  "Messenger Rooms=$C/stun.pcap" "Google Meet=$C/stun_google_meet.pcapng" "Microsoft Teams=$C/teams.pcap" \
  --claims-dir samples/claims --out "$OUT/real/comparison.html" --markdown "$OUT/real/comparison.md" \
  --json "$OUT/real/comparison.json"

echo
echo "Evidence bundle:  $(pwd)/$OUT/evidence.json"
echo "CI outputs:       $(pwd)/$OUT/results.sarif, junit.xml, summary.md"
echo "HTML report:      $(pwd)/$OUT/audit.html"
echo "Real captures:    $(pwd)/$OUT/real/comparison.html (one audit-<vendor>.html per vendor beside it;"
echo "                  every verdict checked by hand in docs/real-captures.md)"
