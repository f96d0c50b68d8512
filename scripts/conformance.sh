#!/usr/bin/env bash
# The conformance suite (tests/conformance/): the official Huawei Cloud Python SDK, pinned in
# tests/conformance/requirements.txt, checks the simulator's answers and the exporter's requests,
# tables and metrics. Needs Python 3.11 and Rust; pip must reach PyPI the first time. Everything
# it installs or caches stays under target/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=target/conformance-venv
requirements=tests/conformance/requirements.txt
export PIP_CACHE_DIR="$PWD/target/pip-cache" PIP_DISABLE_PIP_VERSION_CHECK=1
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    echo "== conformance: venv with $(grep -c '==' "$requirements") pinned packages in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-deps --require-virtualenv -r "$requirements"
    "$venv/bin/python" -m pip check
    cp "$requirements" "$venv/requirements.txt"
fi

echo "== conformance: build"
cargo build --locked --quiet --bin codearts-repo-exporter --bin codearts-sim

echo "== conformance: run"
exec "$venv/bin/python" tests/conformance/run.py --bin-dir target/debug --repo-root .
