#!/usr/bin/env bash
# Tests scripts/check-release.sh on broken copies of release artifacts made by release.sh: each
# must fail, naming what is wrong. (release.sh itself checks the intact ones.)
#
#   scripts/test-release-check.sh [DIR]     (default DIR: target/release-artifacts)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

artifacts=${1:-target/release-artifacts}
[[ -f "$artifacts/sha256sums.txt" ]] || {
    echo "test-release-check: no artifacts in $artifacts: run scripts/release.sh first" >&2
    exit 1
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# expect_rejected NAME TEXT BREAK: copies the artifacts, runs BREAK in the copy, and requires
# check-release.sh to fail with TEXT in its output.
expect_rejected() {
    local name=$1 text=$2 break_it=$3 copy="$work/$1"
    cp -r "$artifacts" "$copy"
    (cd "$copy" && eval "$break_it")
    if scripts/check-release.sh --arch amd64 "$copy" >"$copy.log" 2>&1; then
        echo "FAIL $name: check-release.sh passed"
        failed=$((failed + 1))
    elif ! grep -qF -- "$text" "$copy.log"; then
        echo "FAIL $name: check-release.sh failed without saying \"$text\":"
        cat "$copy.log"
        failed=$((failed + 1))
    else
        echo "ok   $name: $(grep -F -- "$text" "$copy.log" | head -n 1)"
        passed=$((passed + 1))
    fi
}

amd64="$(cd "$artifacts" && ls -- *.linux-amd64.tar.gz)"
top="${amd64%.tar.gz}"

expect_rejected tampered_tarball_fails_its_checksum "$amd64: FAILED" \
    "printf x >>'$amd64'"
expect_rejected tarball_without_license_fails_even_with_a_fresh_checksum "-$top/LICENSE" \
    "mkdir x && tar -xzf '$amd64' -C x && rm 'x/$top/LICENSE' && tar -C x -czf '$amd64' '$top' && rm -r x && sha256sum -- *.tar.gz >sha256sums.txt"
expect_rejected tarball_missing_from_the_checksums_fails "sha256sums.txt lists" \
    "cp '$amd64' extra.tar.gz"
expect_rejected checksums_file_missing_fails "sha256sums.txt is missing" \
    "rm sha256sums.txt"

echo "release-check: $passed passed, $failed failed"
((failed == 0))
