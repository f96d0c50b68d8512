# syntax=docker/dockerfile:1
#
# codearts-repo-exporter container image, for linux/amd64 and linux/arm64.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t codearts-repo-exporter:0.1.0 .
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t ghcr.io/codearts-repo-exporter/codearts-repo-exporter:0.1.0 --push .
#
# VERSION only labels the image (keep it equal to Cargo.toml's version); REVISION also goes into
# the binary's --version and build_info metric.
#
# With podman or buildah (buildah 1.28, Debian 12's, does not set BUILDPLATFORM by itself; newer
# ones do):
#
#   buildah build --platform linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" -t codearts-repo-exporter:0.1.0 .
#
# CI builds this file unchanged with buildah for both platforms and runs what it built
# (scripts/image.sh), so a change here that breaks the build or the image fails there.
#
# Why glibc + distroless/cc rather than a static musl binary:
#   * reqwest is built with rustls (no OpenSSL), so the binary's only C runtime needs are glibc and
#     libgcc_s (unwinding). distroless/cc-debian12 ships exactly those, from the same Debian 12
#     release as the rust:*-bookworm builder and its cross compilers, so the ABI matches.
#   * musl's allocator is markedly slower under a multi-threaded tokio runtime; avoiding it spares
#     us a custom global allocator just for the container.
#   * The image still has no shell, no package manager and runs as a fixed non-root user.
#
# Why cross-compiling: the two builder stages run on the build machine's own platform
# (--platform=$BUILDPLATFORM) and cargo compiles for TARGETARCH with Debian's cross gcc as the
# linker. Emulating an arm64 builder under QEMU instead would take many times longer.

ARG RUST_VERSION=1

# Stage 1: the workspace's manifests and an empty stub for every target they declare, nothing
# else. The builder compiles the dependencies against this, so the layer holding them changes
# only when a manifest, Cargo.lock, build.rs or the set of targets changes, not on every edit to
# a source. cargo refuses to build against a manifest whose declared targets
# (src/bin/codearts-sim.rs, each crate's lib) are missing, hence the stubs; cargo metadata names
# every one of them (the bench's stub too, which costs nothing). build.rs stays real: it is compiled for the build machine, once for every
# target platform, and a stub of it would only be compiled again.
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS manifests
WORKDIR /build
COPY . .
RUN set -eu; \
    cargo metadata --locked --offline --no-deps --format-version 1 > /tmp/metadata.json; \
    grep -o '"src_path":"[^"]*"' /tmp/metadata.json > /tmp/src_paths; \
    cut -d '"' -f 4 /tmp/src_paths > /tmp/targets; \
    find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name build.rs -delete; \
    while read -r target; do \
        mkdir -p "$(dirname "$target")"; \
        [ -e "$target" ] || printf '#![allow(dead_code)]\nfn main() {}\n' > "$target"; \
    done < /tmp/targets; \
    find . -type d -empty -delete

# Stage 2: the binary, for the platform being built.
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS builder
ARG TARGETPLATFORM
ARG TARGETARCH
WORKDIR /build

# The Rust target and, when it differs from the build machine's, Debian's cross gcc (linker and
# C compiler for ring) and the target's libc. /rust-target names the target for the next steps.
# hadolint ignore=DL3008
RUN set -eu; \
    case "$TARGETARCH" in \
        amd64) arch=x86_64 cross_gcc=gcc-x86-64-linux-gnu ;; \
        arm64) arch=aarch64 cross_gcc=gcc-aarch64-linux-gnu ;; \
        *) echo "TARGETPLATFORM '$TARGETPLATFORM' is not supported: build linux/amd64 or linux/arm64" >&2; exit 1 ;; \
    esac; \
    if [ "$arch" != "$(uname -m)" ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends \
            "$cross_gcc" "libc6-dev-$TARGETARCH-cross"; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    rustup target add "$arch-unknown-linux-gnu"; \
    echo "$arch-unknown-linux-gnu" > /rust-target
# On the build machine's own architecture these are its native gcc, under its Debian name.
ENV CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=x86_64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc

# Dependency layer: every dependency compiled against the stubs.
COPY --from=manifests /build/ ./
RUN set -eu; \
    cargo build --release --locked --target "$(cat /rust-target)" --bin codearts-repo-exporter

# Real sources. COPY keeps the files' original mtimes, which can be older than the stub build
# above; touching them makes sure cargo rebuilds our crates instead of shipping the stub binary.
# build.rs was real already: touching it would only rebuild it.
COPY . .
# The binary reports its git revision from this variable (build.rs; the context has no .git) in
# --version and codearts_repo_exporter_build_info. Declared after the dependency layer so a new
# revision does not invalidate it.
ARG REVISION=unknown
ENV CODEARTS_EXPORTER_REVISION=${REVISION}
RUN set -eu; \
    target="$(cat /rust-target)"; \
    find . -path ./target -prune -o -type f ! -name build.rs -exec touch {} +; \
    cargo build --release --locked --target "$target" --bin codearts-repo-exporter; \
    install -D -m 0755 "target/$target/release/codearts-repo-exporter" /out/codearts-repo-exporter

# Stage 3: the runtime, for the target platform. The :nonroot variant runs as 65532:65532
# already; USER below states it numerically so that Kubernetes' runAsNonRoot check can verify it
# without resolving a user name. --platform=$TARGETPLATFORM is BuildKit's default; buildah 1.28
# (Debian 12's) looks this stage's image up for the platform of the first stage instead (the
# build machine's), so it found no arm64 image, or took the amd64 one of a multi-platform image.
# hadolint ignore=DL3065
FROM --platform=$TARGETPLATFORM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="codearts-repo-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Huawei Cloud CodeArts Repo repository statistics status" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/codearts-repo-exporter/codearts-repo-exporter" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/codearts-repo-exporter /usr/local/bin/codearts-repo-exporter

USER 65532:65532
EXPOSE 9825

# The process writes nothing to disk, so the container runs with a read-only root filesystem.
# Mount the config at /etc/codearts-repo-exporter/config.yml and secrets as files (token_file,
# password_file, access_key_file, secret_key_file); secrets are never command-line flags.
#
# No HEALTHCHECK: it would need a client binary (curl, wget or a shell) inside the image, and
# distroless has none. Orchestrators probe GET /healthz (liveness) and GET /readyz (readiness)
# on port 9825 themselves; see deploy/kubernetes/deployment.yaml.
ENTRYPOINT ["/usr/local/bin/codearts-repo-exporter"]
CMD ["--config.file=/etc/codearts-repo-exporter/config.yml"]
