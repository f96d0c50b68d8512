#!/usr/bin/env bash
# Checks release artifacts made by scripts/release.sh against this checkout:
#
# - sha256sums.txt lists exactly the tarballs in DIR and every checksum matches;
# - each tarball for the asked architectures is named codearts-repo-exporter-<version>.linux-<arch>
#   (version: Cargo.toml's) and holds exactly that top directory with the binary, LICENSE,
#   README.md, RUNBOOK.md, docs/*.md, examples/*.yml, the dashboards and deploy/systemd/, with the
#   checkout's contents;
# - each binary is an ELF for its architecture, needs no glibc newer than 2.34, and its
#   --version shows the version and this checkout's revision (an arm64 one runs under
#   qemu-aarch64); the binary of this machine's architecture also serves a --demo scrape whose
#   build_info shows both.
#
#   scripts/check-release.sh [--arch amd64,arm64] DIR
#
# Exits non-zero naming the first file that is wrong.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

arches=amd64,arm64
dir=""
while (($# > 0)); do
    case "$1" in
        --arch)
            arches=$2
            shift 2
            ;;
        *)
            dir=$1
            shift
            ;;
    esac
done
if [[ -z "$dir" ]]; then
    echo "usage: $0 [--arch amd64,arm64] DIR" >&2
    exit 2
fi

fail() {
    echo "check-release: FAILED: $*" >&2
    exit 1
}

version="$(package_version)"
revision="$(git rev-parse HEAD)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[[ -f "$dir/sha256sums.txt" ]] || fail "$dir/sha256sums.txt is missing"
(cd "$dir" && sha256sum --check --strict sha256sums.txt) || fail "a checksum in $dir/sha256sums.txt does not match (see above)"
listed="$(awk '{ sub(/^\*/, "", $2); print $2 }' "$dir/sha256sums.txt" | sort)"
present="$(cd "$dir" && find . -maxdepth 1 -name '*.tar.gz' -printf '%f\n' | sort)"
[[ "$listed" == "$present" ]] || fail "sha256sums.txt lists [$listed] but $dir holds [$present]"

# The checkout's files each tarball carries besides the binary and the top-level documents.
shipped=(docs/*.md examples/*.yml dashboards/*.json dashboards/rules.yml dashboards/alerts.yml deploy/systemd/*)
host_arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
IFS=, read -r -a arch_list <<<"$arches"
for arch in "${arch_list[@]}"; do
    name="codearts-repo-exporter-$version.linux-$arch"
    tarball="$dir/$name.tar.gz"
    [[ -f "$tarball" ]] || fail "$tarball is missing"

    expected="$work/expected.$arch"
    {
        printf '%s/\n' "$name" "$name/docs" "$name/examples" "$name/dashboards" "$name/deploy" "$name/deploy/systemd"
        printf '%s\n' "$name/codearts-repo-exporter" "$name/LICENSE" "$name/README.md" "$name/RUNBOOK.md"
        for file in "${shipped[@]}"; do
            echo "$name/$file"
        done
    } | sed 's#/$##' | sort >"$expected"
    tar -tzf "$tarball" | sed 's#/$##' | sort >"$work/actual.$arch"
    diff -u "$expected" "$work/actual.$arch" >&2 ||
        fail "$tarball does not hold the expected files (- expected, + found above)"

    tar -xzf "$tarball" -C "$work"
    for file in LICENSE README.md RUNBOOK.md "${shipped[@]}"; do
        cmp -s "$file" "$work/$name/$file" || fail "$name/$file differs from this checkout's $file"
    done

    binary="$work/$name/codearts-repo-exporter"
    [[ -x "$binary" ]] || fail "$name/codearts-repo-exporter is not executable"
    machine="$(od -An -tu2 -j18 -N2 "$binary" | tr -d ' ')"
    case "$arch:$machine" in
        amd64:62 | arm64:183) ;;
        *) fail "$name/codearts-repo-exporter is not an ELF for $arch (e_machine $machine)" ;;
    esac

    # README "Install" promises glibc 2.34 (Debian 12, Ubuntu 22.04, RHEL 9, openEuler 22.03).
    newest_glibc="$(grep -ao 'GLIBC_2\.[0-9]*' "$binary" | sort -Vu | tail -n 1)"
    [[ "$(printf '%s\n' "$newest_glibc" GLIBC_2.34 | sort -V | tail -n 1)" == GLIBC_2.34 ]] ||
        fail "$name/codearts-repo-exporter needs $newest_glibc; the README promises glibc 2.34"

    run=("$binary")
    if [[ "$arch" != "$host_arch" ]]; then
        if ! command -v qemu-aarch64 >/dev/null 2>&1 || [[ "$arch" != arm64 ]]; then
            echo "check-release: $name: --version not run: no emulator for $arch on this $host_arch machine"
            continue
        fi
        run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$binary")
    fi
    line="$("${run[@]}" --version)" || fail "$name: --version failed"
    for wanted in "$version" "$revision"; do
        [[ "$line" == *"$wanted"* ]] || fail "$name: --version says '$line', without $wanted"
    done
    echo "check-release: $name: $line"
    if [[ "$arch" == "$host_arch" ]]; then
        python3 scripts/demo_scrape.py --expect-version "$version" --expect-revision "$revision" -- "$binary" ||
            fail "$name: the --demo scrape failed"
    fi
done
echo "check-release: $dir is complete and every checksum matches"
