#!/usr/bin/env bash
# Release artifacts, laid out as Prometheus' own release tarballs:
#
#   DIR/codearts-repo-exporter-<version>.linux-amd64.tar.gz
#   DIR/codearts-repo-exporter-<version>.linux-arm64.tar.gz
#   DIR/sha256sums.txt
#
# each tarball holding one top directory codearts-repo-exporter-<version>.linux-<arch>/ with the
# binary, LICENSE, README.md, RUNBOOK.md, docs/ (the pages README links to), examples/ (a config
# per auth mode), dashboards/ (the Grafana dashboard, recording rules and alerts) and
# deploy/systemd/ (the unit, its environment file, a drop-in and a config per auth mode). The
# binaries are the container images' own, taken from the root file systems scripts/image.sh
# leaves in target/image/linux-<arch>/rootfs: one build per architecture serves the image and the
# tarball, and the tarball's binary is the one whose image was run. The version is Cargo.toml's;
# the binary carries this checkout's git revision (`--version`, codearts_repo_exporter_build_info).
# The archives are reproducible given the same binaries: sorted, owned by root, dated at the
# commit. Then scripts/check-release.sh checks them.
#
#   scripts/image.sh --arch amd64,arm64 && scripts/release.sh [--arch amd64,arm64] [--out DIR]
#
# DIR defaults to target/release-artifacts; --arch to the architectures image.sh last built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

arches="$(cat target/image/arches 2>/dev/null || echo amd64,arm64)"
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
echo "release: codearts-repo-exporter $version, revision $revision, for $arches, into $out"

rm -rf "$out"
mkdir -p "$out/.stage"
IFS=, read -r -a arch_list <<<"$arches"
for arch in "${arch_list[@]}"; do
    binary="target/image/linux-$arch/rootfs/usr/local/bin/codearts-repo-exporter"
    [[ -x "$binary" ]] || {
        echo "release: FAILED: no linux/$arch image binary at $binary: run scripts/image.sh --arch $arch first" >&2
        exit 1
    }

    name="codearts-repo-exporter-$version.linux-$arch"
    stage="$out/.stage/$name"
    install -D -m 0755 "$binary" "$stage/codearts-repo-exporter"
    install -m 0644 LICENSE README.md RUNBOOK.md "$stage/"
    install -d -m 0755 "$stage/docs" "$stage/examples" "$stage/dashboards"
    install -m 0644 docs/*.md "$stage/docs/"
    install -m 0644 examples/*.yml "$stage/examples/"
    install -m 0644 dashboards/*.json dashboards/rules.yml dashboards/alerts.yml "$stage/dashboards/"
    install -d -m 0755 "$stage/deploy/systemd"
    install -m 0644 deploy/systemd/* "$stage/deploy/systemd/"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
        -C "$out/.stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
done
rm -rf "$out/.stage"
(cd "$out" && sha256sum -- *.tar.gz >sha256sums.txt)

echo "release: wrote"
(cd "$out" && ls -l -- *)
scripts/check-release.sh --arch "$arches" "$out"
