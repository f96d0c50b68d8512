# syntax=docker/dockerfile:1
#
# codearts-repo-exporter container image.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t codearts-repo-exporter:0.1.0 .
#
# VERSION only labels the image (keep it equal to Cargo.toml's version); REVISION also goes into
# the binary's build_info metric.
#
# Why glibc + distroless/cc rather than a static musl binary:
#   * reqwest is built with rustls (no OpenSSL), so the binary's only C runtime needs are glibc and
#     libgcc_s (unwinding). distroless/cc-debian12 ships exactly those, from the same Debian 12
#     release as the rust:*-bookworm builder, so the ABI matches without a cross toolchain.
#   * musl's allocator is markedly slower under a multi-threaded tokio runtime; avoiding it spares
#     us a custom global allocator just for the container.
#   * The image still has no shell, no package manager and runs as a fixed non-root user.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# Dependency layer: compile every dependency against stub sources so that a change to src/
# does not recompile the whole dependency tree. A stub is written for every target path the
# manifest declares (lib, binaries such as codearts-sim, benches), because cargo refuses to load
# a manifest whose declared target files are missing.
COPY Cargo.toml Cargo.lock ./
RUN set -eu; \
    mkdir -p src; \
    printf 'fn main() {}\n' > src/main.rs; \
    touch src/lib.rs; \
    sed -n 's/^path *= *"\([^"]*\.rs\)".*$/\1/p' Cargo.toml > /tmp/targets; \
    while read -r target; do \
        mkdir -p "$(dirname "$target")"; \
        [ -e "$target" ] || printf 'fn main() {}\n' > "$target"; \
    done < /tmp/targets; \
    cargo build --release --locked --bin codearts-repo-exporter; \
    rm -rf src

# Real sources. COPY keeps the files' original mtimes, which can be older than the stub build
# above; touching them makes sure cargo rebuilds our crate instead of shipping the stub binary.
COPY src ./src
# The binary reports its version from Cargo.toml and its git revision from this variable
# (option_env!), in codearts_repo_exporter_build_info. Declared after the dependency layer so a
# new revision does not invalidate it.
ARG REVISION=unknown
ENV CODEARTS_EXPORTER_REVISION=${REVISION}
RUN set -eu; \
    find src -name '*.rs' -exec touch {} +; \
    cargo build --release --locked --bin codearts-repo-exporter; \
    install -D -m 0755 target/release/codearts-repo-exporter /out/codearts-repo-exporter

# The :nonroot variant runs as 65532:65532 already; USER below states it numerically so that
# Kubernetes' runAsNonRoot check can verify it without resolving a user name.
FROM gcr.io/distroless/cc-debian12:nonroot

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
