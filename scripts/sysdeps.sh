#!/usr/bin/env bash
# Install the Debian packages the tests and reports use, when missing. Idempotent; no-op when
# everything is present. Needs root (CI and the dev machines run as root) and Debian's apt.
set -euo pipefail
want=()
command -v tshark >/dev/null 2>&1 || want+=(tshark)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || want+=(firefox-esr)
command -v tmux >/dev/null 2>&1 || want+=(tmux)
command -v certutil >/dev/null 2>&1 || want+=(libnss3-tools)  # NSS databases for the browser recipe test and Firefox scenario participants
# real G.729 and GSM encoders for the codec-recognition tests (libraries, so ask dpkg)
dpkg -s libbcg729-0 >/dev/null 2>&1 || want+=(libbcg729-0)
dpkg -s libgsm1 >/dev/null 2>&1 || want+=(libgsm1)
# nDPI's ndpiReader: the flow-classification peer of `make bench` (benchmarks/bench_analyze.py)
command -v ndpiReader >/dev/null 2>&1 || want+=(libndpi-bin)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sysdeps: missing ${want[*]} and cannot install them (need root and apt-get); tests that need them will skip" >&2
  exit 0
fi
echo "sysdeps: installing ${want[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${want[@]}" >/dev/null
