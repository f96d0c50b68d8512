# shellcheck shell=bash
# Sourced by the shipping scripts (base-images.sh, image.sh, release.sh, check-release.sh): the
# architectures, the package version, the tools they install, and the project's buildah, in one
# place.

# The Rust target of a Debian/Docker architecture name.
rust_target() {
    case "$1" in
        amd64) echo x86_64-unknown-linux-gnu ;;
        arm64) echo aarch64-unknown-linux-gnu ;;
        *)
            echo "unknown architecture $1: amd64 or arm64" >&2
            return 1
            ;;
    esac
}

# The version in Cargo.toml's [package].
package_version() {
    python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["version"])' \
        "$(git rev-parse --show-toplevel)/Cargo.toml"
}

# Installs the Debian packages that provide the given commands or files, when any is missing.
# Arguments are pairs: a command name or an absolute path, then the package providing it.
ensure_debian_packages() {
    local missing=()
    while (($# >= 2)); do
        if [[ "$1" == /* ]]; then
            [[ -e "$1" ]] || missing+=("$2")
        else
            command -v "$1" >/dev/null 2>&1 || missing+=("$2")
        fi
        shift 2
    done
    ((${#missing[@]} == 0)) && return 0
    echo "== apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What the arm64 image needs here: the arm64 C libraries of Debian's cross packages (its runtime
# base is made from them: glibc and libgcc_s), and qemu-user to run its binary. The cross
# compiler itself is installed inside the image build, as the Dockerfile says.
ensure_arm64_tools() {
    ensure_debian_packages \
        /usr/aarch64-linux-gnu/lib/libc.so.6 libc6-arm64-cross \
        /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 libgcc-s1-arm64-cross
    if ! command -v qemu-aarch64 >/dev/null 2>&1; then
        ensure_debian_packages qemu-aarch64 qemu-user ||
            ensure_debian_packages qemu-aarch64 qemu-user-static
    fi
}

# Adds a rustup target. Returns 0 when it is installed, 2 when rustup refused it outright (it
# answered no within a minute: the caller says so and skips), and 1 on any other failure,
# a time-out included (that is a failure, not a reason to skip).
add_rust_target() {
    local target=$1 started=$SECONDS status=0
    rustup target list --installed 2>/dev/null | grep -x "$target" >/dev/null && return 0
    timeout 900 rustup target add "$target" >&2 || status=$?
    ((status == 0)) && return 0
    if ((status == 124)); then
        echo "rustup target add $target timed out after 900 s" >&2
        return 1
    fi
    ((SECONDS - started < 60)) && return 2
    return 1
}

# The base images the Dockerfile's FROM lines name, as scripts/base-images.sh makes them.
# shellcheck disable=SC2034 # read by the scripts that source this file
RUST_BASE_IMAGE=docker.io/library/rust:1-bookworm
# shellcheck disable=SC2034
RUNTIME_BASE_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# buildah with the project's own storage, under target/buildah: CI caches nothing outside the
# clone, and the machine's own images stay untouched. Overlay storage (copy-on-write layers);
# BUILDAH_STORAGE_DRIVER=vfs where the kernel refuses overlay mounts. Large temporary files
# (layers being committed) go there too, not to /var/tmp.
project_buildah() {
    "${PROJECT_BUILDAH[@]}" "$@"
}
# The same as a command line, for what runs it outside this shell (demo_scrape.py).
buildah_dir="$(git rev-parse --show-toplevel)/target/buildah"
PROJECT_BUILDAH=(env TMPDIR="$buildah_dir/tmp" buildah --root "$buildah_dir/storage"
    --runroot "$buildah_dir/run" --storage-driver "${BUILDAH_STORAGE_DRIVER:-overlay}")
mkdir -p "$buildah_dir/tmp"
