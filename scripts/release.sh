#!/usr/bin/env bash
# Release artifacts, laid out as Prometheus' own release tarballs:
#
#   DIR/codearts-repo-exporter-<version>.linux-amd64.tar.gz
#   DIR/codearts-repo-exporter-<version>.linux-arm64.tar.gz
#   DIR/sha256sums.txt
#
# each tarball holding one top directory codearts-repo-exporter-<version>.linux-<arch>/ with the
# binary, LICENSE, README.md, RUNBOOK.md, examples/ (a config per auth mode) and dashboards/
# (the Grafana dashboard, recording rules and alerts). The version is Cargo.toml's; the binary
# carries this checkout's git revision (`--version`, codearts_repo_exporter_build_info). The
# archives are reproducible given the same binaries: sorted, owned by root, dated at the commit.
# Then scripts/check-release.sh checks them.
#
#   scripts/release.sh [--arch amd64,arm64] [--out DIR]     (default DIR: target/release-artifacts)
#
# arm64 is cross-compiled with Debian's gcc-aarch64-linux-gnu; this installs what it needs, as
# scripts/arm64-smoke.sh does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

arches=amd64,arm64
out=target/release-artifacts
while (($# > 0)); do
    case "$1" in
        --arch)
            arches=$2
            shift 2
            ;;
        --out)
            out=$2
            shift 2
            ;;
        *)
            echo "usage: $0 [--arch amd64,arm64] [--out DIR]" >&2
            exit 2
            ;;
    esac
done

version="$(package_version)"
revision="$(git rev-parse HEAD)"
epoch="$(git log -1 --format=%ct)"
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    echo "release: warning: the work tree has uncommitted changes; the binaries say revision $revision but are built from the changed files" >&2
fi
echo "release: codearts-repo-exporter $version, revision $revision, for $arches, into $out"

rm -rf "$out"
mkdir -p "$out/.stage"
IFS=, read -r -a arch_list <<<"$arches"
for arch in "${arch_list[@]}"; do
    target="$(rust_target "$arch")"
    if [[ "$arch" == arm64 ]]; then
        add_rust_target "$target" || {
            echo "release: FAILED: cannot add the rustup target $target" >&2
            exit 1
        }
        ensure_arm64_tools
    fi
    started=$SECONDS
    binary="$(build_release "$target")"
    echo "release: $arch binary built in $((SECONDS - started)) s"

    name="codearts-repo-exporter-$version.linux-$arch"
    stage="$out/.stage/$name"
    install -D -m 0755 "$binary" "$stage/codearts-repo-exporter"
    install -m 0644 LICENSE README.md RUNBOOK.md "$stage/"
    install -d -m 0755 "$stage/examples" "$stage/dashboards"
    install -m 0644 examples/*.yml "$stage/examples/"
    install -m 0644 dashboards/*.json dashboards/rules.yml dashboards/alerts.yml "$stage/dashboards/"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
        -C "$out/.stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
done
rm -rf "$out/.stage"
(cd "$out" && sha256sum -- *.tar.gz >sha256sums.txt)

echo "release: wrote"
(cd "$out" && ls -l -- *)
scripts/check-release.sh --arch "$arches" "$out"
