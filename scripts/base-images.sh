#!/usr/bin/env bash
# Makes the base images the Dockerfile's FROM lines name, in the project's own buildah storage
# (target/buildah), for machines that cannot pull them from a registry:
#
#   docker.io/library/rust:1-bookworm           (linux/amd64: the builder stages run natively)
#   gcr.io/distroless/cc-debian12:nonroot-<arch> (linux/amd64 and linux/arm64; scripts/image.sh
#                                                lists both as :nonroot, as the registry does)
#
# rust:1-bookworm is `debootstrap --variant=minbase bookworm` plus gcc and libc6-dev (the linker
# and the C compiler ring needs, which the official image has), this machine's Rust toolchain laid
# out as the official image lays it out (RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo,
# cargo on PATH) with the aarch64 standard library added, and this machine's CA bundle
# ($SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt), which cargo inside the build needs to
# reach the crate registry.
#
# distroless/cc-debian12:nonroot is what the real one holds and the exporter needs: glibc and
# libgcc_s from Debian 12 (amd64: the rust image's own packages; arm64: Debian's
# libc6-arm64-cross and libgcc-s1-arm64-cross, moved to the paths the arm64 loader searches), the
# CA bundle, /etc/passwd and /etc/group with root, nobody and nonroot (65532), /home/nonroot and
# /tmp, and the config of the :nonroot tag: user 65532:65532, working directory /home/nonroot.
#
#   scripts/base-images.sh [--arch amd64,arm64] [--rebuild]
#
# An image already in the storage is kept (print `buildah images` to see them); --rebuild makes
# them again. Needs root, buildah, debootstrap and, for arm64, the cross packages (installed with
# apt-get when missing). DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR override Debian's mirrors (default: deb.debian.org).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/build-env.sh
source scripts/build-env.sh

arches=amd64,arm64
rebuild=false
while (($# > 0)); do
    case "$1" in
        --arch)
            arches=$2
            shift 2
            ;;
        --rebuild)
            rebuild=true
            shift
            ;;
        *)
            echo "usage: $0 [--arch amd64,arm64] [--rebuild]" >&2
            exit 2
            ;;
    esac
done

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s "$ca_bundle" ]] || {
    echo "base-images: no CA bundle at $ca_bundle (set SSL_CERT_FILE)" >&2
    exit 1
}
ensure_debian_packages buildah buildah debootstrap debootstrap
work="$PWD/target/buildah/work"
mkdir -p "$work"

# Working containers are removed on the way out, whatever happens; a committed one is gone already.
containers=()
remove_containers() {
    local container
    for container in "${containers[@]}"; do
        project_buildah rm "$container" >/dev/null 2>&1 || true
    done
}
trap remove_containers EXIT

has_image() {
    project_buildah images --quiet "$1" >/dev/null 2>&1
}

# The toolchain `rustc` runs here, copied as the official image has it (no docs: the image uses
# rustup's minimal profile), with its default in rustup's settings.
install_rust_toolchain() {
    local rootfs=$1 sysroot name
    sysroot="$(rustc --print sysroot)"
    name="$(basename "$sysroot")"
    add_rust_target aarch64-unknown-linux-gnu || {
        echo "base-images: cannot add the rustup target aarch64-unknown-linux-gnu here; the image could not cross-compile" >&2
        return 1
    }
    mkdir -p "$rootfs/usr/local/rustup/toolchains/$name" "$rootfs/usr/local/cargo/bin"
    tar -C "$sysroot" --exclude=./share/doc -cf - . | tar -C "$rootfs/usr/local/rustup/toolchains/$name" -xf -
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$name" \
        >"$rootfs/usr/local/rustup/settings.toml"
    install -m 0755 "$(command -v rustup)" "$rootfs/usr/local/cargo/bin/rustup"
    local proxy
    for proxy in cargo rustc rustdoc; do
        ln -s rustup "$rootfs/usr/local/cargo/bin/$proxy"
    done
    "$rootfs/usr/local/rustup/toolchains/$name/bin/rustc" --version | cut -d ' ' -f 2
}

make_rust_image() {
    local rootfs="$work/rust-rootfs" started=$SECONDS rust_version container
    rm -rf "$rootfs"
    echo "base-images: debootstrap --variant=minbase bookworm (from $mirror)"
    debootstrap --variant=minbase --include=gcc,libc6-dev bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
        tail -n 30 "$work/debootstrap.log" >&2
        return 1
    }
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
        "$mirror" "$mirror" "$security_mirror" >"$rootfs/etc/apt/sources.list"
    install -D -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    rust_version="$(install_rust_toolchain "$rootfs")"

    container="$(project_buildah from scratch)"
    containers+=("$container")
    tar -C "$rootfs" -cf - . | tar -C "$(project_buildah mount "$container")" -xf -
    project_buildah unmount "$container" >/dev/null
    project_buildah config --os linux --arch amd64 \
        --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env RUST_VERSION="$rust_version" --cmd bash "$container"
    project_buildah commit --quiet --rm "$container" "$RUST_BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    echo "base-images: $RUST_BASE_IMAGE (Rust $rust_version) made in $((SECONDS - started)) s"
}

# Lays out what distroless/cc-debian12:nonroot holds besides the C libraries.
runtime_skeleton() {
    local root=$1
    install -d -m 0755 "$root/etc/ssl/certs" "$root/usr/local/bin"
    install -d -m 1777 "$root/tmp"
    install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
    install -d -m 0700 "$root/root"
    install -m 0644 "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$root/etc/group"
    printf 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n' \
        >"$root/etc/os-release"
}

# amd64: the files of the rust image's own libc6 and libgcc-s1 (the builder's Debian release),
# without their documentation.
copy_amd64_libraries() {
    local root=$1 container source
    container="$(project_buildah from --pull=never "$RUST_BASE_IMAGE")"
    containers+=("$container")
    source="$(project_buildah mount "$container")"
    cat "$source/var/lib/dpkg/info/libc6:amd64.list" "$source/var/lib/dpkg/info/libgcc-s1:amd64.list" |
        grep -v -E '^/(usr/share|usr/libexec|etc|\.$)' | sed 's#^/##' |
        while read -r path; do [[ -d "$source/$path" ]] || echo "$path"; done |
        tar -C "$source" -cf - --files-from=- | tar -C "$root" -xf -
    project_buildah rm "$container" >/dev/null
}

# arm64: Debian's cross packages of the same libraries, at the native arm64 paths
# (/lib/aarch64-linux-gnu, and the loader the binaries name, /lib/ld-linux-aarch64.so.1).
copy_arm64_libraries() {
    local root=$1 file
    ensure_arm64_tools
    install -d "$root/lib/aarch64-linux-gnu"
    for file in $(dpkg -L libc6-arm64-cross libgcc-s1-arm64-cross | grep '^/usr/aarch64-linux-gnu/lib/[^/]*$'); do
        cp -a "$file" "$root/lib/aarch64-linux-gnu/"
    done
    ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
}

make_runtime_image() {
    local arch=$1 started=$SECONDS container root
    container="$(project_buildah from scratch)"
    containers+=("$container")
    root="$(project_buildah mount "$container")"
    runtime_skeleton "$root"
    "copy_${arch}_libraries" "$root"
    project_buildah unmount "$container" >/dev/null
    project_buildah config --os linux --arch "$arch" --user 65532:65532 --workingdir /home/nonroot \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$container"
    project_buildah commit --quiet --rm "$container" "$RUNTIME_BASE_IMAGE-$arch" >/dev/null
    echo "base-images: $RUNTIME_BASE_IMAGE for linux/$arch made in $((SECONDS - started)) s"
}

if [[ "$rebuild" == true ]]; then
    project_buildah rmi --force "$RUST_BASE_IMAGE" "$RUNTIME_BASE_IMAGE-amd64" "$RUNTIME_BASE_IMAGE-arm64" >/dev/null 2>&1 || true
fi

has_image "$RUST_BASE_IMAGE" || make_rust_image
IFS=, read -r -a arch_list <<<"$arches"
for arch in "${arch_list[@]}"; do
    rust_target "$arch" >/dev/null
    if ! has_image "$RUNTIME_BASE_IMAGE-$arch"; then
        make_runtime_image "$arch"
    fi
done
project_buildah images
