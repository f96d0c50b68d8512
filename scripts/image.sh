#!/usr/bin/env bash
# Builds the container image from the Dockerfile with buildah, for each asked platform, and
# proves each one runs:
#
# - linux/amd64: the image's own entrypoint, as the image's own user, in a buildah container
#   (`buildah run --isolation chroot`), with `--demo`; /metrics must show every simulated
#   repository, and build_info this checkout's version and revision.
# - linux/arm64: the image's binary under qemu-aarch64, loading the image's own C libraries
#   (its root file system as qemu's -L), the same demo scrape; it must show the same
#   repositories as the amd64 image.
#
# The base images come from scripts/base-images.sh (made once, then reused). Each image's root
# file system is copied to target/image/linux-<arch>/rootfs, where scripts/release.sh takes the
# binaries for the tarballs. The figures (size, user, build time, revision) are printed and
# written to target/image/figures.txt.
#
#   scripts/image.sh [--arch amd64,arm64] [--layers]
#
# --layers keeps every step's layer in the storage, so that a rebuild after a source change
# reuses the dependency layer (as docker does); without it (CI, which starts empty) only the
# images are kept. If rustup refuses the aarch64 target outright (it answers no within a minute),
# linux/arm64 is skipped with a line saying so; any other failure fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

arches=amd64,arm64
layers=false
while (($# > 0)); do
    case "$1" in
        --arch)
            arches=$2
            shift 2
            ;;
        --layers)
            layers=true
            shift
            ;;
        *)
            echo "usage: $0 [--arch amd64,arm64] [--layers]" >&2
            exit 2
            ;;
    esac
done

fail() {
    echo "image: FAILED: $*" >&2
    exit 1
}

IFS=, read -r -a wanted <<<"$arches"
built=()
for arch in "${wanted[@]}"; do
    rust_target "$arch" >/dev/null
    if [[ "$arch" == arm64 ]]; then
        status=0
        add_rust_target aarch64-unknown-linux-gnu || status=$?
        if ((status == 2)); then
            echo "image: linux/arm64: SKIPPED: rustup refused to add aarch64-unknown-linux-gnu (its answer is above): no arm64 image"
            continue
        elif ((status != 0)); then
            fail "could not add the rustup target aarch64-unknown-linux-gnu"
        fi
    fi
    built+=("$arch")
done
((${#built[@]} > 0)) || exit 0

scripts/base-images.sh --arch "$(
    IFS=,
    echo "${built[*]}"
)"

version="$(package_version)"
revision="$(git rev-parse HEAD)"
build_arch="$(dpkg --print-architecture)"
out=target/image
mkdir -p "$out"
: >"$out/figures.txt"
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    echo "image: warning: the work tree has uncommitted changes; the images say revision $revision but hold the changed files" >&2
fi

containers=()
remove_containers() {
    local container
    for container in "${containers[@]}"; do
        project_buildah rm "$container" >/dev/null 2>&1 || true
    done
}
trap remove_containers EXIT

# The value of one field of an image's config, by Go template.
image_field() {
    project_buildah inspect --type image --format "$2" "$1"
}

# Makes $1 a manifest list of the images $2..., replacing whatever had that name.
make_manifest() {
    local name=$1 image
    shift
    project_buildah manifest rm "$name" >/dev/null 2>&1 ||
        project_buildah rmi "$name" >/dev/null 2>&1 || true
    project_buildah manifest create "$name" >/dev/null
    for image in "$@"; do
        project_buildah manifest add "$name" "containers-storage:$image" >/dev/null
    done
}

# The runtime base as a registry serves it: one name, a manifest list of both platforms, from
# which each build must pick its own platform's image (the Dockerfile's FROM
# --platform=$TARGETPLATFORM; without it buildah 1.28 took the amd64 one for an arm64 build, and
# the qemu run below failed on x86_64 libraries).
make_manifest "$RUNTIME_BASE_IMAGE" "${built[@]/#/$RUNTIME_BASE_IMAGE-}"

for arch in "${built[@]}"; do
    image="localhost/codearts-repo-exporter:$version-$arch"
    echo "== image: buildah build --platform linux/$arch -> $image"
    started=$SECONDS
    # buildah 1.28 (Debian 12) does not set BUILDPLATFORM by itself, as BuildKit does; the
    # builder stages' FROM --platform=$BUILDPLATFORM needs it.
    project_buildah build --isolation chroot --pull=never --layers="$layers" \
        --platform "linux/$arch" --build-arg BUILDPLATFORM="linux/$build_arch" \
        --build-arg VERSION="$version" --build-arg REVISION="$revision" \
        --tag "$image" --file Dockerfile . >"$out/build-$arch.log" 2>&1 || {
        tail -n 40 "$out/build-$arch.log" >&2
        fail "linux/$arch: buildah build failed (the whole log: $out/build-$arch.log)"
    }
    build_seconds=$((SECONDS - started))

    # The config every orchestrator reads: the platform, a numeric non-root user (Kubernetes'
    # runAsNonRoot cannot check a name), the entrypoint, the labels.
    user="$(image_field "$image" '{{.OCIv1.Config.User}}')"
    [[ "$(image_field "$image" '{{.OCIv1.OS}}/{{.OCIv1.Architecture}}')" == "linux/$arch" ]] ||
        fail "$image is not a linux/$arch image"
    [[ "$user" == 65532:65532 ]] || fail "$image runs as '$user', not 65532:65532"
    entrypoint="$(image_field "$image" '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}')"
    read -r -a entrypoint <<<"$entrypoint"
    # shellcheck disable=SC2016 # a Go template, not shell
    labels="$(image_field "$image" '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}')"
    for label in "version=$version" "revision=$revision"; do
        grep -qx "org.opencontainers.image.$label" <<<"$labels" || fail "$image has no label org.opencontainers.image.$label"
    done

    container="$(project_buildah from --pull=never "$image")"
    containers+=("$container")
    rootfs="$PWD/$out/linux-$arch/rootfs"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    cp -a "$(project_buildah mount "$container")/." "$rootfs/"
    project_buildah unmount "$container" >/dev/null
    binary="$rootfs${entrypoint[0]}"
    [[ -x "$binary" ]] || fail "$image: its entrypoint ${entrypoint[0]} is not an executable file"

    if [[ "$arch" == "$build_arch" ]]; then
        echo "== image: linux/$arch: its entrypoint, as $user, in a buildah container, with --demo"
        run=("${PROJECT_BUILDAH[@]}" run --isolation chroot --user "$user" "$container" -- "${entrypoint[@]}")
        list=(--write-list "target/ship/demo-repositories.$arch.txt")
    elif [[ "$arch" == arm64 ]]; then
        ensure_arm64_tools
        echo "== image: linux/$arch: its binary under qemu-aarch64, with the image's own libraries, with --demo"
        run=(qemu-aarch64 -L "$rootfs" "$binary")
        list=()
        [[ -f "target/ship/demo-repositories.$build_arch.txt" ]] &&
            list=(--same-as "target/ship/demo-repositories.$build_arch.txt")
    else
        fail "linux/$arch cannot run on this $build_arch machine"
    fi
    version_line="$("${run[@]}" --version)" || fail "$image: --version failed"
    [[ "$version_line" == *"$version"*"$revision"* ]] ||
        fail "$image: --version says '$version_line', without version $version and revision $revision"
    scrape="$(python3 scripts/demo_scrape.py --timeout 120 --expect-version "$version" \
        --expect-revision "$revision" "${list[@]}" -- "${run[@]}")" || fail "$image: the --demo scrape failed (above)"
    echo "$scrape"

    size="$(project_buildah images --format '{{.Size}}' "$image")"
    figures="linux/$arch: $size, user $user, built in $build_seconds s, build_info revision=\"$revision\" version=\"$version\""
    echo "image: $figures"
    echo "$figures" >>"$out/figures.txt"
done

# The platforms built, for scripts/release.sh.
(
    IFS=,
    echo "${built[*]}"
) >"$out/arches"

# What a registry would get: one name for both platforms.
make_manifest "localhost/codearts-repo-exporter:$version" \
    "${built[@]/#/localhost/codearts-repo-exporter:$version-}"
echo "image: localhost/codearts-repo-exporter:$version holds ${built[*]/#/linux/}; figures in $out/figures.txt"
