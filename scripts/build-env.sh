# shellcheck shell=bash
# Sourced by release.sh and arm64-smoke.sh: how this project builds its release binaries, in one
# place.
#
# The environment and the cargo command are the Dockerfile builder stage's, byte for byte (its
# ENV lines and its `cargo build`), and so is REVISION: cargo fingerprints the linker settings
# and the revision, so these builds and the image replay in CI (which shares target/) compile
# each crate once, not once each. Only the release builds get this environment: given to the
# debug builds of the tests, the linker settings would make cargo rebuild all of those.
RELEASE_ENV=(
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
)

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

# Builds the exporter for one Rust target with the git revision baked in; prints nothing on
# stdout but the binary's path.
build_release() {
    local target=$1
    env "${RELEASE_ENV[@]}" CODEARTS_EXPORTER_REVISION="$(git rev-parse HEAD)" \
        cargo build --release --locked --target "$target" --bin codearts-repo-exporter >&2
    echo "target/$target/release/codearts-repo-exporter"
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

# What cross-building and running an arm64 binary here needs: Debian's cross gcc (linker, and C
# compiler for ring), the arm64 C library, and qemu-user.
ensure_arm64_tools() {
    ensure_debian_packages \
        aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu \
        /usr/aarch64-linux-gnu/lib/libc.so.6 libc6-dev-arm64-cross
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
