#!/usr/bin/env bash
# The arm64 (Kunpeng) smoke run: cross-builds the release binary for aarch64-unknown-linux-gnu,
# then runs it under qemu-aarch64: `--version` must name Cargo.toml's version and this checkout's
# revision, and a `--demo` scrape must show every repository of the demo simulator — the same
# list as the amd64 binary's when one is given.
#
#   scripts/arm64-smoke.sh [--same-as FILE]
#
# FILE is a list written by `demo_scrape.py --write-list` (or the image replay's --write-list)
# from an amd64 run. Installs, when missing: the rustup target, Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user (apt-get, as root). If rustup refuses the target outright,
# it prints a line saying so and exits 0 without testing; any other failure fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

same_as=()
while (($# > 0)); do
    case "$1" in
        --same-as)
            same_as=(--same-as "$2")
            shift 2
            ;;
        *)
            echo "usage: $0 [--same-as FILE]" >&2
            exit 2
            ;;
    esac
done

target=aarch64-unknown-linux-gnu
status=0
add_rust_target "$target" || status=$?
if ((status == 2)); then
    echo "arm64 smoke: SKIPPED: rustup refused to add $target (see its message above); nothing was built or run for arm64"
    exit 0
elif ((status != 0)); then
    echo "arm64 smoke: FAILED: could not add the rustup target $target" >&2
    exit 1
fi
ensure_arm64_tools

echo "arm64 smoke: cargo build --release --target $target"
started=$SECONDS
binary="$(build_release "$target")"
echo "arm64 smoke: built $binary in $((SECONDS - started)) s"

# qemu-user runs the binary with the arm64 C library of libc6-arm64-cross as its root.
run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$binary")
version_line="$("${run[@]}" --version)"
echo "arm64 smoke: --version under qemu-aarch64: $version_line"
for wanted in "$(package_version)" "$(git rev-parse HEAD)"; do
    if [[ "$version_line" != *"$wanted"* ]]; then
        echo "arm64 smoke: FAILED: --version does not show $wanted" >&2
        exit 1
    fi
done

python3 scripts/demo_scrape.py --timeout 120 "${same_as[@]}" \
    --expect-version "$(package_version)" --expect-revision "$(git rev-parse HEAD)" -- "${run[@]}"
echo "arm64 smoke: passed"
